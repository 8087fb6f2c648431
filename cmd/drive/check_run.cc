// `raftlab check` (docs/cli.md, "Test and measure"): a Jepsen-style run against the cluster in
// DIR, or the check of a history file from anywhere.
//
//   raftlab check [--clients 5] [--duration 30s] [--keys 5] [--nemesis all] ...
//       Runs --clients logical clients (processes) on --keys keys while the nemesis
//       (cmd/drive/nemesis.h) injects faults, records the history (docs/history-format.md) to
//       --record (default DIR/check-<seed>.jsonl), heals, lets the cluster converge, keeps the
//       clients running for
//       --after-heal so the history shows the cluster serving again, then checks it.
//   raftlab check --history FILE [--html OUT.html [--dir DIR]] [--json]
//       Checks FILE (cmd/checker/check_file.h). Exit 0 linearizable, 1 not, 2 malformed, 3 unknown.
//       The page draws the lanes of DIR's nodes (cmd/checker/cluster_lanes.h) when --dir is
//       given; a run's page draws those of the cluster it ran against.
//
// The original contract used --history both for the file a run writes and for the file to check; a
// flag that means two things depending on the others is a trap in scripts, so a run records to
// --record and --history always means "check this file".
//
// The clients. Each process has its own KvClient (so each finds the leader on its own, as
// separate client machines would) and KV session, and one operation at a time: get (sent to a
// random node: any node serves linearizable reads, which also exercises follower reads), put
// and append with values unique in the whole run, cas from a value it read, and delete. An
// operation that ends unknown is recorded `info` and the process continues under a fresh
// process id and session (Jepsen's rule: the old one may still have an operation in flight).
// Client events are written from the client loop thread and nemesis events from the nemesis
// thread, through one mutex; each line's time is taken under it, so the file is in time order.
//
// Unknown outcomes in every run. A client retries a request under the same sequence number
// until its operation timeout, so at the default 2 s nearly every operation ends definite and
// the checker's hardest path (operations that may or may not have taken effect) would go
// untested by the lab's own runs. So --short-clients of the processes run with the short
// --short-timeout: any fault that holds a request longer than that leaves it `info`.
//
// Fresh data in every run. Keys and values carry a run id, drawn at random, so a run never
// reads what an earlier run on the same cluster wrote (the checker assumes every key starts
// absent; a key reused from an earlier run would read that run's values and fail the check).
// Sessions are fresh too, whatever --seed says: the KV client draws session ids from the OS
// (net/kv_client.h), because the cluster remembers sessions across runs, and a rerun with the
// same seed once reopened the first run's sessions and had its writes answered "ok" unapplied.
#include <uv.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "cmd/checker/check_file.h"
#include "cmd/checker/history.h"
#include "cmd/cluster/clock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/drive/nemesis.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/command.h"
#include "cmd/lab/kv.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/process.h"
#include "cmd/verbs.h"

namespace raftlab::lab {
namespace {

constexpr uint64_t kLeaderWaitMs = 10000;       // before the run: a leader must be agreed
constexpr uint64_t kConvergeTimeoutMs = 30000;  // after the heal
constexpr size_t kOpsMax = 2'000'000;           // a bound on the history, whatever the duration
// Each key serves this many operations, then a fresh key takes its place (Jepsen's independent
// keys): appended values stay short, so reads and the history stay small, and the checker
// gets many small keys instead of a few huge ones. --keys keys are in use at any time.
constexpr uint64_t kOpsPerKey = 300;
// The default share of clients with the short operation timeout, in fifths: 2 of the default
// 5 clients. Measured in default 30 s runs under --nemesis all: 1 client at 100 ms recorded
// 0.5-1% info operations, 2 at 100 ms 0.7-0.8%, 2 at 30 ms 0.6-1.2%, 2 at 20 ms 0.4%, 2 at
// 15 ms (the default) 2.6%. The share swings with the faults a seed draws.
constexpr uint32_t kShortClientsFifths = 2;

constexpr const char* kCheckHelp =
    "Run clients under faults and check linearizability, or check a history file. A run "
    "uses --keys keys at a time and retires each after 300 operations for a fresh one (so "
    "a run reports more keys than --keys: small keys keep the check fast); every key and "
    "value carries the run's id, so runs on one cluster never see each other. A cas that "
    "finds another value is a normal failure (fail), not an error";

struct CheckOptions {
  std::string dir;
  std::string history;  // check this file (no run)
  std::string record;   // a run writes its history here
  std::string html;
  bool json = false;
  uint32_t clients = 5;
  std::string duration = "30s";
  uint32_t keys = 5;
  std::string nemesis = "all";
  std::string nemesis_interval = "3s";
  std::string after_heal = "3s";
  std::string op_timeout = "2s";
  std::optional<uint32_t> short_clients;  // default: kShortClientsFifths in 5, at least one
  std::string short_timeout = "15ms";
  std::string check_timeout = "60s";
  std::optional<uint64_t> check_memory;  // bytes; default: check::default_memory_limit_bytes()
  std::optional<uint64_t> seed;
  bool run_flags = false;  // a run flag was given (refused with --history)
};

// The history file, shared by the client loop thread and the nemesis thread.
class Recorder {
 public:
  explicit Recorder(const std::string& path) : writer_(path) {}
  void client(check::ClientEvent e) {
    std::lock_guard<std::mutex> lock(mu_);
    e.time = stamp(0);
    writer_.write(e);
  }
  void nemesis(const std::string& f, const std::string& value, uint64_t time_ns) {
    std::lock_guard<std::mutex> lock(mu_);
    // Measured before the lock: never earlier than a line already written.
    writer_.write_nemesis(f, value, stamp(time_ns));
    ++nemesis_events_;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    writer_.close();
  }
  size_t nemesis_events() const { return nemesis_events_; }

 private:
  int64_t stamp(uint64_t at_least) {
    last_ = std::max({last_, monotonic_ns(), at_least});
    return static_cast<int64_t>(last_);
  }
  std::mutex mu_;
  check::HistoryWriter writer_;
  uint64_t last_ = 0;
  size_t nemesis_events_ = 0;
};

struct Counts {
  uint64_t ok = 0;
  uint64_t fail = 0;
  uint64_t info = 0;
};

// The clients, on one libuv loop in their own thread.
class Workload {
 public:
  Workload(const ClusterSpec& spec, const CheckOptions& o, uint64_t seed, std::string run_id,
           Recorder& recorder)
      : spec_(spec), o_(o), rng_(seed), run_id_(std::move(run_id)), recorder_(recorder) {
    op_timeout_ms_ = *parse_duration_ms(o.op_timeout);
    short_timeout_ms_ = std::min(op_timeout_ms_, *parse_duration_ms(o.short_timeout));
    short_clients_ = std::min(o.clients, short_clients(o));
    for (uint32_t k = 0; k < o.keys; ++k) keys_.push_back(Key{key_name(k), 0});
    next_key_ = o.keys;
    for (const NodeSpec& n : spec.nodes) nodes_.push_back(n.id);
  }

  void run() {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_async_, [](uv_async_t* a) {
      static_cast<Workload*>(a->data)->stopping_ = true;
      static_cast<Workload*>(a->data)->maybe_close();
    });
    stop_async_.data = this;
    for (uint32_t i = 0; i < o_.clients; ++i) {
      auto slot = std::make_unique<Slot>();
      const uint64_t timeout_ms = i < short_clients_ ? short_timeout_ms_ : op_timeout_ms_;
      slot->client =
          std::make_unique<net::KvClient>(&loop_, kv_client_options(spec_, timeout_ms, rng_()));
      slot->process = next_process_++;
      slot->session = slot->client->new_session();
      slots_.push_back(std::move(slot));
    }
    for (auto& s : slots_) issue(s.get());
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  /// From any thread: stop issuing; the loop ends once every operation in flight has ended.
  void stop() { uv_async_send(&stop_async_); }

  const std::map<std::string, Counts>& counts() const { return counts_; }
  uint32_t short_clients_in_use() const { return short_clients_; }
  uint64_t short_timeout_ms() const { return short_timeout_ms_; }

  /// --short-clients, or its default.
  static uint32_t short_clients(const CheckOptions& o) {
    if (o.short_clients) return *o.short_clients;
    return std::max<uint32_t>(1, o.clients * kShortClientsFifths / 5);
  }
  /// From any thread: count the operations that succeed from t_ns on.
  void mark(uint64_t t_ns) {
    mark_ns_ = t_ns;
    ok_after_count_ = 0;
  }
  uint64_t ok_after_mark() const { return ok_after_count_; }

 private:
  struct Slot {
    std::unique_ptr<net::KvClient> client;
    uint64_t process = 0;
    uint64_t session = 0;
    bool busy = false;
    std::map<std::string, std::optional<std::string>> last_read;  // for cas
  };

  void maybe_close() {
    if (!stopping_) return;
    for (auto& s : slots_) {
      if (s->busy) return;
    }
    if (closed_) return;
    closed_ = true;
    for (auto& s : slots_) s->client->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
  }

  void issue(Slot* s) {
    if (stopping_ || ops_ >= kOpsMax) {
      maybe_close();
      return;
    }
    ++ops_;
    Key& slot_key = keys_[rng_() % keys_.size()];
    if (++slot_key.ops > kOpsPerKey) slot_key = Key{key_name(next_key_++), 1};
    check::ClientEvent invoke;
    invoke.process = s->process;
    invoke.type = check::EventType::kInvoke;
    const net::KvOp op = choose_op(s, slot_key.name, &invoke.f);
    // The event's views must outlive the write: keep the strings in the operation.
    auto held = std::make_shared<net::KvOp>(op);
    invoke.key = held->key;
    if (op.op == net::ClientOp::kPut || op.op == net::ClientOp::kAppend ||
        op.op == net::ClientOp::kCas) {
      invoke.value = held->value;
    }
    if (op.op == net::ClientOp::kCas) invoke.expected = held->expected;
    s->busy = true;
    recorder_.client(invoke);
    const check::Fn f = invoke.f;
    s->client->submit(s->session, op, [this, s, held, f](const net::OpResult& r) {
      complete(s, *held, f, r);
      issue(s);
    });
  }

  // The mix: 45% get (from a random node), 25% put, 20% append, 7% cas of the value this
  // process last read (when it read one), the rest delete. Every written value is unique.
  net::KvOp choose_op(Slot* s, const std::string& key, check::Fn* f) {
    const uint64_t dice = rng_() % 100;
    net::KvOp op;
    op.key = key;
    std::string value =
        "(" + run_id_ + ":" + std::to_string(s->process) + ":" + std::to_string(++unique_) + ")";
    auto known = s->last_read.find(key);
    if (dice < 45) {
      op.op = net::ClientOp::kGet;
      op.node = nodes_[rng_() % nodes_.size()];
      *f = check::Fn::kGet;
    } else if (dice < 70) {
      op.op = net::ClientOp::kPut;
      op.value = value;
      *f = check::Fn::kPut;
    } else if (dice < 90) {
      op.op = net::ClientOp::kAppend;
      op.value = value;
      *f = check::Fn::kAppend;
    } else if (dice < 97 && known != s->last_read.end() && known->second) {
      op.op = net::ClientOp::kCas;
      op.expected = *known->second;
      op.value = value;
      *f = check::Fn::kCas;
    } else {
      op.op = net::ClientOp::kDelete;
      *f = check::Fn::kDelete;
    }
    return op;
  }

  // Records the completion of `op` and counts it; a fresh process after an unknown outcome.
  void complete(Slot* s, const net::KvOp& op, check::Fn f, const net::OpResult& r) {
    s->busy = false;
    check::ClientEvent done;
    done.process = s->process;
    done.f = f;
    done.key = op.key;
    Counts& c = counts_[check::to_string(f)];
    if (r.outcome == net::OpOutcome::kOk) {
      done.type = check::EventType::kOk;
      if (f == check::Fn::kGet) {
        done.value = r.value ? std::optional<std::string_view>(*r.value) : std::nullopt;
        s->last_read[op.key] = r.value;
      }
      ++c.ok;
      if (monotonic_ns() >= mark_ns_ && mark_ns_ != 0) ++ok_after_count_;
    } else if (r.outcome == net::OpOutcome::kFail) {
      done.type = check::EventType::kFail;
      ++c.fail;
    } else {
      done.type = check::EventType::kInfo;
      ++c.info;
    }
    recorder_.client(done);
    if (r.outcome == net::OpOutcome::kUnknown) {
      // Jepsen's rule: a fresh process (and session) after an unknown outcome.
      s->process = next_process_++;
      s->session = s->client->new_session();
    }
  }

  std::string key_name(uint64_t n) const { return run_id_ + "-k" + std::to_string(n); }

  const ClusterSpec& spec_;
  const CheckOptions& o_;
  std::mt19937_64 rng_;
  std::string run_id_;  // in every key and value (see the file comment)
  Recorder& recorder_;
  uint64_t op_timeout_ms_ = 2000;
  uint64_t short_timeout_ms_ = 100;
  uint32_t short_clients_ = 0;  // slots 0 .. short_clients_-1 use short_timeout_ms_
  struct Key {
    std::string name;
    uint64_t ops = 0;  // operations issued on it
  };
  std::vector<Key> keys_;  // the keys in use
  uint64_t next_key_ = 0;
  std::vector<NodeId> nodes_;
  uv_loop_t loop_{};
  uv_async_t stop_async_{};
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<bool> stopping_{false};
  bool closed_ = false;
  uint64_t next_process_ = 0;
  uint64_t unique_ = 0;
  size_t ops_ = 0;
  std::map<std::string, Counts> counts_;
  std::atomic<uint64_t> mark_ns_{0};
  std::atomic<uint64_t> ok_after_count_{0};
};

// Waits (bounded) until a majority agrees on a leader.
bool wait_for_leader(const std::string& dir, const ClusterSpec& spec, uint64_t timeout_ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    if (agreed_leader(spec, collect_views(dir, spec))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// `lanes_dir`: the cluster whose nodes' lanes the HTML page draws ("" for none).
int check_file(const CheckOptions& o, const std::string& path, const std::string& lanes_dir) {
  check::CheckFileOptions f;
  f.history_path = path;
  f.html_path = o.html;
  f.lanes_dir = lanes_dir;
  f.json = o.json;
  f.time_limit_ms = *parse_duration_ms(o.check_timeout);
  f.memory_limit_bytes = o.check_memory ? *o.check_memory : check::default_memory_limit_bytes();
  return check::check_history_file(f);
}

// A run id no earlier run drew (see the file comment): 32 random bits and the wall clock's
// seconds, in hex.
std::string new_run_id() {
  const uint64_t now_s = static_cast<uint64_t>(std::time(nullptr));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08x%04x", std::random_device{}(),
                static_cast<unsigned>(now_s & 0xffff));
  return buf;
}

void print_counts(const Workload& workload, const Nemesis& nemesis, double run_s) {
  std::cerr << "check: ran " << static_cast<int>(run_s) << " s; faults injected "
            << nemesis.injected() << "; operations (ok/fail/info):";
  uint64_t total = 0;
  uint64_t info = 0;
  for (const auto& [f, c] : workload.counts()) {
    std::cerr << " " << f << " " << c.ok << "/" << c.fail << "/" << c.info;
    total += c.ok + c.fail + c.info;
    info += c.info;
  }
  char share[32];
  std::snprintf(share, sizeof share, "%.2f%%",
                total == 0 ? 0.0 : 100.0 * static_cast<double>(info) / static_cast<double>(total));
  std::cerr << "; info " << share << "; ok after the heal: " << workload.ok_after_mark() << "\n";
}

int run_check(const CheckOptions& o) {
  if (!o.history.empty()) {
    if (o.run_flags) {
      throw LabError(kExitUsage,
                     "--history checks an existing file; a run records its history to --record");
    }
    // The lanes only from a cluster named with --dir: $RAFTLAB_DIR may be any cluster.
    return check_file(o, o.history, o.dir.empty() ? "" : absolute_dir(o.dir));
  }
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  if (o.clients == 0 || o.keys == 0)
    throw LabError(kExitUsage, "--clients and --keys must be >= 1");
  const std::vector<FaultKind> kinds = parse_nemesis_kinds(o.nemesis);  // LabError(2)
  const uint64_t seed = o.seed ? *o.seed : std::random_device{}() % 1'000'000;
  const uint64_t duration_ms = *parse_duration_ms(o.duration);
  const uint64_t after_heal_ms = *parse_duration_ms(o.after_heal);
  if (!wait_for_leader(dir, spec, kLeaderWaitMs)) {
    throw LabError(kExitEnvironment, "no leader agreed within " +
                                         std::to_string(kLeaderWaitMs / 1000) +
                                         " s: start the cluster with `raftlab up`");
  }
  const std::string record =
      o.record.empty() ? dir + "/check-" + std::to_string(seed) + ".jsonl" : o.record;
  const std::string run_id = new_run_id();
  std::cerr << "check: " << o.clients << " clients (" << Workload::short_clients(o)
            << " with the short timeout " << o.short_timeout << "), " << o.keys << " keys, "
            << o.duration << ", nemesis " << (kinds.empty() ? std::string("none") : o.nemesis)
            << " every " << o.nemesis_interval << ", seed " << seed << ", run " << run_id
            << "; history: " << record << "\n";

  Recorder recorder(record);  // HistoryFileError: reported by run_command (exit 4 below)
  Workload workload(spec, o, seed, run_id, recorder);
  NemesisOptions nopt;
  nopt.dir = dir;
  nopt.kinds = kinds;
  nopt.interval_ms = *parse_duration_ms(o.nemesis_interval);
  nopt.seed = seed;
  Nemesis nemesis(nopt, [&recorder](const NemesisEvent& e) {
    recorder.nemesis(e.f, e.value, e.time_ns);
    std::cerr << "check: nemesis " << e.f << " " << e.value << "\n";
  });

  const auto t0 = std::chrono::steady_clock::now();
  std::thread clients([&workload] { workload.run(); });
  if (!kinds.empty()) nemesis.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(duration_ms));
  std::string why;
  const bool converged = nemesis.stop_and_heal(kConvergeTimeoutMs, &why);
  workload.mark(monotonic_ns());
  std::this_thread::sleep_for(std::chrono::milliseconds(after_heal_ms));
  workload.stop();
  clients.join();
  recorder.close();
  const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  print_counts(workload, nemesis, run_s);
  const int verdict = check_file(o, record, dir);
  if (!converged) {
    std::cerr << "check: the cluster did not converge after the heal: " << why << "\n";
    return verdict == 0 ? 1 : verdict;
  }
  if (workload.ok_after_mark() == 0) {
    std::cerr << "check: no operation succeeded in the " << o.after_heal
              << " after the heal: the cluster is not serving\n";
    return verdict == 0 ? 1 : verdict;
  }
  return verdict;
}

}  // namespace

void setup_check(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* cmd = add_verb(app, "check", kCheckHelp, o->dir);
  cmd->add_option("--history", o->history,
                  "Check this history file (format: docs/history-format.md); no run");
  cmd->add_option("--html", o->html,
                  "Also write an HTML timeline of the history here, with the lanes (roles, "
                  "terms) of the cluster's nodes: the cluster run against, or with --history "
                  "the one named by --dir");
  cmd->add_flag("--json", o->json, "Print the checker's report as one JSON document");
  cmd->add_option("--check-timeout", o->check_timeout,
                  "Bound on the checker; beyond it the verdict is UNKNOWN, exit 3 (default 60s)")
      ->check(duration_validator());
  cmd->add_option("--check-memory", o->check_memory,
                  "Bound on the checker's memory, e.g. 4GiB; beyond it UNKNOWN, exit 3 (default: "
                  "half the available memory)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::PositiveNumber);
  std::vector<CLI::Option*> run_flags = {
      cmd->add_option("--record", o->record,
                      "A run writes its history here (default DIR/check-SEED.jsonl)"),
      cmd->add_option("--clients", o->clients, "Concurrent client processes (default 5)"),
      cmd->add_option("--duration", o->duration, "How long faults are injected (default 30s)")
          ->check(duration_validator()),
      cmd->add_option("--keys", o->keys,
                      "Keys in use at a time (default 5); each is retired after 300 operations"),
      cmd->add_option("--nemesis", o->nemesis,
                      "Faults: all, none, or a list of partition, ring, bridge, isolate-leader, "
                      "cut, kill, pause, loss, delay, transfer, member, power (default all: "
                      "every kind but power, which cuts the nodes' files as a power cut)"),
      cmd->add_option("--nemesis-interval", o->nemesis_interval,
                      "A new fault this often (default 3s)")
          ->check(duration_validator()),
      cmd->add_option("--after-heal", o->after_heal,
                      "Clients keep running this long after the heal (default 3s)")
          ->check(duration_validator()),
      cmd->add_option("--op-timeout", o->op_timeout,
                      "Bound on one client operation; then it is recorded info (default 2s)")
          ->check(duration_validator()),
      cmd->add_option("--short-clients", o->short_clients,
                      "Clients with the short operation timeout, so that faults leave unknown "
                      "outcomes (default: 2 in 5 of --clients, at least 1; 0: none)"),
      cmd->add_option("--short-timeout", o->short_timeout,
                      "The short operation timeout (default 15ms)")
          ->check(positive_duration_validator()),
      cmd->add_option("--seed", o->seed, "Seed of the workload and the nemesis (default random)")};
  cmd->callback([o, run_flags] {
    for (CLI::Option* opt : run_flags) o->run_flags = o->run_flags || opt->count() > 0;
    run_command([o] { return run_check(*o); });
  });
}

}  // namespace raftlab::lab
