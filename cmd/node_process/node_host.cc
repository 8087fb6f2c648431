// The node host (see node_host.h): one libuv loop on one thread.
#include "cmd/node_process/node_host.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/cluster/dir_lock.h"
#include "cmd/lab/lab.h"
#include "cmd/cluster/contract.h"
#include "net/admin_server.h"
#include "net/transport.h"
#include "node/core.h"
#include "node/kv/kv.h"
#include "persist/io.h"
#include "persist/snapshot.h"
#include "persist/wal.h"

namespace raftlab::lab {
namespace {

using nlohmann::json;

constexpr int kExitUsage = 2;
constexpr int kExitEnvironment = 4;
constexpr uint64_t kCommitEventIntervalMs = 100;    // events.jsonl: at most one commit line per
constexpr uint64_t kEventsFlushIntervalMs = 100;    // buffered events reach the file this often
constexpr size_t kEventsFlushBytes = 64u << 10;     // or once this many are buffered
constexpr size_t kEventsBufferBytesMax = 4u << 20;  // beyond this events are dropped and counted
constexpr uint64_t kPeerReloadIntervalMs = 1000;    // cluster.json re-read for an unknown peer
constexpr size_t kProposalBatchMax = 1024;          // client commands in one Propose
constexpr uint64_t kPendingWriteTimeoutMs = 30000;  // then the client hears "unknown"
constexpr uint64_t kPendingReadTimeoutMs = 10000;   // the core times reads out before this
constexpr size_t kPendingRequestsMax = 100000;      // writes and reads awaiting an answer

// events.jsonl: one JSON object per line, buffered so the loop never waits on the disk for
// long (a write to the page cache every 100 ms). Not fsynced: events are for observing, and
// a crash losing the last 100 ms of them loses nothing the cluster depends on.
class EventLog {
 public:
  ~EventLog() { close(); }
  bool open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd_ >= 0;
  }
  void emit(const std::string& event, json fields = json::object()) {
    json line = {{"t_ns", monotonic_ns()}, {"event", event}};
    for (auto& [k, v] : fields.items()) line[k] = v;
    std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace);
    text.push_back('\n');
    if (buffer_.size() + text.size() > kEventsBufferBytesMax) {
      ++dropped_;
      return;
    }
    buffer_ += text;
    if (buffer_.size() >= kEventsFlushBytes) flush();
  }
  void flush() {
    size_t done = 0;
    while (fd_ >= 0 && done < buffer_.size()) {
      const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        dropped_ += 1;  // a full disk must not stop the node; the count tells
        break;
      }
      done += static_cast<size_t>(n);
    }
    buffer_.clear();
  }
  void close() {
    flush();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  uint64_t dropped() const { return dropped_; }

 private:
  int fd_ = -1;
  std::string buffer_;
  uint64_t dropped_ = 0;
};

const char* role_name(const Core& core) {
  if (core.role() == Role::kFollower && !is_voter(core.membership(), core.config().id) &&
      is_member(core.membership(), core.config().id)) {
    return "learner";
  }
  return to_string(core.role());
}

json ids_json(const std::vector<NodeId>& ids) {
  json a = json::array();
  for (NodeId id : ids) a.push_back(id.get());
  return a;
}

Config make_config(const ClusterSpec& spec, NodeId id, std::vector<NodeId> voters) {
  const TimingSpec& t = spec.timing;
  const uint32_t tick_ms = std::max<uint32_t>(1, t.tick_ms);
  Config c;
  c.id = id;
  for (const std::string& name : spec.unsafe) {
    if (!set_unsafe_switch(c.unsafe, name)) {
      throw LabError(kExitUsage, "unknown unsafe switch '" + name + "' in cluster.json");
    }
  }
  c.voters = std::move(voters);  // the bootstrap: the log and snapshots override it (§4.1)
  c.heartbeat_ticks = std::max<uint32_t>(1, t.heartbeat_ms / tick_ms);
  c.election_ticks_min =
      std::max<uint32_t>(c.heartbeat_ticks + 1, t.election_timeout_min_ms / tick_ms);
  c.election_ticks_max =
      std::max<uint32_t>(c.election_ticks_min + 1, t.election_timeout_max_ms / tick_ms);
  // Every node draws its own election jitter: with one seed for all, timeouts would tie.
  c.seed = spec.seed * 1'000'003ull + id.get();
  return c;
}

class Host {
 public:
  Host(std::string dir, NodeId id) : dir_(std::move(dir)), id_(id) {}
  int run();

 private:
  // The Ready pipeline (node_host.h).
  std::optional<Outcome> step(const Input& input);
  void handle(Ready ready);
  void maybe_start_sync();
  void on_sync_done(persist::SyncJob job);
  void release_durable(uint64_t durable_seq);  // sends what waited, steps Persisted
  void note_changes();
  void note_votes(const std::vector<Message>& messages);
  void emit_commit();

  // Admin protocol (cmd/cluster/contract.h).
  std::string on_admin(std::string_view line);
  json admin_status();
  json admin_reload_faults();
  json admin_snapshot();
  json admin_transfer(const json& request);
  json admin_member(const json& request);
  void refresh_peers(const ClusterSpec& spec);

  // The KV service (docs/design.md §8).
  void on_client_request(uint64_t conn, net::ClientRequest request);
  void flush_proposals();  // one Propose for the requests of this loop turn
  void apply(const Ready& ready);
  void answer_write(Index index, const Entry& entry, const kv::Result& result);
  void serve_reads(const Ready& ready);
  void reply(uint64_t conn, net::ClientResponse response);
  net::ClientResponse redirect(uint64_t request_id, net::ClientStatus status,
                               const std::string& error);
  void expire_pending();
  void maybe_snapshot();
  void start_snapshot_save(const Snapshot& snapshot);
  void on_snapshot_saved(const SnapshotMeta& meta, const std::string& error);

  // Startup (run): one owner of the node directory, and where the configuration comes from.
  int lock_node_dir();
  void clamp_commit(Restored& restored, Index snapshot_index);
  std::vector<NodeId> starting_voters(const persist::NodeStorage& storage);
  void note_membership_source();
  // Logs "fatal: WHAT", records it in events.jsonl and exits 4. Every I/O error ends here:
  // nothing unsynced was acknowledged, so stopping loses nothing.
  [[noreturn]] void fatal(const std::string& what);

  void begin_shutdown(const std::string& reason);
  void finish_shutdown();
  void close_handle(uv_handle_t* h);
  void log(const std::string& line) const;
  void write_pid_file();

  struct SyncWork {
    uv_work_t req{};  // req.data points to this
    Host* host = nullptr;
    persist::SyncJob job;
  };

  std::string dir_;       // absolute cluster directory
  std::string node_dir_;  // absolute DIR/n<ID>; also the working directory
  NodeId id_;
  ClusterSpec spec_;

  uv_loop_t loop_{};
  uv_timer_t tick_timer_{};
  uv_timer_t flush_timer_{};
  uv_timer_t shutdown_timer_{};  // runs begin_shutdown outside the admin handler
  uv_check_t batch_check_{};     // after each poll: propose the batch, maybe snapshot
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};

  std::unique_ptr<persist::Wal> wal_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<net::Transport> transport_;
  std::unique_ptr<net::AdminServer> admin_;
  EventLog events_;
  DirLock node_lock_;  // DIR/n<ID>/lock, held for the life of the process

  // Group commit state. Invariant: at most one SyncWork in flight (sync_in_flight_).
  bool sync_in_flight_ = false;
  std::deque<std::pair<uint64_t, uint64_t>> pending_ids_;  // (persist_id, wal seq) not durable
  uint64_t durable_persist_id_ = 0;                        // newest persist id durable
  // messages_after_persist waiting for their persist_id, in persist_id order.
  std::deque<std::pair<uint64_t, std::vector<Message>>> held_;
  uint64_t syncs_done_ = 0;

  // Apply: the KV state machine. applied_index_ == kv_.applied() <= commit.
  kv::StateMachine kv_;
  Index applied_index_;
  uint64_t entries_applied_ = 0;

  // Client requests waiting for an answer. A write waits for its log index to be applied
  // (pending_writes_, by index; the entry must carry the term it was proposed in, else it was
  // overwritten and certainly not applied); a read for its ReadIndex (pending_reads_, by id).
  struct PendingWrite {
    uint64_t conn = 0;
    uint64_t request_id = 0;
    Term term;
    uint64_t since_ms = 0;
  };
  struct PendingRead {
    uint64_t conn = 0;
    uint64_t request_id = 0;
    std::string key;
    uint64_t since_ms = 0;
  };
  struct Proposal {
    uint64_t conn = 0;
    uint64_t request_id = 0;
    Payload command;
  };
  std::map<Index, PendingWrite> pending_writes_;
  std::map<uint64_t, PendingRead> pending_reads_;
  std::vector<Proposal> batch_;  // proposals of this loop turn, proposed in one Propose
  uint64_t next_read_id_ = 1;
  uint64_t client_writes_ok_ = 0;
  uint64_t client_reads_ok_ = 0;
  uint64_t client_refused_ = 0;
  uint64_t client_unknown_ = 0;
  uint64_t snapshots_taken_ = 0;
  // Own snapshots are saved on a worker, one at a time (maybe_snapshot waits for it).
  struct SnapshotWork {
    uv_work_t req{};  // req.data points to this
    Host* host = nullptr;
    std::string dir;
    Snapshot snapshot;
    bool fsync = true;
    std::string error;  // set by the worker
  };
  bool snapshot_save_in_flight_ = false;
  Index durable_snapshot_index_;  // newest snapshot known durable (WAL segments below may go)

  // Last values reported to events.jsonl.
  Role last_role_ = Role::kFollower;
  Term last_term_;
  NodeId last_leader_;
  Index last_commit_;           // newest commit written as an event
  NodeId commit_event_leader_;  // leader when the last commit event was written
  uint64_t commit_event_ms_ = 0;
  uint64_t peer_reload_ms_ = 0;

  bool shutting_down_ = false;
  bool pid_written_ = false;
  int exit_code_ = 0;
};

// Each line is stamped with CLOCK_MONOTONIC seconds: the clock of events.jsonl and histories,
// the same for every node on the machine, so `raftlab logs all` merges them in time order.
void Host::log(const std::string& line) const {
  const uint64_t ns = monotonic_ns();
  std::fprintf(stderr, "[%llu.%06llu] node %llu: %s\n",
               static_cast<unsigned long long>(ns / 1'000'000'000),
               static_cast<unsigned long long>(ns % 1'000'000'000 / 1000),
               static_cast<unsigned long long>(id_.get()), line.c_str());
  std::fflush(stderr);
}

int Host::run() {
  spec_ = load_cluster(dir_);  // LabError(4) when there is no cluster
  const NodeSpec* me = spec_.node(id_);
  if (me == nullptr) {
    log("node " + std::to_string(id_.get()) + " is not in " + dir_ + "/cluster.json");
    return kExitUsage;
  }
  char resolved[PATH_MAX];
  if (::realpath(dir_.c_str(), resolved) == nullptr) {
    log("cannot resolve " + dir_ + ": " + std::strerror(errno));
    return kExitEnvironment;
  }
  dir_ = resolved;
  node_dir_ = node_dir(dir_, id_);
  try {
    persist::make_directory(node_dir_);
  } catch (const std::exception& e) {
    log(e.what());
    return kExitEnvironment;
  }
  if (const int code = lock_node_dir(); code != 0) return code;
  // The admin socket is bound by a path relative to the node directory: sun_path holds 107
  // bytes and a deep --dir would not fit. Everything else uses absolute paths.
  if (::chdir(node_dir_.c_str()) != 0) {
    log("cannot chdir to " + node_dir_ + ": " + std::strerror(errno));
    return kExitEnvironment;
  }

  // Restart from disk: the WAL and the newest snapshot.
  persist::WalOptions wal_options;
  wal_options.fsync = spec_.fsync;
  persist::NodeStorage storage;
  try {
    storage = persist::open_node_storage(node_dir_, wal_options);
  } catch (const persist::CorruptionError& e) {
    // what() already names the file and the offset: say it once.
    log(std::string("refusing to start: corrupt WAL: ") + e.what() +
        " (inspect it with `raftlab log dump " + std::to_string(id_.get()) + "`)");
    return kExitEnvironment;
  } catch (const std::exception& e) {
    log(std::string("refusing to start: cannot open storage: ") + e.what());
    return kExitEnvironment;
  }
  for (const persist::Warning& w : storage.recovered.warnings) log("recovery: " + w.message);
  wal_ = std::move(storage.wal);
  Restored restored;
  restored.hard_state = storage.recovered.hard_state;
  restored.entries = std::move(storage.recovered.entries);
  clamp_commit(restored, storage.recovered.snapshot ? storage.recovered.snapshot->index : Index(0));
  if (storage.recovered.snapshot) {
    // The state machine starts from the snapshot; the core hands out the entries after it.
    const std::string error = kv_.restore(storage.snapshot_data);
    if (!error.empty() || kv_.applied() != storage.recovered.snapshot->index) {
      log("refusing to start: the snapshot at index " +
          std::to_string(storage.recovered.snapshot->index.get()) +
          " does not hold a valid KV state: " +
          (error.empty() ? "it says index " + std::to_string(kv_.applied().get()) : error));
      return kExitEnvironment;
    }
    restored.snapshot = Snapshot{*storage.recovered.snapshot, Payload(storage.snapshot_data)};
    applied_index_ = storage.recovered.snapshot->index;
    durable_snapshot_index_ = storage.recovered.snapshot->index;
  }
  try {
    std::vector<NodeId> voters = starting_voters(storage);
    core_ = std::make_unique<Core>(make_config(spec_, id_, std::move(voters)), std::move(restored));
  } catch (const LabError& e) {
    log(std::string("refusing to start: ") + e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    log(std::string("refusing to start: the stored state is inconsistent: ") + e.what());
    return kExitEnvironment;
  }
  last_term_ = core_->term();
  last_commit_ = core_->commit();
  note_membership_source();

  if (!events_.open(node_dir_ + "/" + std::string(kEventsFile))) {
    log("cannot open events.jsonl: " + std::string(std::strerror(errno)));
    return kExitEnvironment;
  }
  ::signal(SIGPIPE, SIG_IGN);  // a peer that vanished must not kill us mid-write
  // Snapshots are tens of MiB and come and go: a fixed mmap threshold gives every large block
  // back to the system when freed (glibc's sliding threshold would otherwise move them into
  // the heap, where they fragment and stay resident); one arena per thread kind is plenty.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_ARENA_MAX, 2);
  uv_loop_init(&loop_);

  net::TransportOptions topts;
  topts.cluster_id = spec_.cluster_id;
  topts.self = id_;
  topts.port = me->port;
  for (const NodeSpec& n : spec_.nodes) {
    if (n.id != id_) topts.peers[n.id] = n.port;
  }
  topts.fault_seed = spec_.seed * 7919 + id_.get();
  topts.log_prefix = "node " + std::to_string(id_.get()) + " transport";
  net::Transport::Callbacks callbacks;
  callbacks.on_message = [this](Message m) {
    if (!shutting_down_) step(Receive{std::move(m)});
  };
  callbacks.on_event = [this](std::string_view event, NodeId peer, const std::string& detail) {
    events_.emit(std::string(event), {{"peer", peer.get()}, {"detail", detail}});
  };
  callbacks.on_unknown_peer = [this](NodeId) {
    // A node added since we started: its port is in cluster.json by now (member add).
    const uint64_t now = uv_now(&loop_);
    if (now - peer_reload_ms_ < kPeerReloadIntervalMs) return;
    peer_reload_ms_ = now;
    try {
      refresh_peers(load_cluster(dir_));
    } catch (const std::exception& e) {
      log(std::string("cannot re-read cluster.json: ") + e.what());
    }
  };
  callbacks.on_client_request = [this](uint64_t conn, net::ClientRequest request) {
    if (!shutting_down_) on_client_request(conn, std::move(request));
  };
  transport_ = std::make_unique<net::Transport>(&loop_, topts, std::move(callbacks));
  std::string fault_error;
  try {
    transport_->set_fault_rules(spec_.faults);
  } catch (const std::exception& e) {
    fault_error = e.what();
  }
  admin_ = std::make_unique<net::AdminServer>(
      &loop_, kAdminLineBytesMax, [this](std::string_view line) { return on_admin(line); },
      "node " + std::to_string(id_.get()) + " admin");

  std::string error = transport_->start();
  if (error.empty()) error = admin_->start(std::string(kAdminSocket));
  if (!error.empty()) {
    log("refusing to start: " + error);
    transport_->close();
    admin_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);  // runs the close callbacks
    uv_loop_close(&loop_);
    return kExitEnvironment;
  }

  uv_timer_init(&loop_, &tick_timer_);
  tick_timer_.data = this;
  const uint64_t tick_ms = std::max<uint32_t>(1, spec_.timing.tick_ms);
  uv_timer_start(
      &tick_timer_,
      [](uv_timer_t* t) {
        auto* h = static_cast<Host*>(t->data);
        if (!h->shutting_down_) h->step(Tick{});
      },
      tick_ms, tick_ms);
  uv_timer_init(&loop_, &flush_timer_);
  flush_timer_.data = this;
  uv_timer_start(
      &flush_timer_,
      [](uv_timer_t* t) {
        auto* h = static_cast<Host*>(t->data);
        if (h->core_->commit() != h->last_commit_) h->emit_commit();
        if (!h->shutting_down_) h->expire_pending();
        h->events_.flush();
      },
      kEventsFlushIntervalMs, kEventsFlushIntervalMs);
  uv_check_init(&loop_, &batch_check_);
  batch_check_.data = this;
  uv_check_start(&batch_check_, [](uv_check_t* c) {
    auto* h = static_cast<Host*>(c->data);
    if (h->shutting_down_) return;
    h->flush_proposals();
    h->maybe_snapshot();
  });
  uv_timer_init(&loop_, &shutdown_timer_);
  shutdown_timer_.data = this;
  uv_signal_init(&loop_, &sigterm_);
  sigterm_.data = this;
  uv_signal_start(
      &sigterm_,
      [](uv_signal_t* s, int) { static_cast<Host*>(s->data)->begin_shutdown("SIGTERM"); }, SIGTERM);
  uv_signal_init(&loop_, &sigint_);
  sigint_.data = this;
  uv_signal_start(
      &sigint_, [](uv_signal_t* s, int) { static_cast<Host*>(s->data)->begin_shutdown("SIGINT"); },
      SIGINT);

  write_pid_file();  // only now: the node listens on both sockets
  const Status st = core_->status();
  log("started: port " + std::to_string(transport_->port()) + ", cluster " + spec_.cluster_id +
      ", term " + std::to_string(st.term.get()) + ", last index " +
      std::to_string(st.last_index.get()) + ", commit " + std::to_string(st.commit.get()) +
      ", snapshot " + std::to_string(st.snapshot_index.get()));
  events_.emit("started", {{"pid", ::getpid()},
                           {"port", transport_->port()},
                           {"term", st.term.get()},
                           {"last_index", st.last_index.get()},
                           {"commit", st.commit.get()},
                           {"snapshot_index", st.snapshot_index.get()}});
  if (!fault_error.empty()) {
    log("fault rules in cluster.json ignored: " + fault_error);
  } else if (!spec_.faults.empty()) {
    events_.emit("faults_applied", {{"rules", transport_->faults().describe()}});
    log("fault rules: " + transport_->faults().describe());
  }

  uv_run(&loop_, UV_RUN_DEFAULT);

  admin_.reset();
  transport_.reset();
  const int rc = uv_loop_close(&loop_);
  if (rc != 0) {
    log("the loop did not close cleanly: handles are still open");
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          std::fprintf(stderr, "  open handle: %s\n", uv_handle_type_name(uv_handle_get_type(h)));
        },
        nullptr);
    return 1;
  }
  log("stopped");
  return exit_code_;
}

// The commit index is volatile state in Raft (Figure 2): a log whose tail was lost (a torn write,
// a hand truncation) can hold a commit beyond its last entry. Take the last entry then; the
// leader brings the rest (and the lost tail) back.
void Host::clamp_commit(Restored& restored, Index snapshot_index) {
  const Index last = restored.entries.empty() ? snapshot_index : restored.entries.back().index;
  Index& commit = restored.hard_state.commit;
  if (commit <= last) return;
  log("recovery: the stored commit " + std::to_string(commit.get()) +
      " is beyond the log's last index " + std::to_string(last.get()) +
      " (its tail was lost): starting from commit " + std::to_string(last.get()));
  commit = last;
}

int Host::lock_node_dir() {
  pid_t holder = 0;
  const std::string path = node_dir_ + "/" + std::string(kNodeLock);
  try {
    if (node_lock_.acquire(path, 0, &holder)) return 0;
  } catch (const LabError& e) {
    log(std::string("refusing to start: ") + e.what());
    return kExitEnvironment;
  }
  log("refusing to start: " + node_dir_ + " is locked by " +
      (holder > 0 ? "pid " + std::to_string(holder) : "another process") + " (" + path +
      "): another node runs on this directory");
  return kExitEnvironment;
}

// The voters this node starts with (Config::voters). After the first start the configuration
// comes only from the node's own log and snapshots, which override these (thesis §4.1); they
// matter only while the log holds no configuration. cluster.json's "voters" is never read
// here: edited by hand it would make this node count votes in a cluster of its own.
std::vector<NodeId> Host::starting_voters(const persist::NodeStorage& storage) {
  if (auto voters = read_bootstrap(node_dir_)) return *voters;
  const persist::Recovered& r = storage.recovered;
  const bool empty = r.entries.empty() && !r.snapshot && r.hard_state.term == Term(0);
  if (empty) {
    // Added by `member add` or rebuilt after its disk was lost: no vote and no entry to
    // remember, and no say in elections until a leader's log makes it a member.
    log("no bootstrap file and an empty log: starting with no configuration; a leader will "
        "bring it");
    return {};
  }
  // A node directory from before bootstrap files existed: adopt cluster.json's list once.
  log("no bootstrap file beside a non-empty log: adopting cluster.json's voters " +
      ids_text(spec_.voters) + " as the bootstrap, once");
  write_bootstrap(node_dir_, spec_.voters);
  return spec_.voters;
}

void Host::note_membership_source() {
  const Membership& m = core_->membership();
  std::vector<NodeId> mine = m.voters;
  std::vector<NodeId> listed = spec_.voters;
  std::sort(mine.begin(), mine.end());
  std::sort(listed.begin(), listed.end());
  if (mine == listed) return;
  log("configuration: voters " + ids_text(mine) + " (from this node's own log and snapshots); " +
      "cluster.json's voters " + ids_text(listed) + " are only the bootstrap and are ignored");
}

void Host::fatal(const std::string& what) {
  log("fatal: " + what);
  events_.emit("crash", {{"error", what}});
  events_.close();
  std::_Exit(kExitEnvironment);
}

void Host::write_pid_file() {
  const std::string path = node_dir_ + "/" + std::string(kPidFile);
  const std::string tmp = path + ".tmp";
  const std::string text = std::to_string(::getpid()) + "\n";
  // Written whole and renamed, so a reader never sees a half-written pid.
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr || std::fputs(text.c_str(), f) < 0 || std::fclose(f) != 0 ||
      std::rename(tmp.c_str(), path.c_str()) != 0) {
    log("cannot write " + path + ": " + std::strerror(errno));
    return;
  }
  pid_written_ = true;
}

std::optional<Outcome> Host::step(const Input& input) {
  Ready ready;
  try {
    ready = core_->step(input);
  } catch (const std::exception& e) {
    // The core threw: an invariant is broken (a bug, not bad input: the wire decoder already
    // rejected malformed messages). Going on could break safety; stop loudly instead.
    log(std::string("fatal: the Raft core failed: ") + e.what());
    events_.emit("crash", {{"error", e.what()}});
    events_.close();
    std::abort();
  }
  std::optional<Outcome> outcome = ready.outcome;
  handle(std::move(ready));
  return outcome;
}

// The one place a Ready is consumed (ready.h): persist, send, apply.
void Host::handle(Ready ready) {
  // 1. Persist, in the order ready.h gives.
  if (ready.has_writes()) {
    try {
      if (ready.snapshot && !ready.restore_snapshot) {
        // Our own snapshot: the log it covers is still in the WAL, so nothing is lost if it
        // is not durable yet. It is saved on a worker (a large state machine takes a while to
        // write and fsync); the WAL mark and the removal of covered segments wait for it.
        start_snapshot_save(*ready.snapshot);
      } else if (ready.snapshot) {
        // A leader's snapshot replaces our state: synchronous, durable before the WAL mark.
        const SnapshotMeta& meta = ready.snapshot->meta;
        persist::save_snapshot(node_dir_ + "/" + std::string(kSnapDir), meta,
                               ready.snapshot->data.str(), spec_.fsync);
        // The mark also drops stored entries that do not continue the snapshot (the
        // truncate_from of an InstallSnapshot that replaced the whole log).
        wal_->append_snapshot_mark({meta.index, meta.term});
        durable_snapshot_index_ = std::max(durable_snapshot_index_, meta.index);
      } else if (ready.truncate_from &&
                 (ready.entries.empty() || ready.entries.front().index != *ready.truncate_from)) {
        log("truncate_from " + std::to_string(ready.truncate_from->get()) +
            " without a snapshot or entries at it; the next entries truncate instead");
      }
      if (ready.compacted_through) {
        // Only segments wholly below a durable snapshot go (the snapshot was saved above or
        // earlier; Wal removes closed, durable segments only).
        // Never past the newest snapshot that is durable (an own snapshot may be in flight).
        wal_->remove_segments_below(std::min(*ready.compacted_through, durable_snapshot_index_));
      }
      if (ready.hard_state || !ready.entries.empty()) {
        wal_->write(ready.hard_state, ready.entries);
      }
    } catch (const std::exception& e) {
      fatal(std::string("cannot persist: ") + e.what());
    }
    pending_ids_.emplace_back(ready.persist_id, wal_->written_seq());
  }

  note_votes(ready.messages);
  note_votes(ready.messages_after_persist);

  // 2. Send.
  for (const Message& m : ready.messages) transport_->send(m);
  if (!ready.messages_after_persist.empty()) {
    if (ready.persist_id <= durable_persist_id_) {
      for (const Message& m : ready.messages_after_persist) transport_->send(m);
    } else {
      held_.emplace_back(ready.persist_id, std::move(ready.messages_after_persist));
    }
  }

  // 3. Apply, then serve the reads that waited for it.
  apply(ready);
  serve_reads(ready);

  // 4. Log what the core says an operator should hear about (ready.h).
  for (const Notice& n : ready.notices) {
    log(n.text);
    events_.emit("notice", {{"peer", n.peer.get()}, {"detail", n.text}});
  }

  note_changes();
  maybe_start_sync();
}

void Host::maybe_start_sync() {
  if (sync_in_flight_) return;
  if (wal_->written_seq() == wal_->durable_seq()) {
    // A Ready whose writes added no WAL record (a compaction only) is durable already.
    if (!pending_ids_.empty()) release_durable(wal_->durable_seq());
    return;
  }
  auto* work = new SyncWork;
  work->req.data = work;
  work->host = this;
  try {
    // begin_sync writes the buffered records out (and may start a segment): ENOSPC shows here.
    work->job = wal_->begin_sync();
  } catch (const std::exception& e) {
    delete work;
    fatal(std::string("cannot write the WAL: ") + e.what());
  }
  sync_in_flight_ = true;
  uv_queue_work(
      &loop_, &work->req,
      [](uv_work_t* req) { static_cast<SyncWork*>(req->data)->job.run(); },  // worker thread
      [](uv_work_t* req, int) {
        auto* w = static_cast<SyncWork*>(req->data);
        Host* host = w->host;
        persist::SyncJob job = std::move(w->job);
        delete w;
        host->on_sync_done(std::move(job));
      });
}

void Host::on_sync_done(persist::SyncJob job) {
  sync_in_flight_ = false;
  ++syncs_done_;
  uint64_t durable_seq = 0;
  try {
    durable_seq = wal_->finish_sync(std::move(job));
  } catch (const std::exception& e) {
    // A failed fsync is fatal (wal.h): the kernel may have dropped the pages.
    fatal(std::string("sync failed: ") + e.what());
  }
  release_durable(durable_seq);
  if (shutting_down_) {
    finish_shutdown();
    return;
  }
  maybe_start_sync();  // writes issued while this sync ran: the next group
}

void Host::release_durable(uint64_t durable_seq) {
  uint64_t durable_id = durable_persist_id_;
  while (!pending_ids_.empty() && pending_ids_.front().second <= durable_seq) {
    durable_id = std::max(durable_id, pending_ids_.front().first);
    pending_ids_.pop_front();
  }
  if (durable_id > durable_persist_id_) {
    durable_persist_id_ = durable_id;
    // Only now may what waited for these writes leave the process (ready.h step 2).
    while (!held_.empty() && held_.front().first <= durable_id) {
      for (const Message& m : held_.front().second) transport_->send(m);
      held_.pop_front();
    }
    if (!shutting_down_) step(Persisted{durable_id});
  }
}

// events.jsonl: each vote this node grants or refuses (pre-votes too), as it answers, so a
// follower's part in an election is on record beside the candidate's.
void Host::note_votes(const std::vector<Message>& messages) {
  for (const Message& m : messages) {
    if (m.type != MessageType::kRequestVoteResponse && m.type != MessageType::kPreVoteResponse) {
      continue;
    }
    events_.emit("vote", {{"candidate", m.to.get()},
                          {"term", m.term.get()},
                          {"granted", !m.reject},
                          {"prevote", m.type == MessageType::kPreVoteResponse}});
  }
}

void Host::note_changes() {
  const Role role = core_->role();
  const Term term = core_->term();
  const NodeId leader = core_->leader();
  if (term != last_term_) {
    events_.emit("term", {{"term", term.get()}, {"from", last_term_.get()}});
    last_term_ = term;
  }
  if (role != last_role_) {
    events_.emit(
        "role",
        {{"role", role_name(*core_)}, {"from", to_string(last_role_)}, {"term", term.get()}});
    log(std::string("role ") + to_string(last_role_) + " -> " + role_name(*core_) + " in term " +
        std::to_string(term.get()));
    if (role == Role::kLeader) events_.emit("elected", {{"term", term.get()}});
    if (role == Role::kCandidate || role == Role::kPreCandidate) {
      events_.emit("election", {{"term", term.get()}, {"prevote", role == Role::kPreCandidate}});
    }
    last_role_ = role;
  }
  last_leader_ = leader;
  // Commit lines are throttled: at most one per kCommitEventIntervalMs, but a new leader's
  // first commit is always written (the flush timer writes a commit held back).
  if (core_->commit() != last_commit_ &&
      (uv_now(&loop_) - commit_event_ms_ >= kCommitEventIntervalMs ||
       leader != commit_event_leader_)) {
    emit_commit();
  }
}

void Host::emit_commit() {
  last_commit_ = core_->commit();
  commit_event_leader_ = core_->leader();
  commit_event_ms_ = uv_now(&loop_);
  events_.emit("commit", {{"commit", last_commit_.get()},
                          {"applied", applied_index_.get()},
                          {"leader", commit_event_leader_.get()},
                          {"term", core_->term().get()}});
}

// ---------------------------------------------------------------------------------------------
// The KV service.

void Host::reply(uint64_t conn, net::ClientResponse response) {
  switch (response.status) {
    case net::ClientStatus::kNotLeader:
    case net::ClientStatus::kRetry:
    case net::ClientStatus::kInvalid:
      ++client_refused_;
      break;
    case net::ClientStatus::kUnknown:
      ++client_unknown_;
      break;
    default:
      break;
  }
  transport_->send_client(conn, response);  // false: the client left; nothing to do
}

net::ClientResponse Host::redirect(uint64_t request_id, net::ClientStatus status,
                                   const std::string& error) {
  net::ClientResponse r;
  r.request_id = request_id;
  r.status = status;
  r.error = error;
  r.leader = core_->leader();
  if (const NodeSpec* n = r.leader ? spec_.node(r.leader) : nullptr) r.leader_port = n->port;
  return r;
}

void Host::on_client_request(uint64_t conn, net::ClientRequest q) {
  using net::ClientOp;
  using net::ClientStatus;
  if (q.key.size() > kv::kKeyBytesMax || q.value.size() > kv::kValueBytesMax ||
      q.expected.size() > kv::kValueBytesMax) {
    reply(conn, redirect(q.request_id, ClientStatus::kInvalid, "key or value too long"));
    return;
  }
  if (pending_writes_.size() + pending_reads_.size() + batch_.size() >= kPendingRequestsMax) {
    reply(conn, redirect(q.request_id, ClientStatus::kRetry, "too many requests in flight"));
    return;
  }
  if (q.op == ClientOp::kGet) {
    if (q.stale) {
      // This node's applied state, whatever its role: may be behind the cluster.
      net::ClientResponse r;
      r.request_id = q.request_id;
      r.value = kv_.get(q.key);
      r.index = kv_.applied();
      ++client_reads_ok_;
      reply(conn, std::move(r));
      return;
    }
    const uint64_t id = next_read_id_++;
    pending_reads_[id] = PendingRead{conn, q.request_id, std::move(q.key), uv_now(&loop_)};
    step(ReadIndex{id});  // answered in serve_reads, now or once the round is done
    return;
  }
  if (core_->role() != Role::kLeader) {
    reply(conn, redirect(q.request_id, ClientStatus::kNotLeader, "not the leader"));
    return;
  }
  if (q.client == 0 || q.seq == 0) {
    reply(conn, redirect(q.request_id, ClientStatus::kInvalid, "a write needs a client and seq"));
    return;
  }
  kv::Command c;
  c.op = static_cast<kv::Op>(q.op);  // ClientOp's write values are kv::Op's
  c.client = q.client;
  c.seq = q.seq;
  c.key = std::move(q.key);
  c.value = std::move(q.value);
  c.expected = std::move(q.expected);
  batch_.push_back(Proposal{conn, q.request_id, Payload(kv::encode(c))});
  if (batch_.size() >= kProposalBatchMax) flush_proposals();
}

void Host::flush_proposals() {
  if (batch_.empty()) return;
  std::vector<Proposal> batch;
  batch.swap(batch_);
  std::vector<Payload> commands;
  commands.reserve(batch.size());
  for (const Proposal& p : batch) commands.push_back(p.command);
  const std::optional<Outcome> out = step(Propose(std::move(commands)));
  if (out && out->accepted) {
    const uint64_t now = uv_now(&loop_);
    for (size_t i = 0; i < batch.size(); ++i) {
      pending_writes_[out->first_index + i] =
          PendingWrite{batch[i].conn, batch[i].request_id, out->term, now};
    }
    return;
  }
  const Refusal why = out ? out->refusal : Refusal::kNotLeader;
  for (const Proposal& p : batch) {
    reply(p.conn, redirect(p.request_id,
                           why == Refusal::kNotLeader ? net::ClientStatus::kNotLeader
                                                      : net::ClientStatus::kRetry,
                           to_string(why)));
  }
}

void Host::apply(const Ready& ready) {
  if (ready.restore_snapshot && ready.snapshot) {
    const std::string error = kv_.restore(ready.snapshot->data.str());
    if (!error.empty() || kv_.applied() != ready.snapshot->meta.index) {
      // A snapshot the leader sent that does not decode: continuing would diverge.
      log("fatal: cannot restore the snapshot at index " +
          std::to_string(ready.snapshot->meta.index.get()) + ": " + error);
      events_.emit("crash", {{"error", "bad snapshot: " + error}});
      events_.close();
      std::abort();
    }
    applied_index_ = kv_.applied();
    // Writes at or below the snapshot may or may not be in it: their outcome is unknown here.
    while (!pending_writes_.empty() && pending_writes_.begin()->first <= applied_index_) {
      const PendingWrite w = pending_writes_.begin()->second;
      pending_writes_.erase(pending_writes_.begin());
      net::ClientResponse r = redirect(w.request_id, net::ClientStatus::kUnknown,
                                       "replaced by a snapshot before its outcome was known");
      reply(w.conn, std::move(r));
    }
  }
  for (const Entry& e : ready.committed) {
    if (e.index <= kv_.applied()) continue;  // covered by a restored snapshot
    if (e.type == EntryType::kNormal) {
      const kv::Result result = kv_.apply(e.index, e.data.str());
      answer_write(e.index, e, result);
    } else {
      kv_.skip(e.index);
      answer_write(e.index, e, kv::Result{kv::Status::kInvalid, std::nullopt});
    }
    applied_index_ = e.index;
    ++entries_applied_;
  }
}

void Host::answer_write(Index index, const Entry& entry, const kv::Result& result) {
  auto it = pending_writes_.find(index);
  if (it == pending_writes_.end()) return;
  const PendingWrite w = it->second;
  pending_writes_.erase(it);
  net::ClientResponse r;
  r.request_id = w.request_id;
  r.index = index;
  if (entry.term != w.term || entry.type != EntryType::kNormal) {
    // Another leader's entry took the index: ours was overwritten and can never commit.
    r = redirect(w.request_id, net::ClientStatus::kRetry,
                 "the proposal was overwritten by a newer leader");
    reply(w.conn, std::move(r));
    return;
  }
  switch (result.status) {
    case kv::Status::kOk:
      r.status = net::ClientStatus::kOk;
      ++client_writes_ok_;
      break;
    case kv::Status::kCasMismatch:
      r.status = net::ClientStatus::kCasMismatch;
      break;
    case kv::Status::kSessionExpired:
      r.status = net::ClientStatus::kUnknown;
      r.error = "session expired: an earlier try may have applied";
      break;
    case kv::Status::kStaleSeq:
      r.status = net::ClientStatus::kUnknown;
      r.error = "stale seq: the session has moved on";
      break;
    case kv::Status::kInvalid:
      r.status = net::ClientStatus::kInvalid;
      r.error = "malformed command";
      break;
  }
  r.value = result.value;
  reply(w.conn, std::move(r));
}

void Host::serve_reads(const Ready& ready) {
  for (const ReadState& rs : ready.reads) {
    auto it = pending_reads_.find(rs.id);
    if (it == pending_reads_.end()) continue;
    net::ClientResponse r;
    r.request_id = it->second.request_id;
    r.value = kv_.get(it->second.key);  // kv_ has applied rs.index (ready.h step 3)
    r.index = rs.index;
    ++client_reads_ok_;
    reply(it->second.conn, std::move(r));
    pending_reads_.erase(it);
  }
  for (const ReadFailure& f : ready.reads_failed) {
    auto it = pending_reads_.find(f.id);
    if (it == pending_reads_.end()) continue;
    net::ClientResponse r =
        redirect(it->second.request_id,
                 f.refusal == Refusal::kNotLeader ? net::ClientStatus::kNotLeader
                                                  : net::ClientStatus::kRetry,
                 to_string(f.refusal));
    if (f.leader_hint) {
      r.leader = f.leader_hint;
      if (const NodeSpec* n = spec_.node(f.leader_hint)) r.leader_port = n->port;
    }
    reply(it->second.conn, std::move(r));
    pending_reads_.erase(it);
  }
}

void Host::expire_pending() {
  const uint64_t now = uv_now(&loop_);
  for (auto it = pending_writes_.begin(); it != pending_writes_.end();) {
    if (now - it->second.since_ms < kPendingWriteTimeoutMs) {
      ++it;
      continue;
    }
    reply(it->second.conn, redirect(it->second.request_id, net::ClientStatus::kUnknown,
                                    "not applied within the node's bound; it may still be"));
    it = pending_writes_.erase(it);
  }
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (now - it->second.since_ms < kPendingReadTimeoutMs) {
      ++it;
      continue;
    }
    reply(it->second.conn,
          redirect(it->second.request_id, net::ClientStatus::kRetry, "read not served in time"));
    it = pending_reads_.erase(it);
  }
}

void Host::start_snapshot_save(const Snapshot& snapshot) {
  auto* work = new SnapshotWork;
  work->req.data = work;
  work->host = this;
  work->dir = node_dir_ + "/" + std::string(kSnapDir);
  work->snapshot = snapshot;  // shares the bytes with the core
  work->fsync = spec_.fsync;
  snapshot_save_in_flight_ = true;
  uv_queue_work(
      &loop_, &work->req,
      [](uv_work_t* req) {  // worker thread: touches only the work item
        auto* w = static_cast<SnapshotWork*>(req->data);
        try {
          persist::save_snapshot(w->dir, w->snapshot.meta, w->snapshot.data.str(), w->fsync);
        } catch (const std::exception& e) {
          w->error = e.what();
        }
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<SnapshotWork> w(static_cast<SnapshotWork*>(req->data));
        w->host->on_snapshot_saved(w->snapshot.meta, w->error);
      });
}

void Host::on_snapshot_saved(const SnapshotMeta& meta, const std::string& error) {
  snapshot_save_in_flight_ = false;
  if (shutting_down_) return;  // the final sync is done; the WAL still covers everything
  if (!error.empty()) {
    // The WAL still holds everything: log it, take the next snapshot later.
    log("snapshot at index " + std::to_string(meta.index.get()) + " not saved: " + error);
    events_.emit("snapshot_failed", {{"index", meta.index.get()}, {"error", error}});
    return;
  }
  if (meta.index <= durable_snapshot_index_) return;  // a leader's newer snapshot came first
  try {
    wal_->append_snapshot_mark({meta.index, meta.term});
    durable_snapshot_index_ = meta.index;
    wal_->remove_segments_below(std::min(meta.index, core_->log().first_index() - 1));
  } catch (const std::exception& e) {
    fatal(std::string("cannot persist: ") + e.what());
  }
  if (!shutting_down_) maybe_start_sync();
}

void Host::maybe_snapshot() {
  if (spec_.snapshot_every == 0 || snapshot_save_in_flight_) return;
  const Index snapshot_index = core_->snapshot() ? core_->snapshot()->meta.index : Index(0);
  if (kv_.applied() <= snapshot_index || kv_.applied() - snapshot_index < spec_.snapshot_every) {
    return;
  }
  step(SnapshotTaken{kv_.applied(), Payload(kv_.snapshot())});
  ++snapshots_taken_;
  events_.emit("snapshot", {{"index", core_->status().snapshot_index.get()}, {"by", "auto"}});
}

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
      const std::string cmd = request["cmd"].get<std::string>();
      if (cmd == "status") {
        answer = admin_status();
      } else if (cmd == "reload_faults") {
        answer = admin_reload_faults();
      } else if (cmd == "snapshot") {
        answer = admin_snapshot();
      } else if (cmd == "transfer") {
        answer = admin_transfer(request);
      } else if (cmd == "member") {
        answer = admin_member(request);
      } else if (cmd == "shutdown") {
        // Deferred to the next loop turn so this answer is queued before the socket closes.
        uv_timer_start(
            &shutdown_timer_,
            [](uv_timer_t* t) { static_cast<Host*>(t->data)->begin_shutdown("admin shutdown"); }, 0,
            0);
        answer = {{"ok", true}};
      } else {
        answer = {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
      }
    }
  } catch (const std::exception& e) {
    answer = {{"ok", false}, {"error", e.what()}};
  }
  return answer.dump(-1, ' ', false, json::error_handler_t::replace);
}

json Host::admin_status() {
  const Status s = core_->status();
  const net::TransportCounters& c = transport_->counters();
  json peers = json::array();
  for (NodeId p : transport_->connected_peers()) peers.push_back(p.get());
  return {{"ok", true},
          {"id", id_.get()},
          {"pid", ::getpid()},
          {"role", role_name(*core_)},
          {"term", s.term.get()},
          {"vote", s.vote.get()},
          {"leader", s.leader.get()},
          {"commit", s.commit.get()},
          {"applied", applied_index_.get()},
          {"last_index", s.last_index.get()},
          {"durable_index", s.durable_index.get()},
          {"snapshot_index", s.snapshot_index.get()},
          {"voters", ids_json(s.membership.voters)},
          {"learners", ids_json(s.membership.learners)},
          {"port", transport_->port()},
          {"cluster_id", spec_.cluster_id},
          {"peers_connected", peers},
          {"faults", transport_->faults().describe()},
          {"kv",
           {{"keys", kv_.size()},
            {"bytes", kv_.data_bytes()},
            {"sessions", kv_.sessions()},
            {"pending_writes", pending_writes_.size()},
            {"pending_reads", pending_reads_.size()}}},
          {"counters",
           {{"frames_bad", c.frames_bad},
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
            {"syncs", syncs_done_},
            {"entries_applied", entries_applied_},
            {"client_requests", c.client_requests},
            {"client_writes_ok", client_writes_ok_},
            {"client_reads_ok", client_reads_ok_},
            {"client_refused", client_refused_},
            {"client_unknown", client_unknown_},
            {"snapshots_taken", snapshots_taken_},
            {"events_dropped", events_.dropped()}}}};
}

void Host::refresh_peers(const ClusterSpec& spec) {
  spec_.nodes = spec.nodes;  // ports of nodes added since we started, for client redirects
  for (const NodeSpec& n : spec.nodes) {
    if (n.id != id_) transport_->add_peer(n.id, n.port);
  }
}

json Host::admin_reload_faults() {
  const ClusterSpec spec = load_cluster(dir_);  // LabError: answered as an error
  transport_->set_fault_rules(spec.faults);     // invalid rules throw: nothing changes
  refresh_peers(spec);
  spec_.faults = spec.faults;
  const std::string rules = transport_->faults().describe();
  events_.emit("faults_applied", {{"rules", rules}});
  log("fault rules: " + (rules.empty() ? std::string("none") : rules));
  return {{"ok", true}, {"faults", rules}};
}

json Host::admin_snapshot() {
  // The core takes a snapshot at an index it has handed out to apply (the host applied it in
  // the same Ready) and not yet snapshotted; kv_ is exactly there.
  if (!snapshot_save_in_flight_ && kv_.applied() > core_->status().snapshot_index) {
    step(SnapshotTaken{kv_.applied(), Payload(kv_.snapshot())});
    ++snapshots_taken_;
    events_.emit("snapshot", {{"index", core_->status().snapshot_index.get()}, {"by", "admin"}});
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
  return {{"ok", false},
          {"error", std::string("transfer refused: ") +
                        (out ? to_string(out->refusal) : "no answer from the core")},
          {"leader", out ? out->leader_hint.get() : 0}};
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
  return {{"ok", false},
          {"error", std::string("membership change refused: ") +
                        (out ? to_string(out->refusal) : "no answer from the core")},
          {"leader", out ? out->leader_hint.get() : 0}};
}

// Stop accepting, let the sync in flight finish (finish_shutdown runs from its callback),
// sync what is left, close every handle; uv_run then returns and the loop closes.
void Host::begin_shutdown(const std::string& reason) {
  if (shutting_down_) return;
  shutting_down_ = true;
  log("shutting down (" + reason + ")");
  events_.emit("shutdown", {{"reason", reason}});
  uv_timer_stop(&tick_timer_);
  transport_->close();
  admin_->close();
  if (!sync_in_flight_) finish_shutdown();
}

void Host::finish_shutdown() {
  try {
    if (wal_->written_seq() > wal_->durable_seq()) wal_->sync();
  } catch (const std::exception& e) {
    log(std::string("final sync failed: ") + e.what());
    exit_code_ = kExitEnvironment;
  }
  events_.close();
  if (pid_written_) {
    // Remove the pid file only if it is still ours (a newer node may have replaced it).
    const std::string path = node_dir_ + "/" + std::string(kPidFile);
    FILE* f = std::fopen(path.c_str(), "r");
    long pid = 0;
    if (f != nullptr) {
      if (std::fscanf(f, "%ld", &pid) != 1) pid = 0;
      std::fclose(f);
    }
    if (pid == ::getpid()) ::unlink(path.c_str());
  }
  ::unlink(std::string(kAdminSocket).c_str());  // relative: we run in the node directory
  close_handle(reinterpret_cast<uv_handle_t*>(&tick_timer_));
  close_handle(reinterpret_cast<uv_handle_t*>(&flush_timer_));
  close_handle(reinterpret_cast<uv_handle_t*>(&shutdown_timer_));
  close_handle(reinterpret_cast<uv_handle_t*>(&batch_check_));
  close_handle(reinterpret_cast<uv_handle_t*>(&sigterm_));
  close_handle(reinterpret_cast<uv_handle_t*>(&sigint_));
}

void Host::close_handle(uv_handle_t* h) {
  // These handles live inside Host, which outlives the loop: nothing to free.
  if (!uv_is_closing(h)) uv_close(h, nullptr);
}

// The last net under every thread: an exception that escaped (a libuv callback, a worker) would
// otherwise abort with "terminate called after throwing". It is an error the code did not
// expect, most likely I/O (a full disk): say so on the node's log and exit 4 like any fatal
// error. Nothing unsynced was acknowledged, so nothing acknowledged is lost.
uint64_t terminate_node_id = 0;  // set once, before the loop starts

[[noreturn]] void on_terminate() {
  std::string what = "an unknown exception";
  if (const std::exception_ptr ep = std::current_exception()) {
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  }
  std::fprintf(stderr, "node %llu: fatal: uncaught error: %s\n",
               static_cast<unsigned long long>(terminate_node_id), what.c_str());
  std::fflush(stderr);
  std::_Exit(kExitEnvironment);
}

}  // namespace

int run_node_host(const NodeHostOptions& options) {
  terminate_node_id = options.id.get();
  std::set_terminate(on_terminate);
  Host host(options.dir, options.id);
  return host.run();
}

}  // namespace raftlab::lab
