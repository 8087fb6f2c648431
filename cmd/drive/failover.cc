// `raftlab bench --failover N`: the rounds (see failover.h for the method and the gap's parts).
#include "cmd/drive/failover.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "cmd/cluster/clock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/actions.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/ports.h"
#include "cmd/lab/process.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

constexpr uint32_t kReadyPollMs = 50;           // admin status polls while waiting for health
constexpr uint32_t kReadyAdminTimeoutMs = 200;  // per node per poll
constexpr uint64_t kFlowWindowMs = 100;         // "the load is flowing": an ack this recent
constexpr uint32_t kAckPollMs = 1;              // the rounds' thread looks for the first ack
constexpr uint64_t kNsPerMs = 1'000'000;

double ms_between(uint64_t from_ns, uint64_t to_ns) {
  const double ns = static_cast<double>(to_ns) - static_cast<double>(from_ns);
  return std::round(ns / 1000.0) / 1000.0;  // microsecond resolution
}

void sleep_ms(uint32_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Every node answers and names the same leader in the same term, the leader leads, and every
// node has applied what the leader had committed at the previous poll (a node catching up
// trails by more; under load the commit index never stands still for an exact match).
NodeId caught_up_leader(const std::vector<NodeView>& views, uint64_t* prev_commit) {
  NodeId leader;
  uint64_t term = 0;
  uint64_t commit = 0;
  bool ok = !views.empty();
  for (const NodeView& v : views) {
    ok = ok && v.answered && v.leader != 0 && (term == 0 || v.term == term) &&
         (!leader || v.leader == leader.get());
    if (!ok) break;
    term = v.term;
    leader = NodeId(v.leader);
    if (v.id == leader && v.role == "leader") commit = v.commit;
  }
  ok = ok && commit != 0;
  for (const NodeView& v : views) ok = ok && v.applied >= *prev_commit;
  *prev_commit = commit != 0 ? commit : UINT64_MAX;  // no leader's commit read: start again
  return ok ? leader : NodeId();
}

// Waits until the cluster is caught up and the load has flowed through its leader for
// steady_ms. Returns the leader, and in caught_ns when the cluster first was caught up.
NodeId wait_ready(const std::string& dir, const ClusterSpec& spec, const FailoverConfig& config,
                  const FailoverProbe& probe, uint64_t* caught_ns) {
  const uint64_t deadline_ns = monotonic_ns() + config.limit_ms * kNsPerMs;
  uint64_t prev_commit = UINT64_MAX;  // the first poll only sets it
  uint64_t steady_since_ns = 0;
  *caught_ns = 0;
  while (monotonic_ns() < deadline_ns) {  // bounded by limit_ms
    const NodeId leader =
        caught_up_leader(collect_views(dir, spec, false, kReadyAdminTimeoutMs), &prev_commit);
    const uint64_t now = monotonic_ns();
    if (leader && *caught_ns == 0) *caught_ns = now;
    const bool flowing =
        probe.last_ack_ns() + kFlowWindowMs * kNsPerMs >= now && probe.last_ack_node() == leader;
    if (!leader || !flowing) {
      steady_since_ns = 0;
    } else if (steady_since_ns == 0) {
      steady_since_ns = now;
    } else if (now - steady_since_ns >= config.steady_ms * kNsPerMs) {
      return leader;
    }
    sleep_ms(kReadyPollMs);
  }
  throw LabError(kExitTimeout, "failover: the cluster did not catch up with the load flowing in " +
                                   std::to_string(config.limit_ms) + " ms");
}

// A survivor's trace.jsonl size before the kill: its records from the kill on come after it.
struct TraceMark {
  NodeId node;
  uint64_t offset = 0;
};

uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// The `fired` and `role` records of one file from `offset` on.
void read_election_records(const std::string& path, uint64_t offset, std::vector<json>& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;
  in.seekg(static_cast<std::streamoff>(offset));
  std::string line;
  while (std::getline(in, line)) {  // bounded by the file (kTraceFileBytesMax)
    if (line.find("\"ev\":\"fired\"") == std::string::npos &&
        line.find("\"ev\":\"role\"") == std::string::npos) {
      continue;
    }
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
}

std::vector<json> election_records(const std::string& dir, const std::vector<TraceMark>& marks) {
  std::vector<json> out;
  for (const TraceMark& m : marks) {
    const std::string nd = node_dir(dir, m.node);
    if (file_size(nd + "/trace.jsonl") >= m.offset) {
      read_election_records(nd + "/trace.jsonl", m.offset, out);
    } else {  // rotated since the kill: the rest of the old file, then the new one
      read_election_records(nd + "/trace.1.jsonl", m.offset, out);
      read_election_records(nd + "/trace.jsonl", 0, out);
    }
  }
  std::sort(out.begin(), out.end(),
            [](const json& a, const json& b) { return a.value("t", 0ull) < b.value("t", 0ull); });
  return out;
}

// The last record of `node` with role `role` in [from_ns, to_ns]; 0 if none.
uint64_t last_role_at(const std::vector<json>& recs, uint64_t node, const char* role,
                      uint64_t from_ns, uint64_t to_ns) {
  uint64_t at = 0;
  for (const json& r : recs) {
    const uint64_t t = r.value("t", 0ull);
    if (t >= from_ns && t <= to_ns && r.value("n", 0ull) == node && r.value("ev", "") == "role" &&
        r.value("role", "") == role) {
      at = t;
    }
  }
  return at;
}

GapParts gap_parts(const std::vector<json>& recs, uint64_t kill_ns, uint64_t ack_ns) {
  GapParts p;
  uint64_t fired_ns = 0;
  uint64_t leader_ns = 0;
  for (const json& r : recs) {
    const uint64_t t = r.value("t", 0ull);
    if (t < kill_ns) continue;
    if (fired_ns == 0 && r.value("ev", "") == "fired") fired_ns = t;
    if (leader_ns == 0 && r.value("ev", "") == "role" && r.value("role", "") == "leader") {
      leader_ns = t;
      p.new_leader = NodeId(r.value("n", 0ull));
    }
  }
  if (fired_ns != 0) p.detection_ms = ms_between(kill_ns, fired_ns);
  if (leader_ns == 0) return p;
  if (ack_ns != 0) p.client_ms = ms_between(leader_ns, ack_ns);
  const uint64_t cand_ns = last_role_at(recs, p.new_leader.get(), "candidate", kill_ns, leader_ns);
  if (cand_ns == 0) return p;
  p.election_ms = ms_between(cand_ns, leader_ns);
  const uint64_t pre_ns = last_role_at(recs, p.new_leader.get(), "precandidate", kill_ns, cand_ns);
  p.prevote_ms = pre_ns == 0 ? 0.0 : ms_between(pre_ns, cand_ns);  // 0: campaigned without it
  return p;
}

// SIGKILLs the leader, recorded as the CLI's `kill` is. Returns its pid; kill_ns is stamped
// just before the signal, after the survivors' trace marks were taken.
pid_t kill_leader(const std::string& dir, const ClusterSpec& spec, NodeId leader,
                  FailoverProbe& probe, std::vector<TraceMark>* marks, uint64_t* kill_ns) {
  const std::optional<pid_t> pid = live_node_pid(dir, leader);
  if (!pid) {
    throw LabError(kExitEnvironment, "failover: node " + std::to_string(leader.get()) +
                                         " leads but its process is not found");
  }
  marks->clear();
  for (const NodeSpec& n : spec.nodes) {
    if (n.id != leader) marks->push_back({n.id, file_size(node_dir(dir, n.id) + "/trace.jsonl")});
  }
  *kill_ns = monotonic_ns();
  probe.arm(leader, *kill_ns);
  ::kill(*pid, SIGKILL);
  if (!wait_pid_gone(*pid, kStopKillTimeoutMs)) {
    throw LabError(kExitEnvironment, "failover: pid " + std::to_string(*pid) + " outlived SIGKILL");
  }
  record_action(dir, "kill", {leader}, "kill " + std::to_string(leader.get()) + " (SIGKILL)");
  return *pid;
}

std::optional<uint64_t> wait_first_ack(const FailoverProbe& probe, uint64_t kill_ns,
                                       uint64_t limit_ms) {
  const uint64_t deadline_ns = kill_ns + limit_ms * kNsPerMs;
  while (monotonic_ns() < deadline_ns) {  // bounded by limit_ms
    if (const std::optional<uint64_t> t = probe.first_ack_ns()) return t;
    sleep_ms(kAckPollMs);
  }
  return probe.first_ack_ns();
}

void restart_node(const std::string& dir, const ClusterSpec& spec, NodeId id) {
  if (!wait_port_free(spec.node(id)->port)) {
    throw LabError(kExitEnvironment, "failover: port " + std::to_string(spec.node(id)->port) +
                                         " of node " + std::to_string(id.get()) + " is in use");
  }
  start_node(dir, id);
  record_action(dir, "start", {id}, "start " + std::to_string(id.get()));
}

FailoverRound run_round(const std::string& dir, const ClusterSpec& spec,
                        const FailoverConfig& config, FailoverProbe& probe, uint32_t number) {
  FailoverRound r;
  r.round = number;
  uint64_t caught_ns = 0;
  r.killed = wait_ready(dir, spec, config, probe, &caught_ns);
  std::vector<TraceMark> marks;
  uint64_t kill_ns = 0;
  r.killed_pid = kill_leader(dir, spec, r.killed, probe, &marks, &kill_ns);
  const std::optional<uint64_t> ack_ns = wait_first_ack(probe, kill_ns, config.limit_ms);
  if (ack_ns) r.gap_ms = ms_between(kill_ns, *ack_ns);
  restart_node(dir, spec, r.killed);
  FailoverConfig no_steady = config;
  no_steady.steady_ms = 0;  // caught up is enough here; the next round waits for steady load
  wait_ready(dir, spec, no_steady, probe, &caught_ns);
  r.recovered_ms = ms_between(kill_ns, caught_ns);
  r.parts = gap_parts(election_records(dir, marks), kill_ns, ack_ns.value_or(0));
  return r;
}

json opt_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

std::optional<double> other_ms(const FailoverRound& r) {
  const GapParts& p = r.parts;
  if (!r.gap_ms || !p.detection_ms || !p.prevote_ms || !p.election_ms || !p.client_ms) return {};
  const double sum = *p.detection_ms + *p.prevote_ms + *p.election_ms + *p.client_ms;
  return std::round((*r.gap_ms - sum) * 1000.0) / 1000.0 + 0.0;  // + 0.0: never "-0.0"
}

json round_json(const FailoverRound& r) {
  return {{"round", r.round},
          {"killed", r.killed.get()},
          {"killed_pid", r.killed_pid},
          {"gap_ms", opt_json(r.gap_ms)},
          {"detection_ms", opt_json(r.parts.detection_ms)},
          {"prevote_ms", opt_json(r.parts.prevote_ms)},
          {"election_ms", opt_json(r.parts.election_ms)},
          {"client_ms", opt_json(r.parts.client_ms)},
          {"other_ms", opt_json(other_ms(r))},
          {"new_leader", r.parts.new_leader ? json(r.parts.new_leader.get()) : json(nullptr)},
          {"recovered_ms", r.recovered_ms}};
}

std::string ms_text(const json& v) {
  if (v.is_null()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
  return buf;
}

}  // namespace

void FailoverProbe::on_ack(NodeId node, uint64_t t_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  last_ack_ns_ = std::max(last_ack_ns_, t_ns);
  last_ack_node_ = node;
  // The killed node's acks left it before the kill; only a survivor's ack ends the gap.
  if (kill_ns_ != 0 && first_ack_ns_ == 0 && node != killed_ && t_ns >= kill_ns_) {
    first_ack_ns_ = t_ns;
  }
}

void FailoverProbe::arm(NodeId killed, uint64_t kill_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  killed_ = killed;
  kill_ns_ = kill_ns;
  first_ack_ns_ = 0;
}

std::optional<uint64_t> FailoverProbe::first_ack_ns() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (first_ack_ns_ == 0) return std::nullopt;
  return first_ack_ns_;
}

uint64_t FailoverProbe::last_ack_ns() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_ack_ns_;
}

NodeId FailoverProbe::last_ack_node() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_ack_node_;
}

std::vector<FailoverRound> run_failover_rounds(const std::string& dir, const ClusterSpec& spec,
                                               const FailoverConfig& config, FailoverProbe& probe) {
  std::vector<FailoverRound> rounds;
  try {
    for (uint32_t i = 1; i <= config.rounds; ++i) {
      rounds.push_back(run_round(dir, spec, config, probe, i));
      std::cerr << "bench: failover round " << i << ": gap "
                << ms_text(opt_json(rounds.back().gap_ms)) << " ms\n";
    }
  } catch (...) {
    probe.stop = true;
    throw;
  }
  probe.stop = true;
  return rounds;
}

json failover_json(const std::vector<FailoverRound>& rounds) {
  json out = json::array();
  for (const FailoverRound& r : rounds) out.push_back(round_json(r));
  json median = json::object();
  for (const char* key : {"gap_ms", "detection_ms", "prevote_ms", "election_ms", "client_ms",
                          "other_ms", "recovered_ms"}) {
    std::vector<double> v;
    for (const json& r : out) {
      if (!r[key].is_null()) v.push_back(r[key].get<double>());
    }
    std::sort(v.begin(), v.end());
    // The middle value; of an even count, the mean of the two middle ones.
    const double mid = v.empty() ? 0 : (v[(v.size() - 1) / 2] + v[v.size() / 2]) / 2.0;
    median[key] = v.empty() ? json(nullptr) : json(std::round(mid * 1000.0) / 1000.0);
  }
  return {{"rounds", out}, {"median", median}};
}

void print_failover_text(const std::vector<FailoverRound>& rounds) {
  const json doc = failover_json(rounds);
  std::vector<json> lines(doc["rounds"].begin(), doc["rounds"].end());
  json med = doc["median"];
  med["round"] = "median";
  lines.push_back(med);
  for (const json& r : lines) {
    const std::string name =
        r["round"].is_string() ? "median " : "round " + std::to_string(r["round"].get<int>());
    std::printf("%s: gap %s ms = detection %s + prevote %s + election %s + client %s + other %s\n",
                name.c_str(), ms_text(r["gap_ms"]).c_str(), ms_text(r["detection_ms"]).c_str(),
                ms_text(r["prevote_ms"]).c_str(), ms_text(r["election_ms"]).c_str(),
                ms_text(r["client_ms"]).c_str(), ms_text(r["other_ms"]).c_str());
  }
}

}  // namespace raftlab::lab
