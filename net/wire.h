// The wire format between raftlab processes: frames, and the msgpack messages inside them.
//
// A frame is
//
//   +----------------------+---------------------------+
//   | length: u32 big-end. | payload: `length` bytes   |
//   +----------------------+---------------------------+
//
// with length <= kFrameBytesMax. The payload is one msgpack array whose first two elements are
// a type tag and the wire version:
//
//   hello:  [0, version, kind, cluster_id, node_id]        kind: "peer" or "client"
//   raft:   [MessageType, version, from, to, term, prev_log_index, prev_log_term,
//            [[term, index, entry_type, data], ...], commit, last_log_index, last_log_term,
//            reject, match_index, conflict_term, conflict_index, rejected_index, last_index,
//            [snapshot_index, snapshot_term, [voters], [learners]], offset, chunk, done,
//            context, read_index, transfer]
//
// One layout serves every Raft message (the core's Message is one flat struct), so a decoder
// has one shape to check. Bytes travel as msgpack bin. Decoding never throws and never trusts
// a length: a malformed frame or message yields an error text and the caller closes that
// connection (DESIGN.md §4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "node/message.h"
#include "node/types.h"

namespace raftlab::net {

constexpr uint32_t kWireVersion = 1;
constexpr size_t kFrameHeaderBytes = 4;             // u32 length
constexpr uint32_t kFrameBytesMax = 16u << 20;      // payload bytes in one frame
constexpr size_t kEntriesPerMessageMax = 1u << 16;  // entries in one AppendEntries
constexpr size_t kMembersMax = 1024;                // voters or learners in a configuration
constexpr size_t kClusterIdBytesMax = 128;

enum class PeerKind : uint8_t { kPeer, kClient };

/// The first frame of every connection: who is calling, from which cluster.
struct Hello {
  PeerKind kind = PeerKind::kPeer;
  std::string cluster_id;
  NodeId node;  // the sender (peers) or 0 (clients)

  friend bool operator==(const Hello&, const Hello&) = default;
};

/// Appends one frame holding `payload` to `out`.
void append_frame(std::string& out, std::string_view payload);

std::string encode(const Hello& hello);
std::string encode(const Message& message);

/// A decoded payload, or what was wrong with it.
struct Decoded {
  std::variant<std::monostate, Hello, Message> value;
  std::string error;  // non-empty when value holds nothing
  bool ok() const { return error.empty(); }
};
Decoded decode(std::string_view payload);

/// Splits a byte stream into frame payloads. Bytes are fed as they arrive, in any pieces.
class FrameDecoder {
 public:
  enum class Status : uint8_t { kNeedMore, kFrame, kError };

  /// Appends received bytes. Never holds more than one frame plus its header.
  void feed(std::string_view bytes);
  /// The next complete payload (kFrame), or kNeedMore, or kError (an oversize length: the
  /// stream cannot be trusted any more; `error` says why and the connection must close).
  Status next(std::string& payload, std::string& error);
  size_t buffered_bytes() const { return buffer_.size() - consumed_; }

 private:
  std::string buffer_;
  size_t consumed_ = 0;  // bytes of buffer_ already returned
  bool failed_ = false;
};

}  // namespace raftlab::net
