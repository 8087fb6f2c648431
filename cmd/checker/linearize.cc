// The linearizability checker (see linearize.h for the algorithm).
#include "cmd/checker/linearize.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "cmd/checker/model.h"

namespace raftlab::check {

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kNotLinearizable:
      return "not_linearizable";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

// A time later than every time in a history. Only a bound in comparisons and minimums: an
// operation's unknown outcome is its own flag (KOp::unknown, Problem::optional), never this
// value, because a history may hold this very time on an ok completion (issue 17: such an op
// was taken as "may be left out", and a violation passed as linearizable).
constexpr int64_t kInf = std::numeric_limits<int64_t>::max();
constexpr uint32_t kNil = UINT32_MAX;
constexpr uint32_t kNone = RegisterModel::kNone;
constexpr uint32_t kAbsent = RegisterModel::kAbsent;
constexpr uint64_t kCheckEvery = 4096;  // search steps between time and memory checks
// Unknown writes are compared against reads as substrings; past this many bytes scanned the
// remaining ones are kept (keeping is always sound, only slower to search).
constexpr uint64_t kPruneScanBytesMax = 256ull << 20;
// The same for the unread values of ok writes (Search::apply()), which are many more: a
// smaller budget, so the scan never costs more than the search it saves.
constexpr uint64_t kUnreadScanBytesMax = 4ull << 20;
constexpr size_t kUnreadLengthsMax = 16;  // distinct written lengths indexed by window hashes
// Violation windows: how many cut points and window sizes to try, and each try's bound.
constexpr size_t kShrinkCutsMax = 64;
constexpr size_t kWindowOpsMax = 64;
constexpr uint64_t kWindowConfigsMax = 20000;
constexpr size_t kBeforeOpsShown = 3;
constexpr size_t kWritersShown = 3;
constexpr int kLookaheadEvents = 256;             // events the dead-value lookahead scans at most
constexpr int kLookaheadReaders = 8;              // readers not invoked yet it checks at most
constexpr const char* kTimeLimit = "time limit";  // KeyResult::unknown_reason
constexpr const char* kMemoryLimit = "memory limit";

uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The memory bound, shared by the keys checked in parallel.
// The observed strings sorted and distinct; with appends, only those that are no prefix of
// another (a prefix of an observed string is a substring of it, so it adds nothing to a
// substring search).
void distinct_observed(std::vector<std::string_view>& seen, bool has_appends) {
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  if (!has_appends) return;
  std::vector<std::string_view> longest;
  for (size_t k = 0; k < seen.size(); ++k) {
    if (k + 1 < seen.size() && seen[k + 1].substr(0, seen[k].size()) == seen[k]) continue;
    longest.push_back(seen[k]);
  }
  seen.swap(longest);
}

class Budget {
 public:
  explicit Budget(size_t limit) : limit_(static_cast<int64_t>(limit)) {}

  /// Adds `delta` bytes (may be negative); false (and nothing added) past the limit.
  bool charge(int64_t delta) {
    const int64_t now = used_.fetch_add(delta) + delta;
    if (delta > 0 && now > limit_) {
      used_.fetch_sub(delta);
      return false;
    }
    int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    return true;
  }
  size_t peak() const { return static_cast<size_t>(peak_.load()); }

 private:
  int64_t limit_;
  std::atomic<int64_t> used_{0};
  std::atomic<int64_t> peak_{0};
};

// One operation of a key, as the search sees it.
struct KOp {
  int64_t call = 0;
  int64_t ret = 0;       // the return time; meaningless when unknown
  bool unknown = false;  // info or pending: it may take effect after its call, or never
  Fn f = Fn::kGet;
  uint32_t a = kNone;  // put/append: value; get: value read (kNone: null); cas: old (kNone: absent)
  uint32_t b = kNone;  // cas: new value
  uint32_t hist = 0;   // index into History::ops
};

// Applies `op` to `state`; false if the model rejects it here.
inline bool step(RegisterModel& model, uint32_t state, const KOp& op, uint32_t& out) {
  switch (op.f) {
    case Fn::kPut:
      out = model.put(op.a);
      return true;
    case Fn::kAppend:
      out = model.append(state, op.a);
      return true;
    case Fn::kDelete:
      out = kAbsent;
      return true;
    case Fn::kGet:
      out = state;
      return op.a == kNone ? state == kAbsent : model.match(state) == op.a;
    case Fn::kCas:
      if (op.a == kNone ? state != kAbsent : model.match(state) != op.a) return false;
      out = model.put(op.b);
      return true;
  }
  return false;
}

// One search problem: a set of a key's operations, each with its effective return time, and
// the state to start from.
struct Problem {
  std::vector<uint32_t> ops;      // indices into the key's KOps, by call time
  std::vector<int64_t> ret;       // per problem op: its return time (ignored when optional)
  std::vector<uint8_t> optional;  // per problem op: 1 if it may be left out (never returns)
  uint32_t start = kAbsent;
};

enum class SearchOutcome : uint8_t { kOk, kViolation, kTime, kMemory, kCapped };

struct SearchResult {
  SearchOutcome outcome = SearchOutcome::kOk;
  uint64_t configs = 0;
  uint64_t forced = 0;            // moves made by the read rule
  std::vector<uint32_t> deepest;  // problem op indices of the deepest partial linearization
  uint32_t deepest_state = kAbsent;
  size_t peak_bytes = 0;
};

// The just-in-time search with memoization (see linearize.h).
class Search {
 public:
  // lookahead: apply the dead-value rules (the verdict is the same either way; without them
  // the deepest partial linearization is the natural one, used to explain a violation).
  Search(const std::vector<KOp>& kops, RegisterModel& model, Budget& budget,
         Clock::time_point deadline, uint64_t configs_max, bool lookahead = true)
      : kops_(kops),
        model_(model),
        budget_(budget),
        deadline_(deadline),
        configs_max_(configs_max),
        lookahead_(lookahead) {}

  ~Search() { budget_.charge(-charged_); }
  Search(const Search&) = delete;
  Search& operator=(const Search&) = delete;

  /// Merges every state that holds a value no read observes into the junk state (see
  /// apply()). unread[v]: value v is such a value (indexed by value id; kept by reference).
  void merge_unread(const std::vector<uint8_t>& unread) {
    unread_ = &unread;
    junk_ = model_.junk();
  }

  SearchResult run(const Problem& p) {
    SearchResult r;
    r.outcome = setup(p) ? search(p, r) : SearchOutcome::kMemory;
    r.configs = entries_.size();
    r.forced = forced_;
    r.peak_bytes = peak_;
    return r;
  }

 private:
  static constexpr uint32_t kForced = 1u << 31;       // in Frame::op: a forced move
  static constexpr uint32_t kReturnBit = 1u << 31;    // in entry_op_: a return event
  static constexpr uint32_t kAbsentNeed = kNone - 1;  // in needs_: the key must be absent

  struct Frame {
    uint32_t op;     // problem op linearized at this depth (| kForced)
    uint32_t state;  // the state before it
    uint32_t lo;     // lo_ and hi_ before it
    uint32_t hi;
  };
  struct MemoEntry {
    uint64_t hash;
    uint32_t state;
    uint32_t lo;   // first word stored
    uint32_t len;  // words stored
    uint32_t off;  // offset in arena_
  };

  size_t own_bytes() const {
    return next_.capacity() * 4 * 2 + entry_op_.capacity() * 4 + call_entry_.capacity() * 8 +
           zobrist_.capacity() * 8 + words_.capacity() * 8 + frames_.capacity() * sizeof(Frame) +
           entries_.capacity() * sizeof(MemoEntry) + arena_.capacity() * 8 + slots_.capacity() * 8 +
           cands_.capacity() * sizeof(Cand) + levels_.capacity() * sizeof(Level) +
           (readers_left_.capacity() + writers_left_.capacity() + suffix_begin_.capacity() +
            suffix_ops_.capacity() + readers_begin_.capacity() + readers_of_.capacity() +
            prefix_begin_.capacity() + prefix_ops_.capacity() + chain_.capacity()) *
               4;
  }

  // Accounts the current bytes, plus `extra` about to be allocated; false past the bound.
  // The tables that grow on their own (the model's, the prefix cache) count twice: when one
  // doubles, its old and new buffers both exist for a moment.
  bool sync_memory(size_t extra) {
    const size_t total =
        own_bytes() + 2 * (model_.memory_bytes() + prefix_cache_.memory_bytes()) + extra;
    const auto delta = static_cast<int64_t>(total) - charged_;
    if (delta != 0) {
      if (!budget_.charge(delta)) return false;
      charged_ += delta;
    }
    peak_ = std::max(peak_, total);
    return true;
  }

  bool setup(const Problem& p) {
    const size_t n = p.ops.size();
    const size_t words = (n + 63) / 64;
    // Everything sized by n, accounted before it is allocated.
    const size_t planned = (2 * n + 1) * 4 * 2 + 2 * n * 4 + n * 8 + n * 8 + words * 8 +
                           n * sizeof(Frame) + (n + 1) * sizeof(Level) +
                           1024 * (sizeof(MemoEntry) + 8 + 16);
    if (!sync_memory(planned)) return false;

    // Events: an invoke before a return at the same time (those two ops are concurrent).
    struct Ev {
      int64_t time;
      uint8_t never;     // 1: the return of an optional op (after every other event)
      uint32_t kind_op;  // return bit << 31 | problem op index
    };
    std::vector<Ev> evs;
    evs.reserve(2 * n);
    for (uint32_t i = 0; i < n; ++i) {
      evs.push_back(Ev{kops_[p.ops[i]].call, 0, i});
      // An optional op never returns: its return sorts after every other event.
      evs.push_back(Ev{p.optional[i] != 0 ? kInf : p.ret[i], p.optional[i], kReturnBit | i});
    }
    std::sort(evs.begin(), evs.end(), [](const Ev& x, const Ev& y) {
      if (x.never != y.never) return x.never < y.never;
      return x.time != y.time ? x.time < y.time : x.kind_op < y.kind_op;
    });
    head_ = static_cast<uint32_t>(2 * n);
    next_.assign(2 * n + 1, kNil);
    prev_.assign(2 * n + 1, kNil);
    entry_op_.resize(2 * n);
    call_entry_.resize(n);
    ret_entry_.resize(n);
    uint32_t last = head_;
    for (uint32_t e = 0; e < 2 * n; ++e) {
      const uint32_t op = evs[e].kind_op & ~kReturnBit;
      const bool is_ret = (evs[e].kind_op >> 31) != 0;
      entry_op_[e] = evs[e].kind_op;
      (is_ret ? ret_entry_ : call_entry_)[op] = e;
      next_[last] = e;
      prev_[e] = last;
      last = e;
    }
    zobrist_.resize(n);
    for (uint32_t i = 0; i < n; ++i) zobrist_[i] = mix64(0x5EED0000ull + i);
    words_.assign(words, 0);
    frames_.reserve(n);
    levels_.reserve(n + 1);
    entries_.reserve(1024);
    arena_.reserve(1024);
    slots_.assign(2048, 0);
    if (!sync_memory(0)) return false;
    return setup_values(p);
  }

  // The dead-value rule. A required get (or cas) needing value m can only take effect while
  // the register holds m. Once the register leaves m, it can hold m again only through an op
  // not linearized yet that makes it m from something else: a put or cas writing m, an
  // append of a non-empty suffix of m (or of "" when m is "": it turns an absent key into
  // ""), or, when m is "absent", a delete. If a required reader of m is still waiting and no
  // such op is left, the configuration is dead: no completion exists. This catches a wrong
  // order as soon as it is made, not at the return of the reader it starves (which may come
  // much later, after a whole subtree was explored in vain). Exact, no hashing: the suffix
  // lists compare bytes.
  bool setup_values(const Problem& p) {
    const size_t nv = model_.value_count();
    absent_slot_ = static_cast<uint32_t>(nv);
    readers_left_.assign(nv + 1, 0);
    writers_left_.assign(nv + 1, 0);
    for (uint32_t i = 0; i < p.ops.size(); ++i) count_values(p, i, +1);
    index_readers(p);
    index_prefix_writers(p);
    index_suffix_appends(p);
    return sync_memory(0);
  }

  // readers_of_[readers_begin_[m] .. readers_begin_[m + 1]): the problem ops that need value m.
  void index_readers(const Problem& p) {
    const size_t nv = model_.value_count();
    readers_begin_.assign(nv + 2, 0);
    readers_of_.assign(p.ops.size(), 0);
    for (uint32_t i = 0; i < p.ops.size(); ++i) {
      if (const uint32_t m = reads(p, i); m != kNone) ++readers_begin_[m + 1];
    }
    for (size_t v = 1; v < readers_begin_.size(); ++v) readers_begin_[v] += readers_begin_[v - 1];
    {
      std::vector<uint32_t> fill(readers_begin_.begin(), readers_begin_.end() - 1);
      for (uint32_t i = 0; i < p.ops.size(); ++i) {
        if (const uint32_t m = reads(p, i); m != kNone) readers_of_[fill[m]++] = i;
      }
    }
  }

  // Puts and cas (problem ops) whose written value is a prefix of a value some reader needs
  // (the prefix rule, see prefix_dead()).
  void index_prefix_writers(const Problem& p) {
    const size_t nv = model_.value_count();
    {
      std::vector<uint32_t> needed;
      for (uint32_t v = 0; v < nv; ++v) {
        if (readers_left_[v] != 0) needed.push_back(v);
      }
      std::sort(needed.begin(), needed.end(),
                [&](uint32_t a, uint32_t b) { return model_.value(a) < model_.value(b); });
      std::vector<std::pair<uint32_t, uint32_t>> pairs;  // (needed value, problem op)
      for (uint32_t i = 0; i < p.ops.size(); ++i) {
        const KOp& op = kops_[p.ops[i]];
        if (op.f != Fn::kPut && op.f != Fn::kCas) continue;
        const std::string_view w = model_.value(op.f == Fn::kPut ? op.a : op.b);
        auto it =
            std::lower_bound(needed.begin(), needed.end(), w,
                             [&](uint32_t v, std::string_view x) { return model_.value(v) < x; });
        for (; it != needed.end() && model_.value(*it).substr(0, w.size()) == w; ++it) {
          pairs.emplace_back(*it, i);
        }
      }
      std::sort(pairs.begin(), pairs.end());
      prefix_begin_.assign(nv + 2, 0);
      prefix_ops_.clear();
      prefix_ops_.reserve(pairs.size());
      for (const auto& [v, i] : pairs) {
        ++prefix_begin_[v + 1];
        prefix_ops_.push_back(i);
      }
      for (size_t v = 1; v < prefix_begin_.size(); ++v) prefix_begin_[v] += prefix_begin_[v - 1];
    }
  }

  // Appends whose value is a non-empty suffix of a value some reader needs, by bucketing the
  // needed values on their last k bytes (k: the shortest non-empty append).
  void index_suffix_appends(const Problem& p) {
    const size_t nv = model_.value_count();
    size_t k = 8;
    bool any_append = false;
    for (const uint32_t o : p.ops) {
      const KOp& op = kops_[o];
      if (op.f != Fn::kAppend || model_.value(op.a).empty()) continue;
      any_append = true;
      k = std::min(k, model_.value(op.a).size());
    }
    suffix_begin_.assign(nv + 2, 0);
    suffix_ops_.clear();
    bool any_empty_append = false;
    for (const uint32_t o : p.ops) {
      any_empty_append |= kops_[o].f == Fn::kAppend && model_.value(kops_[o].a).empty();
    }
    if (!any_append && !any_empty_append) return;
    std::unordered_map<std::string_view, std::vector<uint32_t>> by_tail;
    for (uint32_t v = 0; v < nv; ++v) {
      const std::string_view text = model_.value(v);
      if (readers_left_[v] != 0 && text.size() >= k)
        by_tail[text.substr(text.size() - k)].push_back(v);
    }
    std::vector<std::pair<uint32_t, uint32_t>> pairs;  // (value, problem op)
    for (uint32_t i = 0; i < p.ops.size(); ++i) {
      const KOp& op = kops_[p.ops[i]];
      if (op.f != Fn::kAppend) continue;
      const std::string_view a = model_.value(op.a);
      if (a.empty()) {
        // It changes only an absent key, into "": it can make the register "" again.
        const uint32_t empty = model_.find("");
        if (empty != kNone && readers_left_[empty] != 0) pairs.emplace_back(empty, i);
        continue;
      }
      const auto it = by_tail.find(a.substr(a.size() - k));
      if (it == by_tail.end()) continue;
      for (const uint32_t v : it->second) {
        const std::string_view text = model_.value(v);
        if (text.size() >= a.size() && text.substr(text.size() - a.size()) == a) {
          pairs.emplace_back(v, i);
        }
      }
    }
    std::sort(pairs.begin(), pairs.end());
    suffix_ops_.reserve(pairs.size());
    for (const auto& [v, i] : pairs) {
      ++suffix_begin_[v + 1];
      suffix_ops_.push_back(i);
    }
    for (size_t v = 1; v < suffix_begin_.size(); ++v) suffix_begin_[v] += suffix_begin_[v - 1];
  }

  uint32_t slot(uint32_t value) const { return value == kNone ? absent_slot_ : value; }

  // The value slot problem op i needs, if it is a required get or cas; else kNone.
  uint32_t reads(const Problem& p, uint32_t i) const {
    const KOp& op = kops_[p.ops[i]];
    if (p.optional[i] != 0 || (op.f != Fn::kGet && op.f != Fn::kCas)) return kNone;
    return slot(op.a);
  }

  // True if problem op i is required and certainly moves the register off value slot m.
  bool leaves(const Problem& p, uint32_t i, uint32_t m) const {
    const KOp& op = kops_[p.ops[i]];
    if (p.optional[i] != 0) return false;
    switch (op.f) {
      case Fn::kPut:
        return op.a != m;
      case Fn::kAppend:  // "" changes only an absent key (into "")
        return !model_.value(op.a).empty() || m == absent_slot_;
      case Fn::kDelete:
        return m != absent_slot_;
      case Fn::kCas:
        return op.b != m;
      case Fn::kGet:
        return false;
    }
    return false;
  }

  // The dead-value rule, looking ahead: the register holds m, readers of m are waiting and
  // nothing left can make it m again, so it must hold m until the last of them takes
  // effect, which is after that reader's invoke (time t). An op that leaves m and returned
  // before t must precede that reader: it would starve it. So such an op means a dead
  // configuration. Looks at a bounded number of events only (not finding one is safe).
  bool must_leave_early(const Problem& p, uint32_t m, uint32_t first_return) const {
    int64_t t = std::numeric_limits<int64_t>::min();
    for (uint32_t j = readers_begin_[m]; j < readers_begin_[m + 1]; ++j) {
      const uint32_t r = readers_of_[j];
      if (!linearized(r)) t = std::max(t, kops_[p.ops[r]].call);
    }
    uint32_t e = first_return;
    for (int n = 0; n < kLookaheadEvents && e != kNil; ++n, e = next_[e]) {
      const uint32_t op = entry_op_[e] & ~kReturnBit;
      if ((entry_op_[e] & kReturnBit) == 0) {
        if (kops_[p.ops[op]].call >= t) break;
        continue;
      }
      if (p.optional[op] != 0 || p.ret[op] >= t) break;
      if (leaves(p, op, m)) return true;
    }
    return false;
  }

  // Adds `d` to the reader and writer counts of problem op i (d = -1 when it is linearized).
  void count_values(const Problem& p, uint32_t i, int d) {
    const KOp& op = kops_[p.ops[i]];
    const bool required = p.optional[i] == 0;
    switch (op.f) {
      case Fn::kGet:
        if (required) readers_left_[slot(op.a)] += d;
        break;
      case Fn::kCas:
        if (required) readers_left_[slot(op.a)] += d;
        writers_left_[op.b] += d;
        break;
      case Fn::kPut:
        writers_left_[op.a] += d;
        break;
      case Fn::kDelete:
        writers_left_[absent_slot_] += d;
        break;
      case Fn::kAppend:
        break;
    }
  }

  bool linearized(uint32_t op) const { return (words_[op >> 6] >> (op & 63)) & 1; }

  // True if required readers of value slot m are waiting and nothing left (but `except`, the
  // op being tried) can make the register m again.
  bool starved(const Problem& p, uint32_t m, uint32_t except) const {
    uint32_t readers = readers_left_[m];
    if (except != kNil) {
      const KOp& op = kops_[p.ops[except]];
      if (p.optional[except] == 0 && (op.f == Fn::kGet || op.f == Fn::kCas) && slot(op.a) == m) {
        --readers;
      }
    }
    if (readers == 0 || writers_left_[m] != 0) return false;
    if (m == absent_slot_) return true;
    for (uint32_t j = suffix_begin_[m]; j < suffix_begin_[m + 1]; ++j) {
      if (suffix_ops_[j] != except && !linearized(suffix_ops_[j])) return false;
    }
    return true;
  }

  // True if the content of `state` is a prefix of value v (absent counts as ""). Memoized
  // per (state, v): an append node is a prefix iff its parent is and its piece follows in v.
  bool is_prefix(uint32_t state, uint32_t v) {
    // The junk state holds a value no read observed, so no read value v starts with it.
    if (model_.is_junk(state)) return false;
    const std::string_view text = model_.value(v);
    // Walk up to a known answer or a root, then fill the answers back down.
    chain_.clear();
    int known = -1;
    for (uint32_t s = state;;) {
      if (s == kAbsent) {
        known = 1;
        break;
      }
      const uint32_t hit = prefix_cache_.find((static_cast<uint64_t>(s) << 32) | v);
      if (hit != FlatMap64::kMissing) {
        known = static_cast<int>(hit);
        break;
      }
      chain_.push_back(s);
      if (model_.parent(s) == kNone) break;
      s = model_.parent(s);
    }
    for (size_t i = chain_.size(); i-- > 0;) {
      const uint32_t s = chain_[i];
      const std::string_view piece = model_.value(model_.piece(s));
      bool answer;
      if (model_.parent(s) == kNone) {
        answer = text.substr(0, piece.size()) == piece;
      } else {
        const uint64_t at = model_.length(model_.parent(s));
        answer = known == 1 && at + piece.size() <= text.size() &&
                 text.substr(at, piece.size()) == piece;
      }
      known = answer ? 1 : 0;
      prefix_cache_.put((static_cast<uint64_t>(s) << 32) | v, answer ? 1 : 0);
    }
    return known == 1;
  }

  // The prefix rule, for appends: a required reader waits for value v, which the register
  // does not hold. From here on the register changes by appends (which only extend it) and
  // by resets: a put or cas (the register becomes its value) or a delete (absent, then
  // appends build from ""). When v is reached, the last reset before it left a prefix of v,
  // or there was none and what the register holds now is a prefix of v. So if no put or cas
  // of a prefix of v and no delete is left, and what it holds now is not a prefix of v, v
  // is out of reach: the configuration is dead. Exact, no hashing.
  bool prefix_dead(uint32_t state, uint32_t v) {
    if (writers_left_[absent_slot_] != 0) return false;
    for (uint32_t j = prefix_begin_[v]; j < prefix_begin_[v + 1]; ++j) {
      if (!linearized(prefix_ops_[j])) return false;
    }
    return !is_prefix(state, v);
  }

  void lift(uint32_t op) {
    for (const uint32_t e : {call_entry_[op], ret_entry_[op]}) {
      next_[prev_[e]] = next_[e];
      if (next_[e] != kNil) prev_[next_[e]] = prev_[e];
    }
  }

  void unlift(uint32_t op) {
    for (const uint32_t e : {ret_entry_[op], call_entry_[op]}) {
      next_[prev_[e]] = e;
      if (next_[e] != kNil) prev_[next_[e]] = e;
    }
  }

  void set_bit(uint32_t op) {
    const uint32_t w = op >> 6;
    words_[w] |= 1ull << (op & 63);
    if (w + 1 > hi_) hi_ = w + 1;
    while (lo_ < words_.size() && words_[lo_] == ~0ull) ++lo_;
    zob_ ^= zobrist_[op];
  }

  void clear_bit(uint32_t op, uint32_t lo, uint32_t hi) {
    words_[op >> 6] &= ~(1ull << (op & 63));
    lo_ = lo;
    hi_ = hi;
    zob_ ^= zobrist_[op];
  }

  // Grows a vector's capacity to twice, accounting first (the old and the new buffer both
  // exist while the elements move); false past the memory bound.
  template <typename T>
  bool grow(std::vector<T>& v, size_t need) {
    if (need <= v.capacity()) return true;
    const size_t cap = std::max(need, v.capacity() * 2);
    if (!sync_memory(cap * sizeof(T))) return false;
    v.reserve(cap);
    return true;
  }

  // Inserts the current (bits, state) configuration; 0: seen before, 1: new, -1: out of memory.
  int memo_insert(uint32_t state) {
    const uint64_t hash = zob_ ^ mix64(state + 0x9E3779B97F4A7C15ull);
    const uint32_t len = hi_ - lo_;
    const uint64_t* bits = words_.data() + lo_;
    size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    const uint64_t tag = hash >> 32;
    for (;; i = (i + 1) & mask) {
      const uint64_t slot = slots_[i];
      if (slot == 0) break;
      if ((slot >> 32) != tag) continue;
      const MemoEntry& m = entries_[static_cast<uint32_t>(slot) - 1];
      if (m.hash == hash && m.state == state && m.lo == lo_ && m.len == len &&
          std::equal(bits, bits + len, arena_.data() + m.off)) {
        return 0;
      }
    }
    if (entries_.size() >= configs_max_) return -2;
    if (entries_.size() + 1 >= UINT32_MAX || arena_.size() + len >= UINT32_MAX) return -1;
    if (!grow(entries_, entries_.size() + 1) || !grow(arena_, arena_.size() + len)) return -1;
    if ((entries_.size() + 1) * 2 > slots_.size()) {
      if (!sync_memory(slots_.size() * 2 * 8)) return -1;
      rehash(slots_.size() * 2);
      mask = slots_.size() - 1;
      for (i = hash & mask; slots_[i] != 0; i = (i + 1) & mask) {
      }
    }
    const auto off = static_cast<uint32_t>(arena_.size());
    arena_.insert(arena_.end(), bits, bits + len);
    entries_.push_back(MemoEntry{hash, state, lo_, len, off});
    slots_[i] = (tag << 32) | static_cast<uint32_t>(entries_.size());
    return 1;
  }

  void rehash(size_t size) {
    std::vector<uint64_t> slots(size, 0);
    const size_t mask = size - 1;
    for (uint32_t k = 0; k < entries_.size(); ++k) {
      const uint64_t hash = entries_[k].hash;
      size_t i = hash & mask;
      while (slots[i] != 0) i = (i + 1) & mask;
      slots[i] = ((hash >> 32) << 32) | (k + 1);
    }
    slots_.swap(slots);
  }

  // Saves the stack as the deepest partial linearization, copying only what changed since the
  // last save (best_common_ ops are shared), so the total copying is bounded by the pushes.
  void save_deepest(uint32_t state) {
    best_.resize(best_common_);
    for (size_t d = best_common_; d < frames_.size(); ++d) {
      best_.push_back(frames_[d].op & ~kForced);
    }
    best_common_ = frames_.size();
    best_state_ = state;
    best_dirty_ = false;
  }

  void push(const Problem& p, uint32_t op, bool forced, uint32_t state, uint32_t lo, uint32_t hi) {
    count_values(p, op, -1);
    frames_.push_back(Frame{op | (forced ? kForced : 0), state, lo, hi});
    if (frames_.size() > best_depth_) {
      best_depth_ = frames_.size();
      best_dirty_ = true;
    }
    lift(op);
  }

  // Applies op to state, as step() does, but with unread-value states merged. Call a value u
  // unread when no read observes it: no kept get returned, and no kept cas expected, a string
  // that contains u (with no append on the key: that equals u). A register whose content
  // contains an unread u (right after a put or a cas of u, an append of u, or any append to
  // such a content) is junk: every get and cas fails on it (its value would contain u), an
  // append leaves it junk (the content still contains u), and a put, a delete or nothing
  // else leaves it, each to the same state from any junk content. So all junk contents accept
  // exactly the same sequences of the key's operations, and the search may treat them as one
  // state: the verdict is the same, and orders that differ only in which unread value the
  // register held meet in the memo. (Half the writes of a real key are never read, because
  // the next write comes first; without the merge each order of them was its own state.)
  bool apply(uint32_t state, const KOp& op, uint32_t& out) {
    if (unread_ == nullptr) return step(model_, state, op, out);
    if (state == junk_ && op.f == Fn::kAppend) {
      out = junk_;
      return true;
    }
    if (!step(model_, state, op, out)) return false;
    const uint32_t written = op.f == Fn::kCas ? op.b : op.a;
    if (op.f != Fn::kGet && op.f != Fn::kDelete && (*unread_)[written] != 0) out = junk_;
    return true;
  }

  // True for an op that never changes the register (see forced moves in enter()).
  bool pure(const KOp& op) const { return op.f == Fn::kGet || (op.f == Fn::kCas && op.a == op.b); }

  // The try order of `candidate` (applied in `state`, giving `next`); see enter().
  uint32_t tier(uint32_t state, const KOp& candidate, uint32_t next) const {
    const uint32_t produced = next == kAbsent ? kAbsentNeed : model_.match(next);
    if (produced != kNone && std::find(needs_.begin(), needs_.end(), produced) != needs_.end()) {
      return 0;
    }
    for (const uint32_t need : needs_) {
      if (need == kAbsentNeed) continue;
      const std::string_view v = model_.value(need);
      auto starts_with = [&](uint32_t value) {
        const std::string_view w = model_.value(value);
        return v.substr(0, w.size()) == w;
      };
      switch (candidate.f) {
        case Fn::kPut:
          if (starts_with(candidate.a)) return 2;
          break;
        case Fn::kCas:
          if (starts_with(candidate.b)) return 2;
          break;
        case Fn::kAppend: {
          const uint64_t at = model_.length(state);
          const std::string_view a = model_.value(candidate.a);
          if (at <= v.size() && v.substr(at, a.size()) == a) return 2;
          break;
        }
        default:
          break;
      }
    }
    return 3;
  }

  // Enters a configuration: decides success, or pushes its level of candidates (empty when
  // the configuration has no candidate left to try). Returns 1 on success, 0 to go on, or a
  // negative memo_insert error.
  //
  // Forced moves. Some ops never change the register, wherever they take effect: a get, a
  // cas whose old and new values are equal. (Not an append of "": it creates an absent key.
  // Not a put of the current value: moved elsewhere it would no longer restore that value
  // where it was.) If such an op can be linearized now, and the configuration can be
  // completed at all, then it can be completed with that op first: take any successful
  // completion and move the op to its front. It is accepted there (just checked), every
  // other op sees the same states as before (the op changed nothing where it was, and
  // changes nothing at the front), and real time is kept (every op that had to precede it is
  // linearized already, which is what makes it a candidate). So that child is the only one
  // explored, and if it fails so does its parent. This removes the branching over reads, the
  // bulk of a history.
  //
  // Order. Completeness does not depend on the order candidates are tried in, speed does.
  // The op whose return comes first (`must`) has to be linearized before anything invoked
  // later, so it goes first: operations are linearized as late as possible (Lowe's
  // just-in-time idea), and an op with a long interval (a slow or unknown-outcome write) is
  // not placed early on a guess that survives until far later. Before it, though, come the
  // ops that leave the value a pending get or cas needs: that get was running while the
  // register held its value, so that write most likely came next (trying `must` first there
  // would hide the get until its own return, far later, and the search would have to
  // exhaust everything in between). After `must`: ops that leave a prefix of a needed value
  // (append chains), then the rest by invoke time.
  int enter(uint32_t state, const Problem& p) {
    const uint32_t begin = static_cast<uint32_t>(cands_.size());
    needs_.clear();
    uint32_t e = next_[head_];
    for (; e != kNil && (entry_op_[e] & kReturnBit) == 0; e = next_[e]) {
      const uint32_t op = entry_op_[e];
      const KOp& k = kops_[p.ops[op]];
      uint32_t next_state;
      if (!apply(state, k, next_state)) {
        if (k.f == Fn::kGet || k.f == Fn::kCas) needs_.push_back(k.a == kNone ? kAbsentNeed : k.a);
        continue;
      }
      if (next_state == state && pure(k)) return force(p, op, state, begin);
      if (!grow(cands_, cands_.size() + 1)) return -1;
      cands_.push_back(Cand{op, next_state, 3});
    }
    if (e == kNil || p.optional[entry_op_[e] & ~kReturnBit] != 0) {
      // Every op with a known return is linearized; unknown ones may never have happened.
      cands_.resize(begin);
      return 1;
    }
    if (lookahead_ && dead_end(state, p, e)) {
      cands_.resize(begin);
      levels_.push_back(Level{begin, begin, begin});
      return 0;
    }
    const uint32_t must = entry_op_[e] & ~kReturnBit;
    for (uint32_t c = begin; c < cands_.size(); ++c) {
      Cand& cand = cands_[c];
      cand.tier = tier(state, kops_[p.ops[cand.op]], cand.next);
      if (cand.op == must && cand.tier != 0) cand.tier = 1;
    }
    std::stable_sort(cands_.begin() + begin, cands_.end(),
                     [](const Cand& a, const Cand& b) { return a.tier < b.tier; });
    levels_.push_back(Level{begin, static_cast<uint32_t>(cands_.size()), begin});
    return 0;
  }

  // A forced move (see enter()): linearizes `op` as the only child. Returns 2 when the child
  // was entered, 0 when it failed before (so does this configuration), < 0 on a memo error.
  int force(const Problem& p, uint32_t op, uint32_t state, uint32_t begin) {
    cands_.resize(begin);
    const uint32_t lo = lo_;
    const uint32_t hi = hi_;
    set_bit(op);
    const int inserted = memo_insert(state);
    if (inserted < 0) {
      clear_bit(op, lo, hi);
      return inserted;
    }
    levels_.push_back(Level{begin, begin, begin});
    if (inserted == 1) {
      ++forced_;
      push(p, op, true, state, lo, hi);
      return 2;  // entered the child: enter it in turn
    }
    clear_bit(op, lo, hi);  // the child failed before: so does this configuration
    return 0;
  }

  // The dead-value rules at a configuration whose first pending return is entry `e`: true
  // when a waiting reader needs a value nothing left can produce. Adds the values of the next
  // few readers to needs_ (they guide the order of the candidates).
  bool dead_end(uint32_t state, const Problem& p, uint32_t e) {
    const uint32_t holds = state == kAbsent ? absent_slot_ : model_.match(state);
    for (const uint32_t need : needs_) {
      const uint32_t m = need == kAbsentNeed ? absent_slot_ : need;
      if (m != holds && (starved(p, m, kNil) ||
                         (m != absent_slot_ && readers_left_[m] != 0 && prefix_dead(state, m)))) {
        return true;
      }
    }
    if (holds != kNone && starved(p, holds, kNil) && must_leave_early(p, holds, e)) return true;
    // The same for the next few readers not invoked yet (nothing in either rule needs the
    // reader to be invoked); their values also guide the order (appends above all: the
    // next read tells in which order the pending appends went).
    int readers = 0;
    uint32_t f = e;
    for (int n = 0; n < kLookaheadEvents && f != kNil && readers < kLookaheadReaders;
         ++n, f = next_[f]) {
      if ((entry_op_[f] & kReturnBit) != 0) continue;
      const uint32_t m = reads(p, entry_op_[f]);
      if (m == kNone) continue;
      ++readers;
      needs_.push_back(m == absent_slot_ ? kAbsentNeed : m);
      if (m != holds && (starved(p, m, kNil) || (m != absent_slot_ && prefix_dead(state, m)))) {
        return true;
      }
    }
    return false;
  }

  SearchOutcome search(const Problem& p, SearchResult& r) {
    uint32_t state = p.start;
    best_state_ = state;
    uint64_t steps = 0;
    SearchOutcome outcome = SearchOutcome::kViolation;
    bool fresh = true;  // at a configuration not entered yet
    while (true) {
      if (++steps % kCheckEvery == 0 && !within_bounds(outcome)) break;
      if (fresh) {
        fresh = false;
        const int entered = enter(state, p);
        if (entered == 1) {
          outcome = SearchOutcome::kOk;
          break;
        }
        if (entered < 0) {
          outcome = memo_failure(entered);
          break;
        }
        if (entered == 2) {
          fresh = true;  // a forced move was made; state is unchanged
          continue;
        }
      }
      const int moved = next_candidate(p, state);
      if (moved < 0) {
        outcome = memo_failure(moved);
        break;
      }
      if (moved == 1) {
        fresh = true;
        continue;
      }
      if (!backtrack(p, state)) break;  // kViolation
    }
    if (best_dirty_) save_deepest(state);
    r.deepest = best_;
    r.deepest_state = best_state_;
    return outcome;
  }

  // The time and memory bounds; false (and `outcome` set) when one is passed.
  bool within_bounds(SearchOutcome& outcome) {
    if (Clock::now() > deadline_) {
      outcome = SearchOutcome::kTime;
      return false;
    }
    if (!sync_memory(0)) {
      outcome = SearchOutcome::kMemory;
      return false;
    }
    return true;
  }

  static SearchOutcome memo_failure(int code) {
    return code == -2 ? SearchOutcome::kCapped : SearchOutcome::kMemory;
  }

  // Tries the current configuration's next candidates. 1: moved into a new child (`state`
  // is its state), 0: none left, < 0: a memo error (as memo_insert).
  int next_candidate(const Problem& p, uint32_t& state) {
    Level& level = levels_.back();
    while (level.cursor < level.end) {
      const Cand c = cands_[level.cursor++];
      if (lookahead_ && c.next != state) {
        const uint32_t m = state == kAbsent ? absent_slot_ : model_.match(state);
        if (m != kNone && starved(p, m, c.op)) continue;  // the dead-value rule
      }
      const uint32_t lo = lo_;
      const uint32_t hi = hi_;
      set_bit(c.op);
      const int inserted = memo_insert(c.next);
      if (inserted == 1) {
        push(p, c.op, false, state, lo, hi);
        state = c.next;
        return 1;
      }
      clear_bit(c.op, lo, hi);
      if (inserted < 0) return inserted;
    }
    return 0;
  }

  // Every candidate failed: undoes the move that led here. False at the root.
  bool backtrack(const Problem& p, uint32_t& state) {
    if (best_dirty_) save_deepest(state);
    cands_.resize(levels_.back().begin);
    levels_.pop_back();
    if (frames_.empty()) return false;
    const Frame f = frames_.back();
    frames_.pop_back();
    best_common_ = std::min(best_common_, frames_.size());
    const uint32_t op = f.op & ~kForced;
    state = f.state;
    clear_bit(op, f.lo, f.hi);
    unlift(op);
    count_values(p, op, +1);
    return true;
  }

  const std::vector<KOp>& kops_;
  RegisterModel& model_;
  Budget& budget_;
  Clock::time_point deadline_;
  uint64_t configs_max_;
  bool lookahead_;
  int64_t charged_ = 0;
  size_t peak_ = 0;
  uint64_t forced_ = 0;                           // moves made by the read rule
  const std::vector<uint8_t>* unread_ = nullptr;  // see apply(); nullptr: no merging
  uint32_t junk_ = kNil;                          // the model's junk state, when merging

  // The event list: entries 0..2n-1, head_ = 2n is the sentinel.
  uint32_t head_ = 0;
  std::vector<uint32_t> next_, prev_;
  std::vector<uint32_t> entry_op_;  // return bit << 31 | problem op
  std::vector<uint32_t> call_entry_, ret_entry_;

  // The linearized set: words_[0, lo_) are all ones, words_[hi_, end) all zeros.
  std::vector<uint64_t> words_;
  uint32_t lo_ = 0;
  uint32_t hi_ = 0;
  std::vector<uint64_t> zobrist_;
  uint64_t zob_ = 0;
  std::vector<Frame> frames_;
  // Candidates of the configurations on the current path: levels_[d] is the range of
  // cands_ for the configuration after d frames, and the next one to try.
  struct Cand {
    uint32_t op;    // problem op
    uint32_t next;  // the state after it
    uint32_t tier;  // try order: 0 first (see enter())
  };
  struct Level {
    uint32_t begin;
    uint32_t end;
    uint32_t cursor;
  };
  std::vector<Cand> cands_;
  std::vector<Level> levels_;
  std::vector<uint32_t> needs_;  // values the pending gets and cas need (enter() scratch)
  // The dead-value rule's bookkeeping, by value id; the slot absent_slot_ is "absent".
  uint32_t absent_slot_ = 0;
  std::vector<uint32_t> readers_left_;   // required gets and cas needing it, not linearized
  std::vector<uint32_t> writers_left_;   // puts and cas writing it (deletes: absent), not lin.
  std::vector<uint32_t> suffix_begin_;   // per value: its range in suffix_ops_
  std::vector<uint32_t> suffix_ops_;     // appends (problem ops) of a non-empty suffix of it
  std::vector<uint32_t> prefix_begin_;   // per value: its range in prefix_ops_
  std::vector<uint32_t> prefix_ops_;     // puts and cas (problem ops) writing a prefix of it
  FlatMap64 prefix_cache_;               // (state << 32 | value) -> is_prefix()
  std::vector<uint32_t> chain_;          // is_prefix() scratch
  std::vector<uint32_t> readers_begin_;  // per value: its range in readers_of_
  std::vector<uint32_t> readers_of_;     // required gets and cas (problem ops) needing it

  // The memo: open addressing; a slot is (hash >> 32) << 32 | (entry index + 1), 0 if empty.
  std::vector<uint64_t> slots_;
  std::vector<MemoEntry> entries_;
  std::vector<uint64_t> arena_;  // the stored bitset words

  // The deepest partial linearization.
  std::vector<uint32_t> best_;
  size_t best_depth_ = 0;
  size_t best_common_ = 0;  // best_[0, best_common_) equals the stack's bottom
  bool best_dirty_ = false;
  uint32_t best_state_ = kAbsent;
};

// Checks one key.
class KeyChecker {
 public:
  KeyChecker(const History& h, uint32_t key, const std::vector<uint32_t>& ops, Budget& budget,
             Clock::time_point deadline)
      : h_(h), key_(key), hist_ops_(ops), budget_(budget), deadline_(deadline) {}

  KeyResult run() {
    const Clock::time_point start = Clock::now();
    KeyResult r;
    r.key = key_;
    prepare(r);
    r.ops_checked = kops_.size();

    const Problem p = whole_problem();
    SearchResult sr;
    {
      const std::vector<uint8_t> unread = unread_values();
      Search search(kops_, model_, budget_, deadline_, std::numeric_limits<uint64_t>::max());
      search.merge_unread(unread);
      sr = search.run(p);
    }
    r.states_explored = sr.configs;
    r.reads_forced = sr.forced;
    r.memory_bytes = sr.peak_bytes;
    switch (sr.outcome) {
      case SearchOutcome::kOk:
        r.verdict = Verdict::kLinearizable;
        break;
      case SearchOutcome::kViolation:
        r.verdict = Verdict::kNotLinearizable;
        r.violation = explain(sr.deepest);
        break;
      case SearchOutcome::kTime:
      case SearchOutcome::kCapped:
        r.verdict = Verdict::kUnknown;
        r.unknown_reason = kTimeLimit;
        break;
      case SearchOutcome::kMemory:
        r.verdict = Verdict::kUnknown;
        r.unknown_reason = kMemoryLimit;
        break;
    }
    r.ms = ms_since(start);
    return r;
  }

 private:
  // Builds the KOps: fail ops removed, info gets dropped, unobserved info writes dropped.
  void prepare(KeyResult& r) {
    std::vector<uint32_t> kept;
    kept.reserve(hist_ops_.size());
    bool has_appends = false;
    for (const uint32_t i : hist_ops_) {
      const Operation& op = h_.ops[i];
      if (op.outcome == Outcome::kFail) {
        ++r.ops_failed;
        continue;
      }
      if (op.f == Fn::kGet && op.unknown()) {
        ++r.ops_dropped;
        continue;
      }
      if (op.f == Fn::kAppend) has_appends = true;
      kept.push_back(i);
    }
    const std::vector<bool> drop = prune_unobserved(kept, has_appends);
    kops_.reserve(kept.size());
    for (size_t k = 0; k < kept.size(); ++k) {
      if (drop[k]) {
        ++r.ops_dropped;
        continue;
      }
      const Operation& op = h_.ops[kept[k]];
      KOp ko;
      ko.call = op.call_time;
      ko.unknown = op.unknown();
      ko.ret = op.unknown() ? kInf : op.return_time;
      ko.f = op.f;
      ko.hist = kept[k];
      switch (op.f) {
        case Fn::kPut:
        case Fn::kAppend:
          ko.a = model_.intern(*op.value);
          break;
        case Fn::kGet:
          ko.a = op.value ? model_.intern(*op.value) : kNone;
          break;
        case Fn::kCas:
          ko.a = op.expected ? model_.intern(*op.expected) : kNone;
          ko.b = model_.intern(*op.value);
          break;
        case Fn::kDelete:
          break;
      }
      kops_.push_back(ko);
    }
  }

  // Which unknown-outcome writes to drop. Soundness: let W be an info put, append or cas
  // (written value v: the put's or append's value, the cas's new value) such that no ok get
  // returned a string containing v and no kept cas expected a string containing v (with no
  // append on the key: equal to v instead of containing it). Take any linearization that
  // includes W. After W the register holds a string that starts with v (put, cas) or contains
  // v (append), and keeps containing v through later appends until a put, a delete or a
  // successful cas replaces it. A get or a successful cas in that stretch would have observed
  // a string containing v (exactly v without appends), and there is none; so the stretch
  // holds only appends (which succeed in any state) up to that put, delete or cas or the end.
  // Removing W changes only the states inside the stretch, which nothing observes, and no
  // real-time order: the rest is still a valid linearization. Conversely a linearization
  // without W is one with W never taking effect, which an unknown outcome allows. Each drop
  // rests only on the reads, which are never dropped here, so the drops are independent.
  // (A delete with an unknown outcome is always kept: its effect, absence, is also the
  // initial state's.)
  std::vector<bool> prune_unobserved(const std::vector<uint32_t>& kept, bool has_appends) {
    std::vector<bool> drop(kept.size(), false);
    std::vector<std::string_view> seen;  // what reads and cas observed
    bool any_unknown_write = false;
    for (const uint32_t i : kept) {
      const Operation& op = h_.ops[i];
      if (op.f == Fn::kGet && op.value) seen.push_back(*op.value);
      if (op.f == Fn::kCas && op.expected) seen.push_back(*op.expected);
      if (op.unknown() && op.f != Fn::kGet && op.f != Fn::kDelete) any_unknown_write = true;
    }
    if (!any_unknown_write) return drop;
    distinct_observed(seen, has_appends);
    uint64_t scanned = 0;
    for (size_t k = 0; k < kept.size(); ++k) {
      const Operation& op = h_.ops[kept[k]];
      if (!op.unknown() || op.f == Fn::kGet || op.f == Fn::kDelete) continue;
      const std::string_view v = *op.value;
      bool observed = false;
      if (!has_appends) {
        observed = std::binary_search(seen.begin(), seen.end(), v);
      } else {
        for (const std::string_view s : seen) {
          scanned += s.size();
          if (s.find(v) != std::string_view::npos) {
            observed = true;
            break;
          }
        }
        if (scanned > kPruneScanBytesMax) observed = true;  // keep: always sound
      }
      drop[k] = !observed;
    }
    return drop;
  }

  // Per value id: 1 if no kept op observes it (see Search::apply()): no get read, and no cas
  // expected, a string containing it (equal to it when the key has no append). Past
  // kUnreadScanBytesMax bytes compared, the rest count as observed (always sound).
  std::vector<uint8_t> unread_values() {
    std::vector<std::string_view> seen;
    bool has_appends = false;
    for (const KOp& op : kops_) {
      has_appends |= op.f == Fn::kAppend;
      if ((op.f == Fn::kGet || op.f == Fn::kCas) && op.a != kNone)
        seen.push_back(model_.value(op.a));
    }
    distinct_observed(seen, has_appends);
    std::vector<uint8_t> unread(model_.value_count(), 0);
    // With appends: the hashes of every window of the observed strings, for each length a
    // written value has (a hash match counts as observed: a collision only keeps a value
    // apart, which is sound). Too many distinct lengths: a budgeted substring scan instead.
    std::unordered_map<size_t, std::unordered_set<uint64_t>> windows;
    if (has_appends) {
      for (const KOp& op : kops_) {
        if (op.f == Fn::kGet || op.f == Fn::kDelete) continue;
        windows[model_.value(op.f == Fn::kCas ? op.b : op.a).size()];
      }
      if (windows.size() > kUnreadLengthsMax) windows.clear();
      for (auto& [length, hashes] : windows) {
        for (const std::string_view s : seen) window_hashes(s, length, hashes);
      }
    }
    uint64_t scanned = 0;
    for (const KOp& op : kops_) {
      if (op.f == Fn::kGet || op.f == Fn::kDelete) continue;
      const uint32_t v = op.f == Fn::kCas ? op.b : op.a;
      const std::string_view text = model_.value(v);
      bool observed = false;
      if (!windows.empty()) {
        std::unordered_set<uint64_t> one;
        window_hashes(text, text.size(), one);
        observed = windows[text.size()].count(*one.begin()) != 0;
      } else if (!has_appends) {
        observed = std::binary_search(seen.begin(), seen.end(), text);
      } else if (scanned > kUnreadScanBytesMax) {
        observed = true;  // out of budget: keep it apart
      } else {
        for (const std::string_view s : seen) {
          scanned += s.size();
          if (s.find(text) != std::string_view::npos) {
            observed = true;
            break;
          }
        }
      }
      unread[v] = observed ? 0 : 1;
    }
    return unread;
  }

  // Adds the hash of every `length`-byte window of s (one hash for length 0).
  static void window_hashes(std::string_view s, size_t length, std::unordered_set<uint64_t>& out) {
    constexpr uint64_t kBase = 0x100000001B3ull;  // odd: arithmetic mod 2^64
    if (length > s.size()) return;
    uint64_t power = 1;  // kBase^length
    uint64_t h = 0;
    for (size_t i = 0; i < length; ++i) {
      h = h * kBase + static_cast<unsigned char>(s[i]) + 1;
      power *= kBase;
    }
    out.insert(h);
    for (size_t i = length; i < s.size(); ++i) {
      h = h * kBase + static_cast<unsigned char>(s[i]) + 1 -
          power * (static_cast<unsigned char>(s[i - length]) + 1);
      out.insert(h);
    }
  }

  // Replays `order` (KOp indices) from `start`; returns the state after each prefix.
  std::vector<uint32_t> replay(const std::vector<uint32_t>& order, uint32_t start) {
    std::vector<uint32_t> states{start};
    uint32_t s = start;
    for (const uint32_t k : order) {
      uint32_t next = s;
      step(model_, s, kops_[k], next);  // accepted when the search linearized it
      s = next;
      states.push_back(s);
    }
    return states;
  }

  std::optional<std::string> state_text(uint32_t state) const {
    if (state == kAbsent) return std::nullopt;
    return model_.content(state);
  }

  // Every op of the key, from an absent register; unknown-outcome ones optional.
  Problem whole_problem() const {
    Problem p;
    p.ops.resize(kops_.size());
    p.ret.resize(kops_.size());
    p.optional.resize(kops_.size());
    for (uint32_t i = 0; i < kops_.size(); ++i) {
      p.ops[i] = i;
      p.ret[i] = kops_[i].ret;
      p.optional[i] = kops_[i].unknown ? 1 : 0;
    }
    return p;
  }

  // A window found at one cut of the deepest partial linearization (KOp indices).
  struct Cut {
    bool found = false;
    size_t k = 0;  // the cut: ops of the prefix before it
    std::vector<uint32_t> window;
    uint32_t stuck = kNil;
    uint32_t stuck_state = kAbsent;
  };

  // The window for a violation (see Violation in linearize.h). `pruned` is the deepest
  // partial linearization of the search that found the violation (KOp indices).
  Violation explain(const std::vector<uint32_t>& pruned) {
    Violation v;
    v.key = key_;

    // The budget: a tenth of what is left, at least 50 ms, at most 2 s; half of it for the
    // natural deepest partial linearization, the rest for windows.
    const Clock::time_point now = Clock::now();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now);
    const auto budget =
        std::clamp(left / 10, std::chrono::milliseconds(50), std::chrono::milliseconds(2000));
    const Clock::time_point shrink_deadline = std::min(deadline_, now + budget);

    bool natural = false;
    const std::vector<uint32_t> deepest =
        natural_deepest(pruned, std::min(deadline_, now + budget / 2), natural);
    v.deepest = deepest.size();
    const std::vector<uint32_t> states = replay(deepest, kAbsent);
    Cut chosen = best_cut(deepest, states, shrink_deadline);
    const bool found = chosen.found;
    if (!found) chosen = fallback_cut(deepest);
    v.shrunk = found;
    v.verified = found || natural;
    v.state = state_text(states[chosen.k]);
    v.stuck_state = state_text(found ? chosen.stuck_state : states[deepest.size()]);
    for (const uint32_t k : chosen.window) v.window.push_back(kops_[k].hist);
    v.stuck =
        chosen.stuck == kNil ? (v.window.empty() ? 0 : v.window.front()) : kops_[chosen.stuck].hist;
    if (chosen.stuck != kNil) v.writers = writers_of(kops_[chosen.stuck]);
    v.before = context_before(deepest, chosen.k);
    return v;
  }

  // The search with the dead-value rules stops a wrong order as soon as it starves a later
  // read, which makes its deepest partial linearization end early, before the ops that show
  // the bug. Without them the search walks on until an op really cannot take effect: that is
  // the explanation a person expects. Bounded; the pruned one otherwise (`natural` false).
  std::vector<uint32_t> natural_deepest(const std::vector<uint32_t>& pruned,
                                        Clock::time_point until, bool& natural) {
    const Problem all = whole_problem();
    Search search(kops_, model_, budget_, until, std::numeric_limits<uint64_t>::max(), false);
    const SearchResult sr = search.run(all);
    natural = sr.outcome == SearchOutcome::kViolation;
    return natural ? sr.deepest : pruned;
  }

  // Examines the last kShrinkCutsMax cuts of `deepest`, latest first. Prefers "quiescent"
  // cuts: every op of the prefix with a known return returned before the window's first op
  // with a known return was invoked, so the prefix is simply "all that happened before";
  // otherwise the smallest window at any cut.
  Cut best_cut(const std::vector<uint32_t>& deepest, const std::vector<uint32_t>& states,
               Clock::time_point until) {
    const size_t m = deepest.size();
    std::vector<bool> placed(kops_.size(), false);
    for (const uint32_t k : deepest) placed[k] = true;
    // rest: KOps not in the cut's prefix, by call order (KOp index order).
    std::vector<uint32_t> rest;
    for (uint32_t k = 0; k < kops_.size(); ++k) {
      if (!placed[k]) rest.push_back(k);
    }
    std::vector<int64_t> prefix_ret_max(m + 1, std::numeric_limits<int64_t>::min());
    for (size_t d = 0; d < m; ++d) {
      const KOp& op = kops_[deepest[d]];
      prefix_ret_max[d + 1] = op.unknown ? prefix_ret_max[d] : std::max(prefix_ret_max[d], op.ret);
    }
    Cut quiet;  // the best at a quiescent cut
    Cut any;    // the best at any cut
    bool in_time = true;
    for (size_t k = m + 1; k-- > 0 && m - k < kShrinkCutsMax && in_time;) {
      if (k < m) rest.insert(std::lower_bound(rest.begin(), rest.end(), deepest[k]), deepest[k]);
      std::optional<int64_t> first_call;  // of the first window op with a known return
      for (const uint32_t o : rest) {
        if (!kops_[o].unknown) {
          first_call = kops_[o].call;
          break;
        }
      }
      const bool quiescent = !first_call || prefix_ret_max[k] < *first_call;
      if (!quiescent && quiet.found) continue;
      in_time = shrink_at(k, rest, states[k], until, quiescent ? quiet : any);
    }
    return quiet.found ? quiet : any;
  }

  // The smallest window (the first t ops of `rest`, t growing) that fails from `start` at
  // cut k; replaces `best` when found and no larger (so at an equal size the earlier cut
  // wins). False when out of time.
  bool shrink_at(size_t k, const std::vector<uint32_t>& rest, uint32_t start,
                 Clock::time_point until, Cut& best) {
    for (size_t t = 1; t <= rest.size() && t <= kWindowOpsMax; ++t) {
      if (best.found && t > best.window.size()) break;
      if (Clock::now() > until) return false;
      bool any_required = false;
      const Problem p = window_problem(rest, t, start, any_required);
      if (!any_required) continue;  // trivially fine: nothing has to happen
      SearchResult sr;
      {
        Search search(kops_, model_, budget_, until, kWindowConfigsMax);
        sr = search.run(p);
      }
      if (sr.outcome != SearchOutcome::kViolation) continue;
      // The stuck op is read from a search without the dead-value rules (see
      // natural_deepest()).
      {
        Search search(kops_, model_, budget_, until, kWindowConfigsMax, false);
        SearchResult natural_sr = search.run(p);
        if (natural_sr.outcome == SearchOutcome::kViolation) sr = std::move(natural_sr);
      }
      best.found = true;
      best.k = k;
      best.window = p.ops;
      // The stuck op: the required op with the earliest return not in the window's deepest
      // partial linearization.
      std::vector<bool> done(t, false);
      for (const uint32_t d : sr.deepest) done[d] = true;
      int64_t earliest = kInf;
      best.stuck = kNil;
      for (uint32_t i = 0; i < t; ++i) {
        if (!done[i] && p.optional[i] == 0 && (best.stuck == kNil || p.ret[i] < earliest)) {
          earliest = p.ret[i];
          best.stuck = p.ops[i];
        }
      }
      best.stuck_state = sr.deepest_state;
      break;
    }
    return true;
  }

  // The first t ops of `rest`, from `start`. An op returning before a later op's invoke must
  // precede it: required here. One returning later may be linearized after later ops:
  // optional here.
  Problem window_problem(const std::vector<uint32_t>& rest, size_t t, uint32_t start,
                         bool& any_required) const {
    Problem p;
    p.start = start;
    p.ops.assign(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(t));
    const bool has_later = t < rest.size();
    const int64_t later = has_later ? kops_[rest[t]].call : 0;
    for (const uint32_t o : p.ops) {
      const bool required = !kops_[o].unknown && (!has_later || kops_[o].ret < later);
      any_required |= required;
      p.ret.push_back(kops_[o].ret);
      p.optional.push_back(required ? 0 : 1);
    }
    return p;
  }

  // Fallback. From the natural deepest configuration it is a valid window: there no op
  // invoked before the first pending return could take effect (one that could would have led
  // to a configuration one op deeper, new or already in the memo, and so deeper than the
  // deepest), so those ops, from that state, fail at once. From the pruned one it only shows
  // where that search stopped (verified = false).
  Cut fallback_cut(const std::vector<uint32_t>& deepest) const {
    Cut cut;
    cut.k = deepest.size();
    std::vector<bool> placed(kops_.size(), false);
    for (const uint32_t k : deepest) placed[k] = true;
    int64_t first_ret = kInf;  // of the ops not placed with a known return
    for (uint32_t k = 0; k < kops_.size(); ++k) {
      if (!placed[k] && !kops_[k].unknown) first_ret = std::min(first_ret, kops_[k].ret);
    }
    for (uint32_t k = 0; k < kops_.size(); ++k) {
      if (!placed[k] && kops_[k].call <= first_ret) {
        cut.window.push_back(k);
        if (!kops_[k].unknown && kops_[k].ret == first_ret && cut.stuck == kNil) cut.stuck = k;
      }
    }
    if (cut.stuck == kNil && !cut.window.empty()) cut.stuck = cut.window.front();
    return cut;
  }

  // Who wrote the value the stuck op needed (failed writes too: a failed write whose value
  // was read is a bug of its own): a put or cas of exactly that value, else an append of its
  // last piece. History::ops indices.
  std::vector<size_t> writers_of(const KOp& stuck) const {
    std::vector<size_t> writers;
    if ((stuck.f != Fn::kGet && stuck.f != Fn::kCas) || stuck.a == kNone) return writers;
    const std::string_view need = model_.value(stuck.a);
    for (const bool exact : {true, false}) {
      for (const uint32_t i : hist_ops_) {
        const Operation& op = h_.ops[i];
        if (writers.size() == kWritersShown) break;
        if (op.f == Fn::kGet || !op.value) continue;
        const bool writes = exact ? (op.f == Fn::kPut || op.f == Fn::kCas) && *op.value == need
                                  : op.f == Fn::kAppend && !op.value->empty() &&
                                        need.size() >= op.value->size() &&
                                        need.substr(need.size() - op.value->size()) == *op.value;
        if (writes) writers.push_back(i);
      }
      if (!writers.empty()) break;
    }
    return writers;
  }

  // Context: the last few ops of the prefix before cut k, and the last write before them if
  // none of them writes.
  std::vector<size_t> context_before(const std::vector<uint32_t>& deepest, size_t k) const {
    std::vector<size_t> before;
    const size_t from = k > kBeforeOpsShown ? k - kBeforeOpsShown : 0;
    bool has_write = false;
    for (size_t d = from; d < k; ++d) has_write |= kops_[deepest[d]].f != Fn::kGet;
    if (!has_write) {
      for (size_t d = from; d-- > 0;) {
        if (kops_[deepest[d]].f != Fn::kGet) {
          before.push_back(kops_[deepest[d]].hist);
          break;
        }
      }
    }
    for (size_t d = from; d < k; ++d) before.push_back(kops_[deepest[d]].hist);
    return before;
  }

  const History& h_;
  uint32_t key_;
  const std::vector<uint32_t>& hist_ops_;
  Budget& budget_;
  Clock::time_point deadline_;
  RegisterModel model_;
  std::vector<KOp> kops_;
};

// The schedule of the keys (issue 17: with one shared deadline the first, biggest keys used it
// all and later ones were barely searched). A key gets its share of the time left when it
// starts: (time left) x threads / (keys not started yet), so each thread's shares add up to
// the time left, and a key that finishes early leaves its unused time to the keys after it.
// Keys that ran out of their share then get a second round, splitting what is left the same
// way (the search is deterministic, so a rerun only goes further). A key that ran out of
// memory while other keys held memory too gets a run alone, so its verdict does not depend on
// which keys happened to run together.
class Scheduler {
 public:
  Scheduler(const History& h, const CheckOptions& o, CheckResult& result)
      : h_(h),
        o_(o),
        result_(result),
        deadline_(Clock::now() + std::chrono::milliseconds(o.time_limit_ms)),
        budget_(o.memory_limit_bytes),
        by_key_(h.keys.size()) {
    for (uint32_t i = 0; i < h.ops.size(); ++i) by_key_[h.ops[i].key].push_back(i);
    result_.keys.resize(h.keys.size());
  }

  void run() {
    // Biggest keys first, so the threads finish close together.
    std::vector<uint32_t> order(h_.keys.size());
    for (uint32_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return by_key_[a].size() > by_key_[b].size(); });
    const size_t threads =
        h_.ops.size() < kParallelOpsMin ? 1 : std::min<size_t>(std::max(1u, o_.threads), 64);
    round(order, threads);
    std::vector<uint32_t> again;
    for (const uint32_t key : order) {
      if (result_.keys[key].unknown_reason == kTimeLimit) again.push_back(key);
    }
    if (!again.empty() && Clock::now() < deadline_) round(again, threads);
    for (const uint32_t key : order) {
      if (result_.keys[key].unknown_reason == kMemoryLimit && threads > 1 &&
          Clock::now() < deadline_) {
        check_key(key, deadline_);
      }
    }
    result_.memory_peak_bytes = budget_.peak();
  }

 private:
  static constexpr size_t kParallelOpsMin = 2000;  // smaller histories: one thread is faster

  // Checks `keys` on `threads` threads, each key within its share of the time left.
  void round(const std::vector<uint32_t>& keys, size_t threads) {
    std::atomic<size_t> next{0};
    std::mutex mu;  // orders the share computations, so the shares add up
    auto worker = [&] {
      while (true) {
        Clock::time_point key_deadline;
        uint32_t key = 0;
        {
          std::lock_guard<std::mutex> lock(mu);
          const size_t i = next.fetch_add(1);
          if (i >= keys.size()) return;
          key = keys[i];
          const Clock::time_point now = Clock::now();
          const auto left = std::max(deadline_ - now, Clock::duration::zero());
          const auto share =
              left * static_cast<int64_t>(threads) / static_cast<int64_t>(keys.size() - i);
          key_deadline = std::min(deadline_, now + share);
        }
        check_key(key, key_deadline);
      }
    };
    threads = std::min(threads, keys.size());
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (std::thread& t : pool) t.join();
  }

  void check_key(uint32_t key, Clock::time_point key_deadline) {
    const int64_t share_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(key_deadline - Clock::now()).count();
    KeyChecker checker(h_, key, by_key_[key], budget_, key_deadline);
    KeyResult r = checker.run();
    if (r.unknown_reason == kTimeLimit) {
      r.unknown_bound = std::to_string(std::max<int64_t>(0, share_ms)) + " ms, its share of the " +
                        std::to_string(o_.time_limit_ms) + " ms time bound";
    } else if (r.unknown_reason == kMemoryLimit) {
      r.unknown_bound = std::to_string(o_.memory_limit_bytes >> 20) + " MiB memory bound" +
                        (budget_.peak() > r.memory_bytes ? ", shared with other keys" : "");
    }
    result_.keys[key] = std::move(r);
  }

  const History& h_;
  const CheckOptions& o_;
  CheckResult& result_;
  Clock::time_point deadline_;
  Budget budget_;
  std::vector<std::vector<uint32_t>> by_key_;
};

}  // namespace

size_t default_memory_limit_bytes() {
  constexpr size_t kFallback = 1ull << 30;  // when /proc/meminfo says nothing
  constexpr size_t kFloor = 256ull << 20;
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) return kFallback;
  char line[256];
  unsigned long long kib = 0;
  bool found = false;
  while (!found && std::fgets(line, sizeof line, f) != nullptr) {
    found = std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1;
  }
  std::fclose(f);
  if (!found) return kFallback;
  // Half of what is available: the checker's own accounting leaves out allocator slack and the
  // history itself, and the machine runs the cluster too.
  return std::max<size_t>(kFloor, static_cast<size_t>(kib) * 1024 / 2);
}

CheckResult check(const History& history, const CheckOptions& options) {
  const Clock::time_point start = Clock::now();
  CheckResult result;
  Scheduler(history, options, result).run();
  bool any_unknown = false;
  bool any_bad = false;
  for (const KeyResult& k : result.keys) {
    any_bad |= k.verdict == Verdict::kNotLinearizable;
    any_unknown |= k.verdict == Verdict::kUnknown;
  }
  result.verdict = any_bad       ? Verdict::kNotLinearizable
                   : any_unknown ? Verdict::kUnknown
                                 : Verdict::kLinearizable;
  result.checker_ms = ms_since(start);
  return result;
}

}  // namespace raftlab::check
