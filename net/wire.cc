// Frames and msgpack messages (layout in wire.h).
#include "net/wire.h"

#include <msgpack.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "node/trace.h"

namespace raftlab::net {
namespace {

constexpr uint64_t kHelloTag = 0;
constexpr size_t kRaftFields = 26;  // elements of a raft message array (wire.h)
constexpr size_t kHelloFields = 5;
constexpr size_t kEntryFields = 4;
constexpr size_t kSnapshotFields = 4;
constexpr uint64_t kClientRequestTag = 100;
constexpr uint64_t kClientResponseTag = 101;
constexpr size_t kClientRequestFields = 10;
constexpr size_t kClientResponseFields = 9;

// msgpack's packer writes to any object with write(const char*, size_t).
struct StringSink {
  std::string* out;
  void write(const char* data, size_t size) { out->append(data, size); }
};
using Packer = msgpack::packer<StringSink>;

void pack_bytes(Packer& p, std::string_view bytes) {
  p.pack_bin(static_cast<uint32_t>(bytes.size()));
  p.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
}

void pack_ids(Packer& p, const std::vector<NodeId>& ids) {
  p.pack_array(static_cast<uint32_t>(ids.size()));
  for (NodeId id : ids) p.pack_uint64(id.get());
}

// A cursor over one msgpack array that checks every element's type, collecting the first
// error instead of throwing.
class Reader {
 public:
  Reader(const msgpack::object& array, std::string& error) : error_(error) {
    if (array.type != msgpack::type::ARRAY) {
      fail("expected an array");
      return;
    }
    items_ = array.via.array.ptr;
    size_ = array.via.array.size;
  }

  size_t size() const { return size_; }
  bool ok() const { return error_.empty(); }

  uint64_t u64() {
    const msgpack::object* o = take();
    if (o == nullptr) return 0;
    if (o->type != msgpack::type::POSITIVE_INTEGER) return fail("expected an unsigned integer"), 0;
    return o->via.u64;
  }
  bool boolean() {
    const msgpack::object* o = take();
    if (o == nullptr) return false;
    if (o->type != msgpack::type::BOOLEAN) return fail("expected a boolean"), false;
    return o->via.boolean;
  }
  std::string bytes() {
    const msgpack::object* o = take();
    if (o == nullptr) return {};
    if (o->type != msgpack::type::BIN) return fail("expected bytes"), std::string();
    return std::string(o->via.bin.ptr, o->via.bin.size);
  }
  /// Bytes, or nil (nullopt).
  std::optional<std::string> bytes_or_nil() {
    const msgpack::object* o = take();
    if (o == nullptr) return std::nullopt;
    if (o->type == msgpack::type::NIL) return std::nullopt;
    if (o->type != msgpack::type::BIN) return fail("expected bytes or nil"), std::nullopt;
    return std::string(o->via.bin.ptr, o->via.bin.size);
  }
  std::string text(size_t bytes_max) {
    const msgpack::object* o = take();
    if (o == nullptr) return {};
    if (o->type != msgpack::type::STR) return fail("expected a string"), std::string();
    if (o->via.str.size > bytes_max) return fail("string too long"), std::string();
    return std::string(o->via.str.ptr, o->via.str.size);
  }
  /// The next element, which must be an array of at most `count_max` elements.
  std::optional<Reader> array(size_t count_max) {
    const msgpack::object* o = take();
    if (o == nullptr) return std::nullopt;
    Reader r(*o, error_);
    if (!ok()) return std::nullopt;
    if (r.size() > count_max) {
      fail("array too long");
      return std::nullopt;
    }
    return r;
  }
  std::vector<NodeId> ids(size_t count_max) {
    std::vector<NodeId> out;
    std::optional<Reader> r = array(count_max);
    if (!r) return out;
    for (size_t i = 0; i < r->size() && ok(); ++i) {
      const uint64_t id = r->u64();
      if (id == 0) fail("node id 0");
      out.push_back(NodeId(id));
    }
    return out;
  }

 private:
  const msgpack::object* take() {
    if (!ok()) return nullptr;
    if (next_ >= size_) {
      fail("array too short");
      return nullptr;
    }
    return &items_[next_++];
  }
  void fail(const char* what) {
    if (error_.empty()) error_ = what;
  }

  const msgpack::object* items_ = nullptr;
  size_t size_ = 0;
  size_t next_ = 0;
  std::string& error_;
};

Decoded decode_hello(Reader& r) {
  Decoded d;
  if (r.size() != kHelloFields) {
    d.error = "hello: wrong number of fields";
    return d;
  }
  r.u64();  // the tag
  r.u64();  // the version, checked by the caller
  Hello h;
  const std::string kind = r.text(16);
  h.cluster_id = r.text(kClusterIdBytesMax);
  h.node = NodeId(r.u64());
  if (!r.ok()) return d;
  if (kind == "peer") {
    h.kind = PeerKind::kPeer;
  } else if (kind == "client") {
    h.kind = PeerKind::kClient;
  } else {
    d.error = "hello: unknown kind";
    return d;
  }
  d.value = std::move(h);
  return d;
}

// A raft message's entries array (wire.h). `error` is the message's Reader's: the first error
// found, wherever it is, stops the decoding.
void decode_entries(Reader& r, std::vector<Entry>& out, std::string& error) {
  if (std::optional<Reader> entries = r.array(kEntriesPerMessageMax)) {
    out.reserve(entries->size());
    for (size_t i = 0; i < entries->size() && r.ok(); ++i) {
      std::optional<Reader> e = entries->array(kEntryFields);
      if (!e) break;
      if (e->size() != kEntryFields) {
        error = "entry: wrong number of fields";
        break;
      }
      Entry entry;
      entry.term = Term(e->u64());
      entry.index = Index(e->u64());
      const uint64_t type = e->u64();
      if (type < 1 || type > 3) {
        error = "entry: unknown type";
        break;
      }
      entry.type = static_cast<EntryType>(type);
      entry.data = Payload(e->bytes());
      out.push_back(std::move(entry));
    }
  }
}

// A raft message's snapshot metadata array (wire.h); errors as for decode_entries.
void decode_snapshot_meta(Reader& r, SnapshotMeta& out, std::string& error) {
  if (std::optional<Reader> s = r.array(kSnapshotFields)) {
    if (s->size() != kSnapshotFields) {
      error = "snapshot: wrong number of fields";
    } else {
      out.index = Index(s->u64());
      out.term = Term(s->u64());
      out.membership.voters = s->ids(kMembersMax);
      out.membership.learners = s->ids(kMembersMax);
    }
  }
}

Decoded decode_raft(Reader& r, uint64_t tag, std::string& error) {
  Decoded d;
  if (tag < 1 || tag > static_cast<uint64_t>(kMessageTypeCount)) {
    d.error = "unknown message type " + std::to_string(tag);
    return d;
  }
  if (r.size() != kRaftFields) {
    d.error = "message: wrong number of fields";
    return d;
  }
  Message m;
  r.u64();  // the tag
  r.u64();  // the version
  m.type = static_cast<MessageType>(tag);
  m.from = NodeId(r.u64());
  m.to = NodeId(r.u64());
  m.term = Term(r.u64());
  m.prev_log_index = Index(r.u64());
  m.prev_log_term = Term(r.u64());
  decode_entries(r, m.entries, error);
  m.commit = Index(r.u64());
  m.last_log_index = Index(r.u64());
  m.last_log_term = Term(r.u64());
  m.reject = r.boolean();
  m.match_index = Index(r.u64());
  m.conflict_term = Term(r.u64());
  m.conflict_index = Index(r.u64());
  m.rejected_index = Index(r.u64());
  m.last_index = Index(r.u64());
  decode_snapshot_meta(r, m.snapshot, error);
  m.offset = r.u64();
  m.chunk = Payload(r.bytes());
  m.done = r.boolean();
  m.context = r.u64();
  m.read_index = Index(r.u64());
  m.transfer = r.boolean();
  const uint64_t vote_why = r.u64();
  m.trace_seq = r.u64();
  if (!r.ok()) return d;
  if (vote_why >= static_cast<uint64_t>(kVoteWhyCount)) {
    d.error = "message: unknown vote refusal " + std::to_string(vote_why);
    return d;
  }
  m.vote_why = static_cast<uint8_t>(vote_why);
  if (!m.from || !m.to) {
    d.error = "message: node id 0";
    return d;
  }
  d.value = std::move(m);
  return d;
}

Decoded decode_client_request(Reader& r) {
  Decoded d;
  if (r.size() != kClientRequestFields) {
    d.error = "client request: wrong number of fields";
    return d;
  }
  r.u64();  // the tag
  r.u64();  // the version
  ClientRequest q;
  q.request_id = r.u64();
  const uint64_t op = r.u64();
  q.client = r.u64();
  q.seq = r.u64();
  q.key = r.bytes();
  q.value = r.bytes();
  q.expected = r.bytes();
  q.stale = r.boolean();
  if (!r.ok()) return d;
  if (op > static_cast<uint64_t>(ClientOp::kCas)) {
    d.error = "client request: unknown op " + std::to_string(op);
    return d;
  }
  q.op = static_cast<ClientOp>(op);
  d.value = std::move(q);
  return d;
}

Decoded decode_client_response(Reader& r) {
  Decoded d;
  if (r.size() != kClientResponseFields) {
    d.error = "client response: wrong number of fields";
    return d;
  }
  r.u64();  // the tag
  r.u64();  // the version
  ClientResponse a;
  a.request_id = r.u64();
  const uint64_t status = r.u64();
  a.value = r.bytes_or_nil();
  a.leader = NodeId(r.u64());
  const uint64_t port = r.u64();
  a.index = Index(r.u64());
  a.error = r.text(kClientErrorBytesMax);
  if (!r.ok()) return d;
  if (status > static_cast<uint64_t>(ClientStatus::kInvalid)) {
    d.error = "client response: unknown status " + std::to_string(status);
    return d;
  }
  if (port > 65535) {
    d.error = "client response: port out of range";
    return d;
  }
  a.status = static_cast<ClientStatus>(status);
  a.leader_port = static_cast<uint16_t>(port);
  d.value = std::move(a);
  return d;
}

void pack(Packer& p, const ClientRequest& q) {
  p.pack_array(kClientRequestFields);
  p.pack_uint64(kClientRequestTag);
  p.pack_uint64(kWireVersion);
  p.pack_uint64(q.request_id);
  p.pack_uint64(static_cast<uint64_t>(q.op));
  p.pack_uint64(q.client);
  p.pack_uint64(q.seq);
  pack_bytes(p, q.key);
  pack_bytes(p, q.value);
  pack_bytes(p, q.expected);
  p.pack(q.stale);
}

void pack(Packer& p, const ClientResponse& a) {
  p.pack_array(kClientResponseFields);
  p.pack_uint64(kClientResponseTag);
  p.pack_uint64(kWireVersion);
  p.pack_uint64(a.request_id);
  p.pack_uint64(static_cast<uint64_t>(a.status));
  if (a.value) {
    pack_bytes(p, *a.value);
  } else {
    p.pack_nil();
  }
  p.pack_uint64(a.leader.get());
  p.pack_uint64(a.leader_port);
  p.pack_uint64(a.index.get());
  p.pack(a.error);
}

// Packs `value` into a frame appended to `out`: the length is patched in afterwards.
template <typename T>
void append_packed_frame(std::string& out, const T& value) {
  const size_t start = out.size();
  out.append(kFrameHeaderBytes, '\0');
  StringSink sink{&out};
  Packer p(sink);
  pack(p, value);
  const auto n = static_cast<uint32_t>(out.size() - start - kFrameHeaderBytes);
  out[start] = static_cast<char>(n >> 24);
  out[start + 1] = static_cast<char>(n >> 16);
  out[start + 2] = static_cast<char>(n >> 8);
  out[start + 3] = static_cast<char>(n);
}

}  // namespace

const char* to_string(ClientOp op) {
  switch (op) {
    case ClientOp::kGet:
      return "get";
    case ClientOp::kPut:
      return "put";
    case ClientOp::kAppend:
      return "append";
    case ClientOp::kDelete:
      return "delete";
    case ClientOp::kCas:
      return "cas";
  }
  return "?";
}

const char* to_string(ClientStatus status) {
  switch (status) {
    case ClientStatus::kOk:
      return "ok";
    case ClientStatus::kCasMismatch:
      return "cas_mismatch";
    case ClientStatus::kNotLeader:
      return "not_leader";
    case ClientStatus::kRetry:
      return "retry";
    case ClientStatus::kUnknown:
      return "unknown";
    case ClientStatus::kInvalid:
      return "invalid";
  }
  return "?";
}

std::string encode(const ClientRequest& request) {
  std::string out;
  StringSink sink{&out};
  Packer p(sink);
  pack(p, request);
  return out;
}

std::string encode(const ClientResponse& response) {
  std::string out;
  StringSink sink{&out};
  Packer p(sink);
  pack(p, response);
  return out;
}

void append_frame(std::string& out, const ClientRequest& request) {
  append_packed_frame(out, request);
}

void append_frame(std::string& out, const ClientResponse& response) {
  append_packed_frame(out, response);
}

void append_frame(std::string& out, std::string_view payload) {
  const auto n = static_cast<uint32_t>(payload.size());
  const char header[kFrameHeaderBytes] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                                          static_cast<char>(n >> 8), static_cast<char>(n)};
  out.append(header, kFrameHeaderBytes);
  out.append(payload);
}

std::string encode(const Hello& hello) {
  std::string out;
  StringSink sink{&out};
  Packer p(sink);
  p.pack_array(kHelloFields);
  p.pack_uint64(kHelloTag);
  p.pack_uint64(kWireVersion);
  p.pack(hello.kind == PeerKind::kPeer ? "peer" : "client");
  p.pack(hello.cluster_id);
  p.pack_uint64(hello.node.get());
  return out;
}

std::string encode(const Message& m) {
  std::string out;
  StringSink sink{&out};
  Packer p(sink);
  p.pack_array(kRaftFields);
  p.pack_uint64(static_cast<uint64_t>(m.type));
  p.pack_uint64(kWireVersion);
  p.pack_uint64(m.from.get());
  p.pack_uint64(m.to.get());
  p.pack_uint64(m.term.get());
  p.pack_uint64(m.prev_log_index.get());
  p.pack_uint64(m.prev_log_term.get());
  p.pack_array(static_cast<uint32_t>(m.entries.size()));
  for (const Entry& e : m.entries) {
    if (e.data_released()) {  // Pipeline::send fills these; one reaching here is a bug
      throw std::logic_error("wire: entry " + std::to_string(e.index.get()) +
                             " leaves without its bytes");
    }
    p.pack_array(kEntryFields);
    p.pack_uint64(e.term.get());
    p.pack_uint64(e.index.get());
    p.pack_uint64(static_cast<uint64_t>(e.type));
    pack_bytes(p, e.data.str());
  }
  p.pack_uint64(m.commit.get());
  p.pack_uint64(m.last_log_index.get());
  p.pack_uint64(m.last_log_term.get());
  p.pack(m.reject);
  p.pack_uint64(m.match_index.get());
  p.pack_uint64(m.conflict_term.get());
  p.pack_uint64(m.conflict_index.get());
  p.pack_uint64(m.rejected_index.get());
  p.pack_uint64(m.last_index.get());
  p.pack_array(kSnapshotFields);
  p.pack_uint64(m.snapshot.index.get());
  p.pack_uint64(m.snapshot.term.get());
  pack_ids(p, m.snapshot.membership.voters);
  pack_ids(p, m.snapshot.membership.learners);
  p.pack_uint64(m.offset);
  pack_bytes(p, m.chunk.str());
  p.pack(m.done);
  p.pack_uint64(m.context);
  p.pack_uint64(m.read_index.get());
  p.pack(m.transfer);
  p.pack_uint64(m.vote_why);
  p.pack_uint64(m.trace_seq);
  return out;
}

Decoded decode(std::string_view payload) {
  Decoded d;
  if (payload.size() > kFrameBytesMax) {
    d.error = "payload larger than the frame maximum";
    return d;
  }
  try {
    // Limits keep a hostile length field from making msgpack allocate: nothing in a frame can
    // be longer than the frame itself.
    const msgpack::unpack_limit limit(kEntriesPerMessageMax + kRaftFields, 0, kFrameBytesMax,
                                      kFrameBytesMax, 0, 6);
    size_t offset = 0;
    const msgpack::object_handle handle =
        msgpack::unpack(payload.data(), payload.size(), offset, nullptr, nullptr, limit);
    if (offset != payload.size()) {
      d.error = "trailing bytes after the message";
      return d;
    }
    std::string error;
    Reader r(handle.get(), error);
    const uint64_t tag = r.u64();
    const uint64_t version = r.u64();
    if (!error.empty()) {
      d.error = error;
      return d;
    }
    if (version != kWireVersion) {
      d.error = "unsupported wire version " + std::to_string(version);
      return d;
    }
    Reader fields(handle.get(), error);
    if (tag == kHelloTag) {
      d = decode_hello(fields);
    } else if (tag == kClientRequestTag) {
      d = decode_client_request(fields);
    } else if (tag == kClientResponseTag) {
      d = decode_client_response(fields);
    } else {
      d = decode_raft(fields, tag, error);
    }
    if (d.error.empty() && !error.empty()) d.error = error;
    if (!d.error.empty()) d.value = std::monostate{};
    return d;
  } catch (const std::exception& e) {
    d.error = std::string("malformed msgpack: ") + e.what();
    return d;
  }
}

void FrameDecoder::feed(std::string_view bytes) {
  if (failed_) return;
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

FrameDecoder::Status FrameDecoder::next(std::string& payload, std::string& error) {
  if (failed_) {
    error = "stream failed earlier";
    return Status::kError;
  }
  const size_t available = buffer_.size() - consumed_;
  if (available < kFrameHeaderBytes) return Status::kNeedMore;
  const auto* h = reinterpret_cast<const unsigned char*>(buffer_.data() + consumed_);
  const uint32_t length =
      (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | uint32_t{h[3]};
  if (length > kFrameBytesMax) {
    failed_ = true;
    error = "frame length " + std::to_string(length) + " exceeds the maximum " +
            std::to_string(kFrameBytesMax);
    return Status::kError;
  }
  if (available < kFrameHeaderBytes + length) return Status::kNeedMore;
  payload.assign(buffer_, consumed_ + kFrameHeaderBytes, length);
  consumed_ += kFrameHeaderBytes + length;
  if (consumed_ > (1u << 20) && consumed_ * 2 > buffer_.size()) {
    buffer_.erase(0, consumed_);  // keep the buffer from growing with the stream
    consumed_ = 0;
  }
  return Status::kFrame;
}

}  // namespace raftlab::net
