// The admin protocol of a node process (cmd/cluster/contract.h): one JSON request per line on
// DIR/n<ID>/admin.sock, one JSON answer.
#include <unistd.h>

#include <algorithm>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/node_process/host.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

constexpr uint64_t kPeerReloadIntervalMs = 1000;  // cluster.json re-read for an unknown peer
constexpr uint64_t kStatusLogTailMax = 1000;      // {"cmd":"status","log_tail":N}: N at most

json ids_json(const std::vector<NodeId>& ids) {
  json a = json::array();
  for (NodeId id : ids) a.push_back(id.get());
  return a;
}

json refused(const char* what, const std::optional<Outcome>& out) {
  return {
      {"ok", false},
      {"error", std::string(what) + (out ? to_string(out->refusal) : "no answer from the core")},
      {"leader", out ? out->leader_hint.get() : 0}};
}

// What `raftlab ui` draws besides the status (asked with "log_tail": N): the election timer
// ("election": null for a leader, a frozen timer or a non-voter, which never fire), the last N
// entries' [index, term], and a leader's view of each follower.
void add_status_detail(json& answer, const Core& core, uint32_t tick_ms, uint64_t log_tail) {
  const Status s = core.status();
  const bool timer_runs = s.role != Role::kLeader && !s.timer_frozen && s.voter;
  answer["election"] = timer_runs
                           ? json{{"elapsed_ms", uint64_t{core.election_elapsed_ticks()} * tick_ms},
                                  {"timeout_ms", uint64_t{core.election_timeout_ticks()} * tick_ms}}
                           : json(nullptr);
  json log = json::array();
  const uint64_t tail = std::min(log_tail, kStatusLogTailMax);
  const uint64_t last = s.last_index.get();
  const uint64_t first =
      std::max(core.log().first_index().get(), last >= tail ? last - tail + 1 : 1);
  for (uint64_t i = first; i <= last && tail > 0; ++i) {
    const std::optional<Term> t = core.log().term_at(Index(i));
    if (t) log.push_back({i, t->get()});
  }
  answer["log"] = log;
  json progress = json::object();
  for (const std::vector<NodeId>* members : {&s.membership.voters, &s.membership.learners}) {
    for (NodeId peer : *members) {
      if (const Progress* p = core.progress(peer)) {
        progress[std::to_string(peer.get())] = {
            {"next", p->next.get()}, {"match", p->match.get()}, {"state", to_string(p->state)}};
      }
    }
  }
  answer["progress"] = progress;
}

}  // namespace

std::string Host::on_admin(std::string_view line) {
  json answer;
  try {
    const json request = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded() || !request.is_object()) {
      answer = {{"ok", false}, {"error", "the request is not a JSON object"}};
    } else if (!request.contains("cmd") || !request["cmd"].is_string()) {
      answer = {{"ok", false}, {"error", "the request has no \"cmd\" string"}};
    } else if (shutting_down_) {
      answer = {{"ok", false}, {"error", "the node is shutting down"}};
    } else {
      answer = dispatch_admin(request);
    }
  } catch (const std::exception& e) {
    answer = {{"ok", false}, {"error", e.what()}};
  }
  return answer.dump(-1, ' ', false, json::error_handler_t::replace);
}

json Host::dispatch_admin(const json& request) {
  const std::string cmd = request["cmd"].get<std::string>();
  if (cmd == "status") {
    json answer = admin_status();
    if (request.contains("log_tail") && request["log_tail"].is_number_unsigned()) {
      add_status_detail(answer, *core_, std::max<uint32_t>(1, spec_.timing.tick_ms),
                        request["log_tail"].get<uint64_t>());
    }
    return answer;
  }
  if (cmd == "reload_faults") return admin_reload_faults();
  if (cmd == "held" || cmd.starts_with("hold_")) return admin_hold(cmd, request);
  if (cmd == "snapshot") return admin_snapshot();
  if (cmd == "transfer") return admin_transfer(request);
  if (cmd == "member") return admin_member(request);
  if (cmd == "timers" || cmd == "campaign") return admin_timers(request);
  if (cmd == "shutdown") {
    // Deferred to the next loop turn so this answer is queued before the socket closes.
    uv_timer_start(
        &shutdown_timer_,
        [](uv_timer_t* t) { static_cast<Host*>(t->data)->begin_shutdown("admin shutdown"); }, 0, 0);
    return {{"ok", true}};
  }
  return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
}

json Host::admin_status() {
  const Status s = core_->status();
  json peers = json::array();
  for (NodeId p : transport_->connected_peers()) peers.push_back(p.get());
  const kv::StateMachine& kv = kv_.kv();
  return {{"ok", true},
          {"id", id_.get()},
          {"pid", ::getpid()},
          {"role", role_name(*core_)},
          {"term", s.term.get()},
          {"vote", s.vote.get()},
          {"leader", s.leader.get()},
          {"commit", s.commit.get()},
          {"applied", kv.applied().get()},
          {"last_index", s.last_index.get()},
          {"durable_index", s.durable_index.get()},
          {"snapshot_index", s.snapshot_index.get()},
          {"log_bytes_held", core_->log().payload_bytes_held()},
          {"timers_frozen", s.timer_frozen},
          {"voters", ids_json(s.membership.voters)},
          {"learners", ids_json(s.membership.learners)},
          {"port", transport_->port()},
          {"cluster_id", spec_.cluster_id},
          {"peers_connected", peers},
          {"faults", transport_->faults().describe()},
          {"kv",
           {{"keys", kv.size()},
            {"bytes", kv.data_bytes()},
            {"sessions", kv.sessions()},
            {"pending_writes", pipeline_->pending_writes()},
            {"pending_reads", pipeline_->pending_reads()}}},
          {"counters", admin_counters()}};
}

json Host::admin_counters() {
  const net::TransportCounters& c = transport_->counters();
  const KvService::Counters& k = kv_.counters();
  return {{"frames_bad", c.frames_bad},
          {"messages_bad", c.messages_bad},
          {"hello_refused", c.hello_refused},
          {"queue_dropped", c.queue_dropped},
          {"delay_dropped", c.delay_dropped},
          {"unknown_peer_dropped", c.unknown_peer_dropped},
          {"fault_dropped", c.fault_dropped},
          {"fault_delayed", c.fault_delayed},
          {"messages_sent", c.messages_sent},
          {"messages_received", c.messages_received},
          {"connections_accepted", c.connections_accepted},
          {"connections_refused", c.connections_refused},
          {"hello_timeouts", c.hello_timeouts},
          {"pending_evicted", c.pending_evicted},
          {"peers_replaced", c.peers_replaced},
          {"buffer_evicted", c.buffer_evicted},
          {"clients_connected", c.clients_connected},
          {"connects_failed", c.connects_failed},
          {"syncs", pipeline_->syncs_done()},
          {"entries_applied", pipeline_->entries_applied()},
          {"entries_read_back", pipeline_->entries_read_back()},
          {"client_requests", c.client_requests},
          {"client_writes_ok", k.writes_ok},
          {"client_reads_ok", k.reads_ok},
          {"client_refused", k.refused},
          {"client_unknown", k.unknown},
          {"snapshots_taken", snapshots_taken_},
          {"events_dropped", events_.dropped()}};
}

void Host::refresh_peers(const ClusterSpec& spec) {
  spec_.nodes = spec.nodes;  // ports of nodes added since we started, for client redirects
  for (const NodeSpec& n : spec.nodes) {
    if (n.id != id_) transport_->add_peer(n.id, n.port);
  }
}

// A node added since we started: its port is in cluster.json by now (member add).
void Host::on_unknown_peer() {
  const uint64_t now = uv_now(&loop_);
  if (now - peer_reload_ms_ < kPeerReloadIntervalMs) return;
  peer_reload_ms_ = now;
  try {
    refresh_peers(load_cluster(dir_));
  } catch (const std::exception& e) {
    log(std::string("cannot re-read cluster.json: ") + e.what());
  }
}

json Host::admin_reload_faults() {
  const ClusterSpec spec = load_cluster(dir_);  // LabError: answered as an error
  transport_->set_fault_rules(spec.faults);     // invalid rules throw: nothing changes
  refresh_peers(spec);
  spec_.faults = spec.faults;
  // Hold rules after the fault rules, so messages a released hold lets go meet the rules in
  // force now.
  spec_.holds = spec.holds;
  transport_->set_hold_rules(spec_.holds);
  const std::string rules = transport_->faults().describe();
  events_.emit("faults_applied", {{"rules", rules}});
  log("fault rules: " + (rules.empty() ? std::string("none") : rules));
  return {{"ok", true}, {"faults", rules}};
}

json Host::admin_snapshot() {
  if (!storage_->snapshot_save_in_flight() && kv_.applied() > core_->status().snapshot_index) {
    take_snapshot("admin");
  }
  return {{"ok", true}, {"snapshot_index", core_->status().snapshot_index.get()}};
}

json Host::admin_transfer(const json& request) {
  if (!request.contains("target") || !request["target"].is_number_unsigned()) {
    return {{"ok", false}, {"error", "\"target\" must be a node id"}};
  }
  const std::optional<Outcome> out =
      step(TransferLeader{NodeId(request["target"].get<uint64_t>())});
  if (out && out->accepted) return {{"ok", true}};
  return refused("transfer refused: ", out);
}

json Host::admin_member(const json& request) {
  const std::string op = request.value("op", "");
  if ((op != "add" && op != "remove") || !request.contains("node") ||
      !request["node"].is_number_unsigned()) {
    return {{"ok", false}, {"error", "expected {\"op\": \"add\"|\"remove\", \"node\": ID}"}};
  }
  const NodeId node(request["node"].get<uint64_t>());
  if (op == "add") refresh_peers(load_cluster(dir_));  // the new node's port
  const std::optional<Outcome> out = step(
      ChangeMembership{op == "add" ? MembershipOp::kAddServer : MembershipOp::kRemoveServer, node});
  if (out && out->accepted) return {{"ok", true}, {"index", out->first_index.get()}};
  return refused("membership change refused: ", out);
}

}  // namespace raftlab::lab
