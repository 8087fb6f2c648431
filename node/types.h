// Basic value types of the Raft core: Term, Index, NodeId, log entries and hard state.
//
// Term, Index and NodeId are distinct types so one cannot be passed for another.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace raftlab {

/// A 64-bit number with a tag, so that a Term is never confused with an Index.
template <typename Tag>
class Strong {
 public:
  constexpr Strong() = default;
  constexpr explicit Strong(uint64_t value) : value_(value) {}

  constexpr uint64_t get() const { return value_; }
  constexpr explicit operator bool() const { return value_ != 0; }
  constexpr Strong next() const { return Strong(value_ + 1); }

  friend constexpr auto operator<=>(Strong, Strong) = default;

 private:
  uint64_t value_ = 0;
};

using Term = Strong<struct TermTag>;
using NodeId = Strong<struct NodeIdTag>;  // 0 means "none"

/// A log position. Index 0 is the empty prefix (term 0); real entries start at 1.
class Index : public Strong<struct IndexTag> {
 public:
  using Strong::Strong;
  constexpr Index(Strong s) : Strong(s) {}  // NOLINT(google-explicit-constructor)
  friend constexpr Index operator+(Index i, uint64_t n) { return Index(i.get() + n); }
  friend constexpr Index operator-(Index i, uint64_t n) { return Index(i.get() - n); }
  /// Number of positions from b to a (a >= b).
  friend constexpr uint64_t operator-(Index a, Index b) { return a.get() - b.get(); }
  friend constexpr auto operator<=>(Index, Index) = default;
};

constexpr NodeId kNoNode{};

enum class EntryType : uint8_t {
  kNormal = 1,  // a client command for the state machine
  kNoop = 2,    // appended by every new leader in its term (§5.4.2, §8)
  kConfig = 3,  // a membership change (thesis §4.1); data is an encoded Membership
};

/// Immutable command bytes, shared rather than copied: one proposal's bytes sit in the log,
/// in a Ready and in an AppendEntries to every follower, and copying them each time would
/// dominate the cost of a step. Reads like a const std::string.
class Payload {
 public:
  Payload() = default;
  Payload(std::string bytes)  // NOLINT(google-explicit-constructor): a payload is its bytes
      : bytes_(bytes.empty() ? nullptr : std::make_shared<const std::string>(std::move(bytes))) {}
  Payload(const char* bytes) : Payload(std::string(bytes)) {}  // NOLINT

  const std::string& str() const { return bytes_ ? *bytes_ : empty_string(); }
  operator const std::string&() const { return str(); }  // NOLINT
  size_t size() const { return str().size(); }
  bool empty() const { return str().empty(); }

  friend bool operator==(const Payload& a, const Payload& b) {
    return a.bytes_ == b.bytes_ || a.str() == b.str();
  }
  friend bool operator==(const Payload& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const Payload& a, const char* b) { return a.str() == b; }
  friend std::string operator+(const std::string& a, const Payload& b) { return a + b.str(); }
  friend std::string operator+(const Payload& a, const std::string& b) { return a.str() + b; }
  friend std::string operator+(const char* a, const Payload& b) { return a + b.str(); }
  friend std::string operator+(const Payload& a, const char* b) { return a.str() + b; }
  friend std::ostream& operator<<(std::ostream& out, const Payload& p) { return out << p.str(); }

 private:
  static const std::string& empty_string() {
    static const std::string kEmpty;
    return kEmpty;
  }
  std::shared_ptr<const std::string> bytes_;  // null for no bytes
};

/// One log entry. Invariant: inside one log, indices are consecutive and terms never decrease.
struct Entry {
  Term term;
  Index index;
  EntryType type = EntryType::kNormal;
  // Not 0 in the core's log only, on an entry applied long enough ago that the log let go of
  // its bytes to save memory (RaftLog::release_payloads): `data` is then empty and the bytes,
  // this many, are read back from the host's storage as an AppendEntries carrying the entry
  // leaves (Storage::read_entry). Always 0 on the wire, in a Ready and on disk. (In what
  // would be padding: designated initializers name the fields.)
  uint32_t released_bytes = 0;
  Payload data;  // opaque command bytes; empty for kNoop

  bool data_released() const { return released_bytes != 0; }
  /// The command's length, whether or not `data` holds the bytes.
  uint64_t data_size() const { return data_released() ? released_bytes : data.size(); }

  friend bool operator==(const Entry&, const Entry&) = default;
};
static_assert(sizeof(Entry) <= 40, "released payload fields must fit the padding");

/// State that must be durable before the node answers anything that depends on it (Figure 2).
struct HardState {
  Term term;     // latest term this node has seen; never decreases
  NodeId vote;   // candidate voted for in `term`, or none
  Index commit;  // highest index known committed; never decreases, <= last durable index

  friend bool operator==(const HardState&, const HardState&) = default;
};

/// The cluster's configuration: who votes and who only listens (thesis chapter 4).
struct Membership {
  std::vector<NodeId> voters;    // count towards elections and commitment
  std::vector<NodeId> learners;  // receive the log but do not vote (catching up, §4.2.1)

  friend bool operator==(const Membership&, const Membership&) = default;
};

/// What a snapshot stands for: the state machine after applying every entry up to `index`.
struct SnapshotMeta {
  Index index;            // last entry the snapshot covers
  Term term;              // that entry's term
  Membership membership;  // the configuration in force at `index`

  friend bool operator==(const SnapshotMeta&, const SnapshotMeta&) = default;
};

/// A snapshot: the state machine's bytes after applying every entry up to meta.index.
/// The bytes travel only where they must (SnapshotTaken, Restored, a Ready that saves or
/// installs one); the core keeps meta and size, and the InstallSnapshot chunks it sends are
/// read from the host's copy as they leave (Storage::read_snapshot), so a node holds no
/// snapshot in memory once it is saved.
struct Snapshot {
  SnapshotMeta meta;
  uint64_t size = 0;  // the bytes' length, whether or not `data` holds them
  Payload data;       // opaque to the core; empty where only meta and size travel

  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

/// `s` with meta and size only: what the core keeps of a snapshot.
inline Snapshot without_bytes(Snapshot s) {
  if (!s.data.empty()) s.size = s.data.size();
  s.data = Payload();
  return s;
}

const char* to_string(EntryType type);

/// The bytes of a kConfig entry: "voters=1,2,3;learners=4". Text, so `log dump` shows it.
std::string encode_membership(const Membership& m);
/// Parses encode_membership's output; false on anything else.
bool decode_membership(std::string_view text, Membership& out);
bool is_voter(const Membership& m, NodeId id);
bool is_member(const Membership& m, NodeId id);  // voter or learner
std::string describe(const Membership& m);       // "voters 1,2,3 learners 4"

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

const char* to_string(Role role);

}  // namespace raftlab

template <>
struct std::hash<raftlab::NodeId> {
  size_t operator()(raftlab::NodeId id) const noexcept { return std::hash<uint64_t>{}(id.get()); }
};
