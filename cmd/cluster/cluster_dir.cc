// cluster.json, read and written with nlohmann-json (correct escaping and number handling for
// a file users may edit by hand; writing a parser here would buy nothing).
#include "cmd/cluster/cluster_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cmd/cluster/contract.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

json ids_to_json(const std::set<NodeId>& ids) {
  json out = json::array();
  for (NodeId id : ids) out.push_back(id.get());
  return out;
}

std::set<NodeId> ids_from_json(const json& j) {
  std::set<NodeId> out;
  for (const json& v : j) out.insert(NodeId(v.get<uint64_t>()));
  return out;
}

json faults_to_json(const FaultRules& r) {
  json j = json::object();
  j["partition"] = json::array();
  for (const std::set<NodeId>& group : r.partition) j["partition"].push_back(ids_to_json(group));
  j["cuts"] = json::array();
  for (const auto& [from, to] : r.cuts) j["cuts"].push_back({from.get(), to.get()});
  j["links"] = json::array();
  for (const LinkRule& l : r.links) {
    j["links"].push_back({{"from", ids_to_json(l.from)},
                          {"to", ids_to_json(l.to)},
                          {"loss", l.fault.loss},
                          {"delay_ms", l.fault.delay_ms},
                          {"jitter_ms", l.fault.jitter_ms},
                          {"duplicate", l.fault.duplicate},
                          {"reorder", l.fault.reorder},
                          {"reorder_ms", l.fault.reorder_ms}});
  }
  return j;
}

json holds_to_json(const std::vector<net::HoldRule>& holds) {
  json a = json::array();
  for (const net::HoldRule& h : holds) {
    json types = json::array();
    for (MessageType t : h.types) types.push_back(to_string(t));
    a.push_back({{"from", ids_to_json(h.from)}, {"to", ids_to_json(h.to)}, {"types", types}});
  }
  return a;
}

std::vector<net::HoldRule> holds_from_json(const json& a) {
  std::vector<net::HoldRule> holds;
  for (const json& h : a) {
    net::HoldRule rule;
    rule.from = ids_from_json(h.value("from", json::array()));
    rule.to = ids_from_json(h.value("to", json::array()));
    for (const json& t : h.value("types", json::array())) {
      const std::optional<MessageType> type = net::parse_message_type(t.get<std::string>());
      if (!type) throw std::invalid_argument("unknown message type " + t.dump() + " in holds");
      rule.types.insert(*type);
    }
    holds.push_back(rule);
  }
  return holds;
}

FaultRules faults_from_json(const json& j) {
  FaultRules r;
  for (const json& group : j.value("partition", json::array())) {
    r.partition.push_back(ids_from_json(group));
  }
  for (const json& cut : j.value("cuts", json::array())) {
    r.cuts.insert({NodeId(cut.at(0).get<uint64_t>()), NodeId(cut.at(1).get<uint64_t>())});
  }
  for (const json& l : j.value("links", json::array())) {
    LinkRule rule;
    rule.from = ids_from_json(l.value("from", json::array()));
    rule.to = ids_from_json(l.value("to", json::array()));
    rule.fault.loss = l.value("loss", 0.0);
    rule.fault.delay_ms = l.value("delay_ms", 0u);
    rule.fault.jitter_ms = l.value("jitter_ms", 0u);
    rule.fault.duplicate = l.value("duplicate", 0.0);
    rule.fault.reorder = l.value("reorder", 0.0);
    rule.fault.reorder_ms = l.value("reorder_ms", 0u);
    r.links.push_back(rule);
  }
  return r;
}

void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw LabError(kExitEnvironment, "cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    throw LabError(kExitEnvironment, "cannot fsync " + path + ": " + std::strerror(errno));
}

}  // namespace

const NodeSpec* ClusterSpec::node(NodeId id) const {
  for (const NodeSpec& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

const char* to_string(TraceLevel level) {
  switch (level) {
    case TraceLevel::kOff:
      return "off";
    case TraceLevel::kChanges:
      return "changes";
    case TraceLevel::kAll:
      return "all";
  }
  return "?";
}

std::optional<TraceLevel> parse_trace_level(std::string_view text) {
  for (TraceLevel level : {TraceLevel::kOff, TraceLevel::kChanges, TraceLevel::kAll}) {
    if (text == to_string(level)) return level;
  }
  return std::nullopt;
}

std::string resolve_dir(const std::string& dir_flag) {
  if (!dir_flag.empty()) return dir_flag;
  const char* env = std::getenv(std::string(kDirEnv).c_str());
  if (env != nullptr && *env != '\0') return env;
  return std::string(kDefaultDir);
}

std::string node_dir(const std::string& dir, NodeId id) {
  return dir + "/n" + std::to_string(id.get());
}

std::string cluster_to_json(const ClusterSpec& spec) {
  json j;
  j["version"] = kClusterJsonVersion;
  j["cluster_id"] = spec.cluster_id;
  j["seed"] = spec.seed;
  j["nodes"] = json::array();
  for (const NodeSpec& n : spec.nodes) j["nodes"].push_back({{"id", n.id.get()}, {"port", n.port}});
  j["voters"] = json::array();
  for (NodeId v : spec.voters) j["voters"].push_back(v.get());
  j["timing"] = {{"tick_ms", spec.timing.tick_ms},
                 {"heartbeat_ms", spec.timing.heartbeat_ms},
                 {"election_timeout_min_ms", spec.timing.election_timeout_min_ms},
                 {"election_timeout_max_ms", spec.timing.election_timeout_max_ms}};
  j["fsync"] = spec.fsync;
  j["snapshot_every"] = spec.snapshot_every;
  if (!spec.unsafe.empty()) j["unsafe"] = spec.unsafe;
  j["trace"] = to_string(spec.trace);
  j["protocol"] = protocol_to_json(spec.protocol);
  j["faults"] = faults_to_json(spec.faults);
  if (!spec.holds.empty()) j["faults"]["holds"] = holds_to_json(spec.holds);
  return j.dump(2) + "\n";
}

namespace {

// A whole number from cluster.json within [lo, hi]: a value a user typed by hand must not
// wrap into a valid-looking port or a zero timeout.
uint64_t field_in_range(const json& j, const std::string& key, const std::string& where, int64_t lo,
                        int64_t hi) {
  const json& v = j.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    throw LabError(kExitEnvironment, "cluster.json: " + where + key + " is " + v.dump() +
                                         ", want a whole number in " + std::to_string(lo) + "-" +
                                         std::to_string(hi));
  }
  return static_cast<uint64_t>(v.get<int64_t>());
}

std::vector<NodeSpec> nodes_from_json(const json& j) {
  std::vector<NodeSpec> nodes;
  std::set<NodeId> ids;
  for (size_t k = 0; k < j.size(); ++k) {
    const std::string where = "nodes[" + std::to_string(k) + "].";
    const NodeId id(field_in_range(j[k], "id", where, 1, 4'294'967'295));
    const auto port = static_cast<uint16_t>(field_in_range(j[k], "port", where, 1, 65535));
    if (!ids.insert(id).second) {
      throw LabError(kExitEnvironment, "cluster.json: " + where + "id: node " +
                                           std::to_string(id.get()) + " is listed twice");
    }
    nodes.push_back(NodeSpec{id, port});
  }
  if (nodes.empty()) throw LabError(kExitEnvironment, "cluster.json: nodes is empty");
  return nodes;
}

std::vector<NodeId> voters_from_json(const json& j, const std::vector<NodeSpec>& nodes) {
  std::vector<NodeId> voters;
  for (const json& v : j) {
    if (!v.is_number_unsigned())
      throw LabError(kExitEnvironment, "cluster.json: voters holds " + v.dump());
    const NodeId id(v.get<uint64_t>());
    const bool known =
        std::any_of(nodes.begin(), nodes.end(), [id](const NodeSpec& n) { return n.id == id; });
    if (!known) {
      throw LabError(kExitEnvironment, "cluster.json: voters names node " +
                                           std::to_string(id.get()) +
                                           ", which nodes does not list");
    }
    if (std::find(voters.begin(), voters.end(), id) != voters.end()) {
      throw LabError(kExitEnvironment,
                     "cluster.json: voters names node " + std::to_string(id.get()) + " twice");
    }
    voters.push_back(id);
  }
  return voters;
}

TimingSpec timing_from_json(const json& t) {
  constexpr int64_t kMsMax = 3'600'000;  // an hour: anything longer is a typo
  TimingSpec s;
  const auto get = [&t](const char* key, uint32_t fallback) {
    return t.contains(key) ? static_cast<uint32_t>(field_in_range(t, key, "timing.", 1, kMsMax))
                           : fallback;
  };
  s.tick_ms = get("tick_ms", s.tick_ms);
  s.heartbeat_ms = get("heartbeat_ms", s.heartbeat_ms);
  s.election_timeout_min_ms = get("election_timeout_min_ms", s.election_timeout_min_ms);
  s.election_timeout_max_ms = get("election_timeout_max_ms", s.election_timeout_max_ms);
  if (s.election_timeout_min_ms <= s.heartbeat_ms) {
    throw LabError(kExitEnvironment, "cluster.json: timing.election_timeout_min_ms (" +
                                         std::to_string(s.election_timeout_min_ms) +
                                         ") must be larger than timing.heartbeat_ms (" +
                                         std::to_string(s.heartbeat_ms) + ")");
  }
  if (s.election_timeout_max_ms < s.election_timeout_min_ms) {
    throw LabError(kExitEnvironment,
                   "cluster.json: timing.election_timeout_max_ms is below "
                   "timing.election_timeout_min_ms");
  }
  return s;
}

// Absent (a cluster.json from before the switches), or any key absent: Config's default.
ProtocolSpec protocol_from_json(const json& p) {
  ProtocolSpec s;
  s.pre_vote = p.value("pre_vote", s.pre_vote);
  s.check_quorum = p.value("check_quorum", s.check_quorum);
  s.fast_backup = p.value("fast_backup", s.fast_backup);
  const auto get = [&p](const char* key, uint32_t fallback) {
    return p.contains(key)
               ? static_cast<uint32_t>(field_in_range(p, key, "protocol.", 1, kProtocolLimitMax))
               : fallback;
  };
  s.max_inflight = get("max_inflight", s.max_inflight);
  s.max_batch = get("max_batch", s.max_batch);
  return s;
}

}  // namespace

json protocol_to_json(const ProtocolSpec& p) {
  return {{"pre_vote", p.pre_vote},
          {"check_quorum", p.check_quorum},
          {"fast_backup", p.fast_backup},
          {"max_inflight", p.max_inflight},
          {"max_batch", p.max_batch}};
}

std::string protocol_text(const ProtocolSpec& p) {
  const ProtocolSpec d;
  if (p == d) return "defaults";
  std::string out;
  const auto add = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (p.pre_vote != d.pre_vote) add("no-prevote");
  if (p.check_quorum != d.check_quorum) add("no-check-quorum");
  if (p.fast_backup != d.fast_backup) add("no-fast-backup");
  if (p.max_inflight != d.max_inflight) add("max-inflight " + std::to_string(p.max_inflight));
  if (p.max_batch != d.max_batch) add("max-batch " + std::to_string(p.max_batch));
  return out;
}

ClusterSpec cluster_from_json(const std::string& text) {
  try {
    const json j = json::parse(text);
    if (j.at("version").get<int>() != kClusterJsonVersion) {
      throw LabError(kExitEnvironment,
                     "cluster.json version " + j.at("version").dump() + " is not supported");
    }
    ClusterSpec s;
    s.cluster_id = j.at("cluster_id").get<std::string>();
    s.seed = j.value("seed", uint64_t{1});
    s.nodes = nodes_from_json(j.at("nodes"));
    s.voters = voters_from_json(j.at("voters"), s.nodes);
    s.timing = timing_from_json(j.at("timing"));
    s.fsync = j.value("fsync", true);
    s.snapshot_every = j.value("snapshot_every", uint64_t{0});
    s.unsafe = j.value("unsafe", std::vector<std::string>{});
    // Absent in a cluster.json written before tracing: the default level.
    const std::string trace = j.value("trace", std::string(to_string(TraceLevel::kChanges)));
    const std::optional<TraceLevel> level = parse_trace_level(trace);
    if (!level) {
      throw LabError(kExitEnvironment,
                     "cluster.json: trace is \"" + trace + "\", want off, changes or all");
    }
    s.trace = *level;
    s.protocol = protocol_from_json(j.value("protocol", json::object()));
    s.faults = faults_from_json(j.value("faults", json::object()));
    s.holds = holds_from_json(j.value("faults", json::object()).value("holds", json::array()));
    return s;
  } catch (const LabError&) {
    throw;
  } catch (const std::exception& e) {
    throw LabError(kExitEnvironment, std::string("malformed cluster.json: ") + e.what());
  }
}

ClusterSpec load_cluster(const std::string& dir) {
  const std::string path = dir + "/" + std::string(kClusterJson);
  std::ifstream in(path);
  if (!in)
    throw LabError(kExitEnvironment,
                   "no cluster at " + dir + " (no " + path + "); run `raftlab up`");
  std::stringstream text;
  text << in.rdbuf();
  return cluster_from_json(text.str());
}

// Writes `text` to `path` atomically: a temporary file of our own (two writers never share
// one), fsync, rename, directory fsync.
void write_file_atomic(const std::string& dir, const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw LabError(kExitEnvironment, "cannot write " + tmp);
  }
  fsync_path(tmp, O_RDONLY);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw LabError(kExitEnvironment, "cannot rename " + tmp + ": " + std::strerror(err));
  }
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

void save_cluster(const std::string& dir, const ClusterSpec& spec) {
  write_file_atomic(dir, dir + "/" + std::string(kClusterJson), cluster_to_json(spec));
}

void write_bootstrap(const std::string& node_dir, const std::vector<NodeId>& voters) {
  std::string text;
  for (NodeId v : voters) text += (text.empty() ? "" : ",") + std::to_string(v.get());
  write_file_atomic(node_dir, node_dir + "/" + std::string(kBootstrapFile), text + "\n");
}

std::optional<std::vector<NodeId>> read_bootstrap(const std::string& node_dir) {
  const std::string path = node_dir + "/" + std::string(kBootstrapFile);
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::nullopt;
    throw LabError(kExitEnvironment, "cannot read " + path + ": " + std::strerror(errno));
  }
  std::string line;
  std::getline(in, line);
  std::vector<NodeId> voters;
  std::stringstream parts(line);
  std::string part;
  while (std::getline(parts, part, ',')) {
    char* end = nullptr;
    const unsigned long long id = std::strtoull(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || id == 0) {
      throw LabError(kExitEnvironment,
                     path + " is malformed: '" + line + "' (want voter ids like 1,2,3)");
    }
    voters.push_back(NodeId(id));
  }
  if (voters.empty()) throw LabError(kExitEnvironment, path + " names no voter");
  return voters;
}

}  // namespace raftlab::lab
