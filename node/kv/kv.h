// The replicated key/value state machine (docs/design.md §8): put, append, delete and cas through
// the log, with client sessions so a retried write applies once (thesis §6.3). Reads do not go
// through the log: the host serves them from `get` after a ReadIndex round (or at once for a
// stale read). Pure like the rest of node/: no I/O, no clock, no randomness, so every replica
// that applies the same entries reaches the same state, byte for byte in its snapshot.
//
// Sessions. A command carries (client, seq): a client id the client picked at random and a
// sequence number it raises by one per operation, retrying an operation with the same seq.
//   - seq == the session's last seq: a duplicate; nothing changes, the cached result returns.
//   - seq <  the session's last seq: an old retry arriving late; nothing changes, kStaleSeq.
//   - seq >  the session's last seq: applied; the result is cached as the session's last.
//   - no session and seq == 1: a new session, applied.
//   - no session and seq > 1: the session expired (or never existed); nothing changes,
//     kSessionExpired. The client cannot know whether an earlier try applied: unknown outcome.
// A session caches only what its retry needs. A put's result is the command's own value and a
// retry carries the same command, so a put's cached result keeps no value: a duplicate put
// answers kOk with the retried command's value. Append, delete and cas results depend on the
// state before them, so theirs keep the value. (A "retry" that is not the same command is a
// client bug; it is answered from the cache as it stands.)
// At most kSessionsMax sessions are kept; when a new one would exceed that, the session
// applied least recently (smallest last applied log index) is dropped. The rule uses only the
// log, so every replica drops the same one. seq 0 is invalid.
//
// Command bytes (the payload of a kNormal entry), all integers little-endian:
//   u8 format (=1) | u8 op | u64 client | u64 seq | u32 key_len | key | u32 value_len | value
//   | u32 expected_len | expected
// value must be empty for delete; expected only matters for cas (ignored otherwise). Lengths
// are bounded by kKeyBytesMax and kValueBytesMax. Decoding never throws and never trusts a
// length; it rejects an unknown format or op, trailing bytes and seq 0. A malformed command
// applies as kInvalid and changes nothing; so does an append whose result would exceed
// kValueBytesMax (the session is not updated either, so a retry gets kInvalid again).
//
// Snapshot bytes: u8 format (=1) | u64 last applied index | u64 key count | (u32 len, key,
// u32 len, value)* in key order | u64 session count | (u64 client, u64 seq, u64 last index,
// u8 status, u8 has_value, u32 len, value)* in client order. No checksum here: the snapshot
// file carries one (persist/). has_value 0 comes with len 0; only kOk and kCasMismatch results
// are cached. A put's cached result is written with has_value 0 (see Sessions above); a snapshot
// from before that rule, holding the put's value, still restores, and its duplicate answers the
// same value from the cache (that record is written back as it came, so across the upgrade
// such a replica's snapshot differs from one that applied the put itself until the client's
// next command). Keys are sorted when the snapshot is written (the store keeps no
// order), so every replica with the same state writes the same bytes. restore() rejects anything
// malformed (short, trailing bytes, lengths over the bounds, keys or clients not strictly
// increasing, more than kSessionsMax sessions, a session with seq 0 or a last index that is 0,
// above the applied index or shared with another session) with an error text and leaves the state
// machine as it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "node/kv/store.h"
#include "node/types.h"

namespace raftlab::kv {

class SnapshotWriter;  // kv.cc

constexpr uint8_t kCommandFormat = 1;
constexpr uint8_t kSnapshotFormat = 1;
constexpr size_t kSessionsMax = 10000;
constexpr size_t kKeyBytesMax = 1u << 16;
constexpr size_t kValueBytesMax = 1u << 20;
constexpr size_t kSnapshotPieceBytes = 1u << 20;  // write_snapshot's buffer

enum class Op : uint8_t { kPut = 1, kAppend = 2, kDelete = 3, kCas = 4 };
const char* to_string(Op op);

struct Command {
  Op op = Op::kPut;
  uint64_t client = 0;
  uint64_t seq = 0;
  std::string key;
  std::string value;     // put, append: the value; cas: the new value
  std::string expected;  // cas: the value the key must hold now

  friend bool operator==(const Command&, const Command&) = default;
};

enum class Status : uint8_t {
  kOk = 0,              // applied (for cas: the key held `expected` and now holds `value`)
  kCasMismatch = 1,     // cas: the key did not hold `expected` (absent keys never match)
  kSessionExpired = 2,  // see the header comment: nothing changed, the outcome is unknown
  kStaleSeq = 3,        // an old retry; nothing changed
  kInvalid = 4,         // malformed command bytes or seq 0; nothing changed
};
const char* to_string(Status status);

struct Result {
  Status status = Status::kOk;
  // put/append: the key's new value; delete: the value removed (nullopt if absent); cas: the
  // key's value after the command (on a mismatch, the value found, nullopt if absent).
  std::optional<std::string> value;

  friend bool operator==(const Result&, const Result&) = default;
};

std::string encode(const Command& command);
/// The command, or nullopt with `error` set.
std::optional<Command> decode(std::string_view bytes, std::string* error = nullptr);

class StateMachine {
 public:
  /// Applies the command bytes of the kNormal entry at `index` (> every index applied before;
  /// otherwise throws std::logic_error, a host bug). Every call advances applied(), whatever
  /// the result.
  Result apply(Index index, std::string_view command_bytes);
  /// Records that a non-command entry (no-op, configuration) at `index` was applied (same
  /// index rule as apply).
  void skip(Index index);

  /// The value of `key` now, or nullopt if absent.
  std::optional<std::string> get(std::string_view key) const;

  Index applied() const { return applied_; }
  size_t size() const { return data_.size(); }
  size_t sessions() const { return sessions_.size(); }
  /// Bytes held by keys and values (for status and memory bounds).
  size_t data_bytes() const { return data_.bytes(); }

  /// The whole state, including sessions and the applied index (format above).
  std::string snapshot() const;
  /// The same bytes as snapshot(), handed to `sink` in pieces of at most kSnapshotPieceBytes
  /// (a single value longer than that is handed over alone), so a caller can write a large
  /// snapshot without holding it whole. Touches nothing but this state machine, the sink and
  /// the heap (a key-order index of one pointer per key, and the piece buffer): safe in a
  /// forked child.
  void write_snapshot(const std::function<void(std::string_view)>& sink) const;
  /// The length of snapshot()'s bytes, without writing them (a file's header comes first).
  size_t snapshot_size() const;
  /// Replaces the state with a snapshot's. Returns "" or what is wrong (state unchanged).
  std::string restore(std::string_view bytes);

  friend bool operator==(const StateMachine&, const StateMachine&) = default;

 private:
  struct Session {
    uint64_t seq = 0;
    Index last_index;  // log index of the last command applied for this client
    Result last;       // a put's keeps no value: its retry carries it (header comment)

    friend bool operator==(const Session&, const Session&) = default;
  };

  using Sessions = std::map<uint64_t, Session>;

  // The snapshot bytes (format above), into pieces or one string.
  void encode_snapshot(SnapshotWriter& out) const;
  // apply's last step: caches `result` as the client's last (`session` is its entry, or end()
  // for a new client).
  void remember(Sessions::iterator session, uint64_t client, uint64_t seq, Index index,
                Result result);

  Store data_;
  Sessions sessions_;
  // last_index -> client, to find the least recently applied session in O(log n).
  std::map<Index, uint64_t> session_order_;
  Index applied_;
};

}  // namespace raftlab::kv
