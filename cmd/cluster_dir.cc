// cluster.json, read and written with nlohmann-json (correct escaping and number handling for
// a file users may edit by hand; writing a parser here would buy nothing).
#include "cmd/cluster_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cmd/lab_contract.h"

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
  if (fd < 0) throw LabError(4, "cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw LabError(4, "cannot fsync " + path + ": " + std::strerror(errno));
}

}  // namespace

const NodeSpec* ClusterSpec::node(NodeId id) const {
  for (const NodeSpec& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
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
  j["faults"] = faults_to_json(spec.faults);
  return j.dump(2) + "\n";
}

ClusterSpec cluster_from_json(const std::string& text) {
  try {
    const json j = json::parse(text);
    if (j.at("version").get<int>() != kClusterJsonVersion) {
      throw LabError(4, "cluster.json version " + j.at("version").dump() + " is not supported");
    }
    ClusterSpec s;
    s.cluster_id = j.at("cluster_id").get<std::string>();
    s.seed = j.value("seed", uint64_t{1});
    for (const json& n : j.at("nodes")) {
      s.nodes.push_back(NodeSpec{NodeId(n.at("id").get<uint64_t>()), n.at("port").get<uint16_t>()});
    }
    for (const json& v : j.at("voters")) s.voters.push_back(NodeId(v.get<uint64_t>()));
    const json& t = j.at("timing");
    s.timing.tick_ms = t.value("tick_ms", s.timing.tick_ms);
    s.timing.heartbeat_ms = t.value("heartbeat_ms", s.timing.heartbeat_ms);
    s.timing.election_timeout_min_ms =
        t.value("election_timeout_min_ms", s.timing.election_timeout_min_ms);
    s.timing.election_timeout_max_ms =
        t.value("election_timeout_max_ms", s.timing.election_timeout_max_ms);
    s.fsync = j.value("fsync", true);
    s.snapshot_every = j.value("snapshot_every", uint64_t{0});
    s.unsafe = j.value("unsafe", std::vector<std::string>{});
    s.faults = faults_from_json(j.value("faults", json::object()));
    return s;
  } catch (const LabError&) {
    throw;
  } catch (const std::exception& e) {
    throw LabError(4, std::string("malformed cluster.json: ") + e.what());
  }
}

ClusterSpec load_cluster(const std::string& dir) {
  const std::string path = dir + "/" + std::string(kClusterJson);
  std::ifstream in(path);
  if (!in) throw LabError(4, "no cluster at " + dir + " (no " + path + "); run `raftlab up`");
  std::stringstream text;
  text << in.rdbuf();
  return cluster_from_json(text.str());
}

void save_cluster(const std::string& dir, const ClusterSpec& spec) {
  const std::string path = dir + "/" + std::string(kClusterJson);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << cluster_to_json(spec);
    out.flush();
    if (!out) throw LabError(4, "cannot write " + tmp);
  }
  fsync_path(tmp, O_RDONLY);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw LabError(4, "cannot rename " + tmp + ": " + std::strerror(errno));
  }
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace raftlab::lab
