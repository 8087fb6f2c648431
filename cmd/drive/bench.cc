// `raftlab bench`: closed-loop load on the cluster in DIR (docs/cli.md, "Test and measure").
//
// Each of --clients sessions keeps exactly one operation in flight: when one finishes the next
// starts. The workload is the put load that scripts/bench_vs_etcd.sh also drives against etcd
// with scripts/etcd/load: keys "bench/%08d" cycling through --keys distinct keys, --value-size
// byte values, optionally a share of linearizable gets (--reads). All sessions share one
// KvClient (one connection per node, requests pipelined), on one libuv loop in this process.
// Latency is measured from submit to the callback with CLOCK_MONOTONIC, for operations that
// start after the warm-up. Operations with an unknown or failed outcome count as errors, not in
// the latency figures.
//
// With --stamps FILE each measured operation that succeeded is kept as (submit, answer, log
// index, node) on the same clock as the nodes' trace.jsonl, and written as JSONL once the load
// is over (never on the hot path): scripts/request_stages.py joins them with the traces by
// index to say where one request's time goes.
//
// With --failover N the same load runs while cmd/drive/failover.cc kills the leader N times on a
// thread of its own; the report is then the gap from each kill to the first acknowledged put.
#include <uv.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "cmd/cluster/clock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/drive/failover.h"
#include "cmd/lab/command.h"
#include "cmd/lab/kv.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/process.h"
#include "cmd/verbs.h"

namespace raftlab::lab {
namespace {

constexpr size_t kFailoverVotersMin = 3;  // a leader killed, a majority left to elect
constexpr uint32_t kFailoverRoundsMax = 1000;
constexpr uint64_t kFailoverLimitMs = 20000;  // a round's bound on the first ack and on recovery
// --stamps keeps at most this many operations (32 MB of memory, ~80 MB of JSONL); later ones
// are counted in the report as dropped, not kept.
constexpr size_t kStampsMax = 1'000'000;

struct BenchOptions {
  std::string dir;
  uint32_t clients = 64;
  std::string duration = "10s";
  std::string warmup = "1s";
  uint32_t value_size = 256;
  uint64_t keys = 100000;
  std::string reads = "0%";
  std::string timeout = "5s";
  std::string try_timeout;  // empty: a third of --timeout (100 ms-1 s); with --failover 300 ms
  uint32_t failover = 0;    // rounds of kill -9 the leader; 0: a plain bench
  std::string stamps;       // --stamps FILE: per-operation clock stamps; empty: none kept
  bool json = false;
};

// One measured operation that succeeded, for --stamps.
struct Stamp {
  uint64_t t0_ns = 0;  // submitted (CLOCK_MONOTONIC)
  uint64_t t1_ns = 0;  // the answer's callback ran
  uint64_t index = 0;  // the log index it was applied at (a get: its read index)
  uint64_t node = 0;   // the node that answered
};

struct Bench {
  const BenchOptions* o = nullptr;
  net::KvClient* client = nullptr;
  FailoverProbe* probe = nullptr;  // --failover: told of every acknowledged put
  std::mt19937_64 rng{1};
  double read_ratio = 0;
  std::string value;
  uint64_t next_key = 0;
  uint64_t start_ns = 0;
  uint64_t measure_from_ns = 0;
  uint64_t stop_ns = 0;
  std::vector<uint32_t> latencies_us;  // measured operations that succeeded
  bool keep_stamps = false;            // --stamps given
  std::vector<Stamp> stamps;           // at most kStampsMax
  uint64_t stamps_dropped = 0;         // past kStampsMax
  uint64_t ok = 0;
  uint64_t failed = 0;
  uint64_t unknown = 0;
  uint64_t reads = 0;
  uint64_t warmup_ops = 0;
  uint64_t last_measured_ns = 0;
  std::vector<uint64_t> sessions;
  size_t active = 0;  // sessions still issuing; the last one to stop closes the client

  std::string key_for(uint64_t i) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "bench/%08llu",
                  static_cast<unsigned long long>(i % std::max<uint64_t>(1, o->keys)));
    return buf;
  }

  void issue(uint64_t session) {
    const uint64_t t0 = monotonic_ns();
    if (t0 >= stop_ns || (probe != nullptr && probe->stop)) {  // this session is done
      if (--active == 0) client->close();                      // the connections go; uv_run returns
      return;
    }
    net::KvOp op;
    const bool read = read_ratio > 0 && std::uniform_real_distribution<>(0, 1)(rng) < read_ratio;
    op.key = key_for(next_key++);
    if (read) {
      op.op = net::ClientOp::kGet;
    } else {
      op.op = net::ClientOp::kPut;
      op.value = value;
    }
    client->submit(session, std::move(op), [this, session, t0, read](const net::OpResult& r) {
      const uint64_t t1 = monotonic_ns();
      if (probe != nullptr && r.outcome == net::OpOutcome::kOk && !read) probe->on_ack(r.node, t1);
      if (t0 >= measure_from_ns && t1 <= stop_ns) {
        if (r.outcome == net::OpOutcome::kOk) {
          ++ok;
          if (read) ++reads;
          latencies_us.push_back(
              static_cast<uint32_t>(std::min<uint64_t>((t1 - t0) / 1000, UINT32_MAX)));
          if (keep_stamps) keep_stamp(t0, t1, r);
        } else if (r.outcome == net::OpOutcome::kFail) {
          ++failed;
        } else {
          ++unknown;
        }
        last_measured_ns = std::max(last_measured_ns, t1);
      } else if (t0 < measure_from_ns) {
        ++warmup_ops;
      }
      issue(session);
    });
  }

  void keep_stamp(uint64_t t0, uint64_t t1, const net::OpResult& r) {
    if (stamps.size() >= kStampsMax) {
      ++stamps_dropped;
      return;
    }
    stamps.push_back(Stamp{t0, t1, r.index.get(), r.node.get()});
  }
};

// --stamps: one JSON object per line, written after the load. Exit 4 if the file cannot be.
void write_stamps(const std::string& path, const Bench& b) {
  std::ofstream out(path, std::ios::trunc);
  char line[128];
  for (const Stamp& s : b.stamps) {
    std::snprintf(
        line, sizeof line, "{\"t0\":%llu,\"t1\":%llu,\"index\":%llu,\"node\":%llu}\n",
        static_cast<unsigned long long>(s.t0_ns), static_cast<unsigned long long>(s.t1_ns),
        static_cast<unsigned long long>(s.index), static_cast<unsigned long long>(s.node));
    out << line;
  }
  out.flush();
  if (!out) throw LabError(kExitEnvironment, "cannot write --stamps file " + path);
  if (b.stamps_dropped > 0) {
    std::cerr << "bench: --stamps kept the first " << kStampsMax << " operations, "
              << b.stamps_dropped << " more not kept\n";
  }
}

double percentile_ms(const std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(
      sorted.size() - 1,
      static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size()))) - (q > 0 ? 1 : 0));
  return sorted[i] / 1000.0;
}

// The measured figures: one line, or one JSON document with --json.
void print_report(const BenchOptions& o, Bench& b, uint64_t duration_ms) {
  std::sort(b.latencies_us.begin(), b.latencies_us.end());
  const double measured_s = static_cast<double>(duration_ms) / 1000.0;
  const uint64_t errors = b.failed + b.unknown;
  double mean_ms = 0;
  for (uint32_t l : b.latencies_us) mean_ms += l;
  if (!b.latencies_us.empty()) mean_ms /= 1000.0 * static_cast<double>(b.latencies_us.size());
  nlohmann::json doc = {{"clients", o.clients},
                        {"ops", b.ok},
                        {"errors", errors},
                        {"failed", b.failed},
                        {"unknown", b.unknown},
                        {"reads", b.reads},
                        {"duration_s", measured_s},
                        {"ops_per_s", std::round(static_cast<double>(b.ok) / measured_s)},
                        {"value_size", o.value_size},
                        {"keys", o.keys},
                        {"latency_ms",
                         {{"p50", percentile_ms(b.latencies_us, 0.50)},
                          {"p90", percentile_ms(b.latencies_us, 0.90)},
                          {"p99", percentile_ms(b.latencies_us, 0.99)},
                          {"p999", percentile_ms(b.latencies_us, 0.999)},
                          {"max", b.latencies_us.empty() ? 0.0 : b.latencies_us.back() / 1000.0},
                          {"mean", std::round(mean_ms * 1000) / 1000}}}};
  if (o.json) {
    print_json(doc);
  } else {
    std::printf(
        "clients %u  ops %llu  errors %llu  %.0f ops/s  latency ms p50 %.3f  p99 %.3f  "
        "p99.9 %.3f  max %.3f\n",
        o.clients, static_cast<unsigned long long>(b.ok), static_cast<unsigned long long>(errors),
        static_cast<double>(b.ok) / measured_s, percentile_ms(b.latencies_us, 0.5),
        percentile_ms(b.latencies_us, 0.99), percentile_ms(b.latencies_us, 0.999),
        b.latencies_us.empty() ? 0.0 : b.latencies_us.back() / 1000.0);
  }
}

// The failover report: the load's totals, the client's retry rule and the rounds.
int report_failover(const BenchOptions& o, const Bench& b, const net::KvClientOptions& client,
                    const std::vector<FailoverRound>& rounds) {
  nlohmann::json doc = failover_json(rounds);
  doc["clients"] = o.clients;
  doc["value_size"] = o.value_size;
  doc["ops"] = b.ok;
  doc["errors"] = b.failed + b.unknown;
  doc["try_timeout_ms"] = client.try_timeout_ms;
  doc["op_timeout_ms"] = client.op_timeout_ms;
  doc["retry"] =
      "next node at once after a try's timeout or a lost connection; not leader: the hinted node "
      "at once, else the next node after " +
      std::to_string(net::kRetryBackoffMs) + " ms";
  if (o.json) {
    print_json(doc);
  } else {
    print_failover_text(rounds);
  }
  const bool all_acked = std::all_of(rounds.begin(), rounds.end(),
                                     [](const FailoverRound& r) { return r.gap_ms.has_value(); });
  return all_acked && rounds.size() == o.failover ? kExitOk : kExitTimeout;
}

net::KvClientOptions bench_client_options(const BenchOptions& o, const ClusterSpec& spec) {
  net::KvClientOptions c =
      kv_client_options(spec, *parse_duration_ms(o.timeout), std::random_device{}());
  if (!o.try_timeout.empty()) {
    c.try_timeout_ms = *parse_duration_ms(o.try_timeout);
  } else if (o.failover > 0) {
    c.try_timeout_ms = kFailoverTryTimeoutMs;
  }
  return c;
}

int run_bench(const BenchOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  if (o.clients == 0) throw LabError(kExitUsage, "--clients must be at least 1");
  const uint64_t duration_ms = *parse_duration_ms(o.duration);
  const uint64_t warmup_ms = *parse_duration_ms(o.warmup);
  if (duration_ms == 0) throw LabError(kExitUsage, "--duration must be positive");
  if (o.failover > 0 && spec.voters.size() < kFailoverVotersMin) {
    throw LabError(kExitUsage, "--failover needs a cluster of at least 3 voters");
  }
  const net::KvClientOptions client_options = bench_client_options(o, spec);
  uv_loop_t loop;
  uv_loop_init(&loop);
  Bench b;
  b.o = &o;
  b.read_ratio = *parse_ratio(o.reads);
  b.value.assign(o.value_size, 'v');
  FailoverProbe probe;
  std::vector<FailoverRound> rounds;
  std::exception_ptr rounds_error;
  std::thread rounds_thread;
  {
    net::KvClient client(&loop, client_options);
    b.client = &client;
    b.latencies_us.reserve(1u << 20);
    b.keep_stamps = !o.stamps.empty();
    if (b.keep_stamps) b.stamps.reserve(kStampsMax);
    b.start_ns = monotonic_ns();
    b.measure_from_ns = b.start_ns + warmup_ms * 1'000'000ull;
    // With --failover the load runs until the rounds are done (each bounded), not --duration.
    b.stop_ns = o.failover > 0 ? UINT64_MAX : b.measure_from_ns + duration_ms * 1'000'000ull;
    std::cerr << "bench: " << o.clients << " clients, "
              << (o.failover > 0 ? std::to_string(o.failover) + " failover rounds" : o.duration)
              << " (after " << o.warmup << " warm-up), " << o.value_size << "-byte values, "
              << o.keys << " keys, reads " << o.reads << "\n";
    for (uint32_t i = 0; i < o.clients; ++i) b.sessions.push_back(client.new_session());
    b.active = b.sessions.size();
    for (uint64_t s : b.sessions) b.issue(s);
    if (o.failover > 0) {
      b.probe = &probe;
      const FailoverConfig config{o.failover, std::max<uint64_t>(warmup_ms, 1), kFailoverLimitMs};
      rounds_thread = std::thread([&, config] {
        try {
          rounds = run_failover_rounds(dir, spec, config, probe);
        } catch (...) {
          rounds_error = std::current_exception();
        }
      });
    }
    // Bounded: every session stops issuing at stop_ns (or once the rounds, each bounded, are
    // done), and each operation ends by its timeout.
    uv_run(&loop, UV_RUN_DEFAULT);
    client.close();
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  if (rounds_thread.joinable()) rounds_thread.join();
  uv_loop_close(&loop);
  if (rounds_error) std::rethrow_exception(rounds_error);
  if (b.keep_stamps) write_stamps(o.stamps, b);
  if (o.failover > 0) return report_failover(o, b, client_options, rounds);
  print_report(o, b, duration_ms);
  return b.ok == 0 ? kExitTimeout : kExitOk;
}

}  // namespace

void setup_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = add_verb(app, "bench", "Closed-loop load: ops/s and latency percentiles", o->dir);
  cmd->add_option("--clients", o->clients, "Sessions, each with one operation in flight (64)");
  cmd->add_option("--duration", o->duration, "Measured time (default 10s)")
      ->check(positive_duration_validator());
  cmd->add_option("--warmup", o->warmup, "Load before measuring starts (default 1s)")
      ->check(duration_validator());
  cmd->add_option("--value-size", o->value_size, "Bytes per value (default 256)")
      ->check(CLI::Range(0u, 1u << 20));
  cmd->add_option("--keys", o->keys, "Distinct keys, cycled through (default 100000)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  cmd->add_option("--reads", o->reads, "Share of linearizable gets (default 0%)")
      ->check(ratio_validator());
  cmd->add_option("--timeout", o->timeout, "Bound on one operation (default 5s)")
      ->check(positive_duration_validator());
  cmd->add_option("--try-timeout", o->try_timeout,
                  "Bound on one try on one node (default: a third of --timeout, 100ms-1s; "
                  "300ms with --failover)")
      ->check(positive_duration_validator());
  cmd->add_option("--failover", o->failover,
                  "Kill -9 the leader N times under the load; report the gap to the first ack")
      ->check(CLI::Range(1u, kFailoverRoundsMax));
  cmd->add_option("--stamps", o->stamps,
                  "Write each measured operation's submit and answer times, log index and node "
                  "as JSONL to FILE (for scripts/request_stages.py)");
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_bench(*o); });
}

}  // namespace raftlab::lab
