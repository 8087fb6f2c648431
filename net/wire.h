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
//            context, read_index, transfer, vote_why, trace_seq]
//   client request:  [100, version, request_id, op, client, seq, key, value, expected, stale]
//   client response: [101, version, request_id, status, value or nil, leader, leader_port,
//                     index, error]
//
// The client protocol runs on connections whose hello says "client" (node 0). A client may
// send many requests without waiting (pipelining); every request gets exactly one response,
// matched by request_id, in any order. Write ops carry the KV session (client, seq: node/kv/kv.h);
// a get carries neither. key, value and expected are bin; error is str.
//
// One layout serves every Raft message (the core's Message is one flat struct), so a decoder
// has one shape to check. Bytes travel as msgpack bin. Decoding never throws and never trusts
// a length: a malformed frame or message yields an error text and the caller closes that
// connection (docs/design.md §4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "node/message.h"
#include "node/types.h"

namespace raftlab::net {

// Still 1 with vote_why and trace_seq added: every node of a cluster runs one binary, a raft
// message of the other length fails the decoder's field count check, and the hello and client
// layouts, which did not change, keep working between a rebuilt CLI and a running cluster.
constexpr uint32_t kWireVersion = 1;
constexpr size_t kFrameHeaderBytes = 4;             // u32 length
constexpr uint32_t kFrameBytesMax = 16u << 20;      // payload bytes in one frame
constexpr size_t kEntriesPerMessageMax = 1u << 16;  // entries in one AppendEntries
constexpr size_t kMembersMax = 1024;                // voters or learners in a configuration
constexpr size_t kClusterIdBytesMax = 128;
constexpr size_t kClientErrorBytesMax = 4096;

enum class PeerKind : uint8_t { kPeer, kClient };

/// The first frame of every connection: who is calling, from which cluster.
struct Hello {
  PeerKind kind = PeerKind::kPeer;
  std::string cluster_id;
  NodeId node;  // the sender (peers) or 0 (clients)

  friend bool operator==(const Hello&, const Hello&) = default;
};

/// Client operations: the writes of node/kv/kv.h, and get (served by ReadIndex, not the log).
enum class ClientOp : uint8_t { kGet = 0, kPut = 1, kAppend = 2, kDelete = 3, kCas = 4 };
const char* to_string(ClientOp op);

struct ClientRequest {
  uint64_t request_id = 0;  // chosen by the client, echoed in the response
  ClientOp op = ClientOp::kGet;
  uint64_t client = 0;  // KV session (writes only; node/kv/kv.h)
  uint64_t seq = 0;
  std::string key;
  std::string value;     // put, append: the value; cas: the new value
  std::string expected;  // cas: the value the key must hold
  bool stale = false;    // get: serve this node's applied state without a ReadIndex round

  friend bool operator==(const ClientRequest&, const ClientRequest&) = default;
};

/// What happened to one request. kOk and kCasMismatch: it took effect (a get: it was read).
/// kNotLeader and kRetry: it certainly did not take effect. kUnknown: it may have.
enum class ClientStatus : uint8_t {
  kOk = 0,
  kCasMismatch = 1,  // cas: the key did not hold `expected`; value is what it held
  kNotLeader = 2,    // ask leader (0: unknown) at leader_port
  kRetry = 3,        // refused for now (election, transfer, lost proposal); try again
  kUnknown = 4,      // proposed, but the outcome could not be learned (or session expired)
  kInvalid = 5,      // malformed request (error says why)
};
const char* to_string(ClientStatus status);

struct ClientResponse {
  uint64_t request_id = 0;
  ClientStatus status = ClientStatus::kOk;
  std::optional<std::string> value;  // get: the value (nullopt: absent); writes: node/kv/kv.h
  NodeId leader;                     // who the node believes leads (kNotLeader, kRetry)
  uint16_t leader_port = 0;          // that leader's port on 127.0.0.1, 0 if unknown
  Index index;                       // writes: the log index; get: the read index
  std::string error;                 // a sentence, for kInvalid, kRetry, kUnknown

  friend bool operator==(const ClientResponse&, const ClientResponse&) = default;
};

/// Appends one frame holding `payload` to `out`.
void append_frame(std::string& out, std::string_view payload);

std::string encode(const Hello& hello);
std::string encode(const Message& message);
std::string encode(const ClientRequest& request);
std::string encode(const ClientResponse& response);
/// Appends one frame holding the encoded request or response to `out` (no temporary string).
void append_frame(std::string& out, const ClientRequest& request);
void append_frame(std::string& out, const ClientResponse& response);

/// A decoded payload, or what was wrong with it.
struct Decoded {
  std::variant<std::monostate, Hello, Message, ClientRequest, ClientResponse> value;
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
