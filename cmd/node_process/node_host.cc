// The node host (see node_host.h and host.h): start and stop, the loop, timers and signals.
#include "cmd/node_process/node_host.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "cmd/cluster/contract.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/node_process/event_log.h"
#include "cmd/node_process/host.h"
#include "persist/io.h"

namespace raftlab::lab {
namespace {

// "1,2,3", "-" for none: as the CLI prints id lists (the node process does not link the CLI).
std::string voters_text(const std::vector<NodeId>& ids) {
  std::string out;
  for (NodeId id : ids) out += (out.empty() ? "" : ",") + std::to_string(id.get());
  return out.empty() ? "-" : out;
}

// Test-only: how many bytes of applied commands the log keeps in memory (Config::
// log_payload_bytes_max), so a scenario can make every AppendEntries to a follower behind read
// its entries back from the WAL without writing megabytes first. Read once, logged.
constexpr const char* kLogBytesEnv = "RAFTLAB_TEST_LOG_BYTES";

void apply_test_log_bytes(NodeId id, Config& c) {
  const char* env = std::getenv(kLogBytesEnv);
  if (env == nullptr || *env < '0' || *env > '9') return;
  c.log_payload_bytes_max = std::strtoull(env, nullptr, 10);
  log_line(id, std::string("test-only ") + kLogBytesEnv + ": the log keeps " +
                   std::to_string(c.log_payload_bytes_max) + " bytes of applied commands");
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
  c.trace = spec.trace != TraceLevel::kOff;  // off: the core does not even assemble decisions
  c.pre_vote = spec.protocol.pre_vote;
  c.check_quorum = spec.protocol.check_quorum;
  c.fast_backup = spec.protocol.fast_backup;
  c.inflight_msgs_max = spec.protocol.max_inflight;
  c.entries_per_msg_max = spec.protocol.max_batch;
  apply_test_log_bytes(id, c);
  return c;
}

void close_handle(uv_handle_t* h) {
  // These handles live inside Host, which outlives the loop: nothing to free.
  if (!uv_is_closing(h)) uv_close(h, nullptr);
}

}  // namespace

int Host::run() {
  spec_ = load_cluster(dir_);  // LabError(4) when there is no cluster
  const NodeSpec* me = spec_.node(id_);
  if (me == nullptr) {
    log("node " + std::to_string(id_.get()) + " is not in " + dir_ + "/cluster.json");
    return kExitUsage;
  }
  if (const int code = prepare_node_dir(*me); code != 0) return code;
  if (const int code = open_core(); code != 0) return code;
  if (const int code = open_trace(); code != 0) return code;
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
  if (const int code = start_network(*me); code != 0) return code;
  uv_run(&loop_, UV_RUN_DEFAULT);
  return close_loop();
}

// The node directory: resolved, created, locked, and the working directory.
int Host::prepare_node_dir(const NodeSpec&) {
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
  return 0;
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

// Restart from disk: the WAL and the newest snapshot; the state machine starts from the
// snapshot and the core hands out the entries after it.
int Host::open_core() {
  opened_ = open_storage(id_, node_dir_, spec_.fsync);
  if (!opened_) return kExitEnvironment;
  persist::NodeStorage& storage = *opened_;
  Restored restored = restored_state(id_, storage);
  const Index snapshot_index =
      storage.recovered.snapshot ? storage.recovered.snapshot->index : Index(0);
  if (restored.snapshot) {  // it holds the bytes restored_state moved out of `storage`
    const std::string error = kv_.restore_at_start(restored.snapshot->data.str(), snapshot_index);
    if (!error.empty()) {
      log("refusing to start: the snapshot at index " + std::to_string(snapshot_index.get()) +
          " does not hold a valid KV state: " + error);
      return kExitEnvironment;
    }
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
  note_membership_source();
  core_events_ = std::make_unique<CoreEvents>(events_, *core_, id_);
  WalStorage::Callbacks callbacks;
  callbacks.fatal = [this](const std::string& what) { fatal(what); };
  callbacks.synced = [this](uint64_t durable_seq) { on_synced(durable_seq); };
  callbacks.snapshot_saved = [this](const SnapshotMeta& meta, const std::string& error) {
    on_snapshot_saved(meta, error);
  };
  callbacks.snapshot_written = [this](const SnapshotMeta& meta, uint64_t size,
                                      const std::string& error) {
    on_snapshot_written(meta, size, error);
  };
  storage_ = std::make_unique<WalStorage>(id_, &loop_, std::move(storage.wal), node_dir_,
                                          spec_.fsync, snapshot_index, std::move(callbacks));
  opened_.reset();
  if (spec_.trace != TraceLevel::kOff) {
    trace_ = std::make_unique<TraceWriter>(
        id_, spec_.trace, std::max<uint32_t>(1, spec_.timing.tick_ms),
        [this] { return std::string_view(role_name(*core_)) == "learner"; });
  }
  pipeline_ =
      std::make_unique<Pipeline>(Pipeline::Parts{storage_.get(), this, &kv_, &kv_, trace_.get()},
                                 core_->config().unsafe.release_before_persist);
  return 0;
}

int Host::open_trace() {
  if (trace_ == nullptr || trace_->open(node_dir_)) return 0;
  log("cannot open " + std::string(kTraceFile) + ": " + std::strerror(errno));
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
      voters_text(spec_.voters) + " as the bootstrap, once");
  write_bootstrap(node_dir_, spec_.voters);
  return spec_.voters;
}

void Host::note_membership_source() {
  std::vector<NodeId> mine = core_->membership().voters;
  std::vector<NodeId> listed = spec_.voters;
  std::sort(mine.begin(), mine.end());
  std::sort(listed.begin(), listed.end());
  if (mine == listed) return;
  log("configuration: voters " + voters_text(mine) + " (from this node's own log and snapshots); " +
      "cluster.json's voters " + voters_text(listed) + " are only the bootstrap and are ignored");
}

int Host::start_network(const NodeSpec& me) {
  net::TransportOptions topts;
  topts.cluster_id = spec_.cluster_id;
  topts.self = id_;
  topts.port = me.port;
  for (const NodeSpec& n : spec_.nodes) {
    if (n.id != id_) topts.peers[n.id] = n.port;
  }
  topts.fault_seed = spec_.seed * 7919 + id_.get();
  topts.log_prefix = "node " + std::to_string(id_.get()) + " transport";
  net::Transport::Callbacks callbacks;
  if (trace_ != nullptr) {
    callbacks.on_fault = [this](net::FaultAct act, const Message& m, const std::string& rule,
                                uint32_t delay_ms) { trace_->fault(act, m, rule, delay_ms); };
  }
  callbacks.on_message = [this](Message m) {
    if (shutting_down_) return;
    if (trace_ != nullptr) trace_->received(m);
    step(Receive{std::move(m)});
  };
  callbacks.on_event = [this](std::string_view event, NodeId peer, const std::string& detail) {
    events_.emit(std::string(event), {{"peer", peer.get()}, {"detail", detail}});
  };
  callbacks.on_unknown_peer = [this](NodeId) { on_unknown_peer(); };
  callbacks.on_client_request = [this](uint64_t conn, net::ClientRequest request) {
    if (!shutting_down_) kv_.on_request(conn, std::move(request));
  };
  transport_ = std::make_unique<net::Transport>(&loop_, topts, std::move(callbacks));
  kv_.connect({id_, &loop_, core_.get(), &spec_, transport_.get(), pipeline_.get(), &events_,
               [this](const Input& input) { return step(input); }});
  std::string fault_error;
  try {
    transport_->set_fault_rules(spec_.faults);
  } catch (const std::exception& e) {
    fault_error = e.what();
  }
  attach_hold();  // admin_hold.cc: the hold rules and their trace
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
  start_timers();
  write_pid_file();  // only now: the node listens on both sockets
  announce_start(fault_error);
  return 0;
}

void Host::start_timers() {
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
        h->core_events_->flush_commit(uv_now(&h->loop_), h->kv_.applied());
        if (!h->shutting_down_) h->kv_.expire();
        h->events_.flush();
        if (h->trace_ != nullptr) h->trace_->flush();
      },
      kEventsFlushIntervalMs, kEventsFlushIntervalMs);
  uv_check_init(&loop_, &batch_check_);
  batch_check_.data = this;
  uv_check_start(&batch_check_, [](uv_check_t* c) {
    auto* h = static_cast<Host*>(c->data);
    if (h->shutting_down_) return;
    h->kv_.flush_proposals();
    h->maybe_snapshot();
    if (h->trace_ != nullptr) h->trace_->write_if_due();
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
}

void Host::announce_start(const std::string& fault_error) {
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
}

int Host::close_loop() {
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

void Host::fatal(const std::string& what) {
  log("fatal: " + what);
  events_.emit("crash", {{"error", what}});
  events_.close();
  if (trace_ != nullptr) trace_->close();
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

// Every Input goes through here to the core, and its Ready to the pipeline.
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
    if (trace_ != nullptr) trace_->close();  // what led here is worth keeping
    std::abort();
  }
  std::optional<Outcome> outcome = ready.outcome;
  // events.jsonl: each vote this node grants or refuses, as it answers.
  core_events_->note_votes(ready.messages);
  core_events_->note_votes(ready.messages_after_persist);
  pipeline_->handle(std::move(ready));
  if (storage_->snapshot_files_open() > 1) storage_->retain_snapshots(core_->snapshots_in_use());
  core_events_->note(uv_now(&loop_), kv_.applied());
  return outcome;
}

void Host::persisted(uint64_t persist_id) {
  if (!shutting_down_) step(Persisted{persist_id});
}

// Step 4 of ready.h: what the core says an operator should hear about.
void Host::notice(const Notice& n) {
  log(n.text);
  events_.emit("notice", {{"peer", n.peer.get()}, {"detail", n.text}});
}

void Host::on_synced(uint64_t durable_seq) {
  pipeline_->sync_done(durable_seq);
  if (shutting_down_) finish_shutdown();
}

// Stop accepting, let the sync in flight finish (finish_shutdown runs from its callback),
// sync what is left, close every handle; uv_run then returns and the loop closes.
void Host::begin_shutdown(const std::string& reason) {
  if (shutting_down_) return;
  shutting_down_ = true;
  pipeline_->stop();
  log("shutting down (" + reason + ")");
  events_.emit("shutdown", {{"reason", reason}});
  uv_timer_stop(&tick_timer_);
  transport_->close();
  admin_->close();
  if (!pipeline_->sync_in_flight()) finish_shutdown();
}

void Host::finish_shutdown() {
  if (const std::string error = storage_->final_sync(); !error.empty()) {
    log(error);
    exit_code_ = kExitEnvironment;
  }
  events_.close();
  if (trace_ != nullptr) trace_->close();
  remove_pid_file();
  ::unlink(std::string(kAdminSocket).c_str());  // relative: we run in the node directory
  close_handle(reinterpret_cast<uv_handle_t*>(&tick_timer_));
  close_handle(reinterpret_cast<uv_handle_t*>(&flush_timer_));
  close_handle(reinterpret_cast<uv_handle_t*>(&shutdown_timer_));
  close_handle(reinterpret_cast<uv_handle_t*>(&batch_check_));
  close_handle(reinterpret_cast<uv_handle_t*>(&sigterm_));
  close_handle(reinterpret_cast<uv_handle_t*>(&sigint_));
}

// Removes the pid file only if it is still ours (a newer node may have replaced it).
void Host::remove_pid_file() {
  if (!pid_written_) return;
  const std::string path = node_dir_ + "/" + std::string(kPidFile);
  FILE* f = std::fopen(path.c_str(), "r");
  long pid = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld", &pid) != 1) pid = 0;
    std::fclose(f);
  }
  if (pid == ::getpid()) ::unlink(path.c_str());
}

namespace {

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
