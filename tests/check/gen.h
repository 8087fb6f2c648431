// Deterministic random histories for the checker's tests and benchmark: N clients against a
// linearizable register store. Each operation takes effect at one instant between its invoke
// and its completion, so the recorded history is linearizable by construction. A few
// operations end `info` (a timeout): those took effect later (even after the timeout) or
// never, and the client continues under a fresh process id, as docs/history-format.md says. A cas
// whose expected value does not match ends `fail` (it certainly did not take effect).
//
// Values are unique per operation and shaped so that no append chain can equal a put or cas
// value: puts write "P<n>;", cas writes "C<n>;", appends add "A<n>;".
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "cmd/checker/history.h"

namespace raftlab::check::testing {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [lo, hi].
  int64_t range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }

 private:
  uint64_t s_;
};

struct GenOptions {
  uint64_t seed = 1;
  size_t clients = 5;
  size_t keys = 2;
  size_t ops = 100;
  double put = 0.30;  // the rest after put, append and cas is get
  double append = 0.20;
  double cas = 0.05;
  double info = 0.03;         // share of operations that end info
  double info_applied = 0.5;  // share of info operations that took effect
  int64_t latency_min_ns = 200'000;
  int64_t latency_max_ns = 2'000'000;
  double slow = 0.05;  // share of operations 10x slower
  int64_t think_max_ns = 200'000;
  int64_t timeout_ns = 10'000'000;  // when an info operation reports
};

struct SimOp {
  uint64_t process = 0;
  Fn f = Fn::kGet;
  uint32_t key = 0;
  std::string value;                    // put/append: written; cas: new
  std::optional<std::string> expected;  // cas: old
  std::optional<std::string> read;      // get ok: the value read (nullopt: absent)
  Outcome outcome = Outcome::kOk;
  int64_t call = 0;
  int64_t ret = 0;             // completion time (the info time for info)
  int64_t effect = INT64_MAX;  // when it took effect; INT64_MAX: never
};

/// Simulates the clients; ops come out in invoke order.
inline std::vector<SimOp> simulate(const GenOptions& o) {
  Rng rng(o.seed);
  std::vector<SimOp> ops;
  ops.reserve(o.ops);
  // Clients in time order: (next free time, client slot).
  using Slot = std::pair<int64_t, size_t>;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<>> ready;
  std::vector<uint64_t> process(o.clients);
  for (size_t c = 0; c < o.clients; ++c) {
    process[c] = c;
    ready.push({rng.range(0, o.think_max_ns), c});
  }
  uint64_t next_process = o.clients;
  std::vector<std::string> recent_put(o.keys, "P0;");  // the latest put issued per key
  uint64_t serial = 0;
  while (ops.size() < o.ops) {
    const auto [now, c] = ready.top();
    ready.pop();
    SimOp op;
    op.process = process[c];
    op.key = static_cast<uint32_t>(rng.range(0, static_cast<int64_t>(o.keys) - 1));
    const double r = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
    ++serial;
    if (r < o.put) {
      op.f = Fn::kPut;
      op.value = "P" + std::to_string(serial) + ";";
      recent_put[op.key] = op.value;
    } else if (r < o.put + o.append) {
      op.f = Fn::kAppend;
      op.value = "A" + std::to_string(serial) + ";";
    } else if (r < o.put + o.append + o.cas) {
      op.f = Fn::kCas;
      op.expected = recent_put[op.key];  // a guess: matches when no write came after it
      op.value = "C" + std::to_string(serial) + ";";
    } else {
      op.f = Fn::kGet;
    }
    op.call = now;
    int64_t latency = rng.range(o.latency_min_ns, o.latency_max_ns);
    if (rng.chance(o.slow)) latency *= 10;
    if (rng.chance(o.info)) {
      op.outcome = Outcome::kInfo;
      op.ret = now + o.timeout_ns;
      if (rng.chance(o.info_applied)) op.effect = now + rng.range(0, 2 * o.timeout_ns);
      process[c] = next_process++;  // a fresh process id after an unknown outcome
    } else {
      op.ret = now + latency;
      op.effect = rng.range(op.call, op.ret);
    }
    ready.push({op.ret + rng.range(1, o.think_max_ns), c});
    ops.push_back(std::move(op));
  }

  // Apply the effects in effect order to find what each get read and which cas matched.
  std::vector<size_t> by_effect;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].effect != INT64_MAX) by_effect.push_back(i);
  }
  std::stable_sort(by_effect.begin(), by_effect.end(),
                   [&](size_t a, size_t b) { return ops[a].effect < ops[b].effect; });
  std::vector<std::optional<std::string>> reg(o.keys);
  for (const size_t i : by_effect) {
    SimOp& op = ops[i];
    std::optional<std::string>& cur = reg[op.key];
    switch (op.f) {
      case Fn::kPut:
        cur = op.value;
        break;
      case Fn::kAppend:
        cur = cur.value_or("") + op.value;
        break;
      case Fn::kGet:
        op.read = cur;
        break;
      case Fn::kCas:
        if (cur && op.expected && *cur == *op.expected) {
          cur = op.value;
        } else if (op.outcome == Outcome::kOk) {
          op.outcome = Outcome::kFail;  // a mismatch: certainly no effect
        }
        break;
      case Fn::kDelete:
        cur.reset();
        break;
    }
  }
  return ops;
}

/// The history file text for simulated ops (key i is named "k<i>").
inline std::string to_jsonl(const std::vector<SimOp>& ops) {
  struct Line {
    int64_t time;
    int order;  // completions before invokes at the same time (same process may reuse it)
    size_t op;
  };
  std::vector<Line> lines;
  lines.reserve(ops.size() * 2);
  for (size_t i = 0; i < ops.size(); ++i) {
    lines.push_back({ops[i].call, 1, i});
    lines.push_back({ops[i].ret, 0, i});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return a.time != b.time ? a.time < b.time : a.order < b.order;
  });
  std::string out;
  out.reserve(lines.size() * 90);
  for (const Line& l : lines) {
    const SimOp& op = ops[l.op];
    const std::string key = "k" + std::to_string(op.key);
    ClientEvent e;
    e.process = op.process;
    e.f = op.f;
    e.key = key;
    e.time = l.time;
    if (l.order == 1) {
      e.type = EventType::kInvoke;
      if (op.f != Fn::kGet) e.value = op.value;
      if (op.f == Fn::kCas) e.expected = op.expected;
    } else {
      e.type = op.outcome == Outcome::kOk     ? EventType::kOk
               : op.outcome == Outcome::kFail ? EventType::kFail
                                              : EventType::kInfo;
      if (op.f == Fn::kGet && op.outcome == Outcome::kOk && op.read) e.value = *op.read;
    }
    out += format_event(e);
  }
  return out;
}

/// Plants a certainly stale read: a get ok R gets the value of an ok put P1 such that another
/// ok put or cas P2 was invoked after P1 returned and returned before R was invoked. Returns
/// false if the history has no such triple.
inline bool plant_stale_read(std::vector<SimOp>& ops, uint64_t seed) {
  Rng rng(seed ^ 0xBADull);
  std::vector<size_t> reads;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].f == Fn::kGet && ops[i].outcome == Outcome::kOk) reads.push_back(i);
  }
  for (size_t attempt = 0; attempt < reads.size(); ++attempt) {
    const size_t r = reads[(attempt + rng.next()) % reads.size()];
    // The latest P2 returning before R's invoke, then the latest P1 returning before P2's.
    auto is_write = [&](const SimOp& w, bool put_only) {
      return w.key == ops[r].key && w.outcome == Outcome::kOk &&
             (w.f == Fn::kPut || (!put_only && w.f == Fn::kCas));
    };
    for (size_t p2 = r; p2-- > 0;) {
      if (!is_write(ops[p2], false) || ops[p2].ret >= ops[r].call) continue;
      for (size_t p1 = p2; p1-- > 0;) {
        if (!is_write(ops[p1], true) || ops[p1].ret >= ops[p2].call) continue;
        if (ops[r].read && *ops[r].read == ops[p1].value) continue;
        ops[r].read = ops[p1].value;
        return true;
      }
    }
  }
  return false;
}

}  // namespace raftlab::check::testing
