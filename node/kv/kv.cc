// The replicated key/value state machine: command codec, sessions, snapshot and restore.
#include "node/kv/kv.h"

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace raftlab::kv {
namespace {

// Fixed sizes of the encoded forms, for bounds checks and reserving.
constexpr size_t kCommandFixedBytes = 1 + 1 + 8 + 8 + 4 + 4 + 4;
constexpr size_t kEntryFixedBytes = 4 + 4;                    // one key/value pair
constexpr size_t kSessionFixedBytes = 8 + 8 + 8 + 1 + 1 + 4;  // one session

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_u32(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

// Reads little-endian integers and length-prefixed byte strings from a view, refusing to read
// past its end. Every read returns false (and consumes nothing) when the bytes are short.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  size_t remaining() const { return rest_.size(); }

  template <typename T>
  bool little_endian(T& v) {
    if (rest_.size() < sizeof(T)) return false;
    v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= T{static_cast<uint8_t>(rest_[i])} << (8 * i);
    rest_.remove_prefix(sizeof(T));
    return true;
  }

  bool u8(uint8_t& v) {
    if (rest_.empty()) return false;
    v = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return true;
  }

  bool u32(uint32_t& v) { return little_endian(v); }
  bool u64(uint64_t& v) { return little_endian(v); }

  // A u32 length, at most `max`, followed by that many bytes. On failure `error` says why.
  bool bytes(std::string_view& v, size_t max, const char* what, std::string& error) {
    uint32_t len = 0;
    if (!u32(len)) {
      error = std::string("truncated before the length of ") + what;
      return false;
    }
    if (len > max) {
      error =
          std::string(what) + " length " + std::to_string(len) + " exceeds " + std::to_string(max);
      return false;
    }
    if (len > rest_.size()) {
      error = std::string(what) + " length " + std::to_string(len) + " exceeds the " +
              std::to_string(rest_.size()) + " bytes left";
      return false;
    }
    v = rest_.substr(0, len);
    rest_.remove_prefix(len);
    return true;
  }

 private:
  std::string_view rest_;
};

// A decoded command whose strings still point into the command bytes, so that apply copies
// only what it keeps.
struct CommandView {
  Op op = Op::kPut;
  uint64_t client = 0;
  uint64_t seq = 0;
  std::string_view key;
  std::string_view value;
  std::string_view expected;
};

bool valid_op(uint8_t op) {
  return op >= static_cast<uint8_t>(Op::kPut) && op <= static_cast<uint8_t>(Op::kCas);
}

// Parses command bytes; on failure returns false with `error` set.
bool parse_command(std::string_view bytes, CommandView& c, std::string& error) {
  Reader in(bytes);
  uint8_t format = 0;
  uint8_t op = 0;
  if (!in.u8(format)) {
    error = "empty command";
    return false;
  }
  if (format != kCommandFormat) {
    error = "unknown command format " + std::to_string(format);
    return false;
  }
  if (!in.u8(op)) {
    error = "truncated before the op";
    return false;
  }
  if (!valid_op(op)) {
    error = "unknown op " + std::to_string(op);
    return false;
  }
  c.op = static_cast<Op>(op);
  if (!in.u64(c.client)) {
    error = "truncated before the client";
    return false;
  }
  if (!in.u64(c.seq)) {
    error = "truncated before the seq";
    return false;
  }
  if (c.seq == 0) {
    error = "seq 0";
    return false;
  }
  if (!in.bytes(c.key, kKeyBytesMax, "key", error) ||
      !in.bytes(c.value, kValueBytesMax, "value", error) ||
      !in.bytes(c.expected, kValueBytesMax, "expected", error)) {
    return false;
  }
  if (in.remaining() != 0) {
    error = std::to_string(in.remaining()) + " trailing bytes after the command";
    return false;
  }
  if (c.op == Op::kDelete && !c.value.empty()) {
    error = "delete with a value";
    return false;
  }
  return true;
}

Result with_status(Status status) { return Result{status, std::nullopt}; }

// Runs one parsed command against the data. Only an append past kValueBytesMax can still
// fail, and it is checked before anything changes: then it returns nullopt.
std::optional<Result> execute(const CommandView& c, Store& data) {
  Result result;
  switch (c.op) {
    case Op::kPut:
      data.set(c.key, c.value);
      result.value.emplace(c.value);
      break;
    case Op::kAppend: {
      const std::optional<std::string_view> value = data.append(c.key, c.value, kValueBytesMax);
      if (!value) return std::nullopt;
      result.value.emplace(*value);
      break;
    }
    case Op::kDelete:
      result.value = data.erase(c.key);
      break;
    case Op::kCas: {
      const std::optional<std::string_view> found = data.find(c.key);
      if (found && *found == c.expected) {
        data.set(c.key, c.value);
        result.value.emplace(c.value);
      } else {
        result.status = Status::kCasMismatch;
        if (found) result.value.emplace(*found);
      }
      break;
    }
  }
  return result;
}

// What a session keeps of a command's result: all of it, except a put's value, which the
// put's retry carries again (kv.h, Sessions).
Result cached_form(Op op, const Result& result) {
  if (op == Op::kPut) return Result{result.status, std::nullopt};
  return result;
}

// A duplicate's answer from the session's cached result: a put cached without its value gets
// the retried command's own value back.
Result replay(const CommandView& c, const Result& cached) {
  if (c.op == Op::kPut && cached.status == Status::kOk && !cached.value) {
    return Result{Status::kOk, std::string(c.value)};
  }
  return cached;
}

// Reads a snapshot's key count and its keys and values into `data`. Returns "" or what is
// wrong.
std::string read_data(Reader& in, Store& data) {
  std::string error;
  uint64_t key_count = 0;
  if (!in.u64(key_count)) return "snapshot truncated before the key count";
  if (key_count > in.remaining() / kEntryFixedBytes) {
    return "key count " + std::to_string(key_count) + " exceeds the bytes left";
  }
  std::string_view previous;
  for (uint64_t i = 0; i < key_count; ++i) {
    std::string_view key;
    std::string_view value;
    if (!in.bytes(key, kKeyBytesMax, "key", error) ||
        !in.bytes(value, kValueBytesMax, "value", error)) {
      return "snapshot key " + std::to_string(i) + ": " + error;
    }
    if (i > 0 && !(previous < key)) return "snapshot key " + std::to_string(i) + " out of order";
    previous = key;
    data.set(key, value);
  }
  return "";
}

// One session as a snapshot stores it, before it is checked.
struct SessionRecord {
  uint64_t client = 0;
  uint64_t seq = 0;
  uint64_t last_index = 0;
  uint8_t status = 0;
  uint8_t has_value = 0;
  std::string_view value;
};

// Reads one session record. Returns "" or what is wrong.
std::string read_session(Reader& in, SessionRecord& r) {
  if (!in.u64(r.client) || !in.u64(r.seq) || !in.u64(r.last_index) || !in.u8(r.status) ||
      !in.u8(r.has_value)) {
    return "truncated";
  }
  std::string error;
  if (!in.bytes(r.value, kValueBytesMax, "value", error)) return error;
  return "";
}

// Checks a session record's own fields against the snapshot's applied index. Returns "" or
// what is wrong.
std::string check_session(const SessionRecord& r, uint64_t applied) {
  if (r.seq == 0) return "seq 0";
  if (r.last_index == 0 || r.last_index > applied) {
    return "last index " + std::to_string(r.last_index) + " outside 1.." + std::to_string(applied);
  }
  // Only applied commands are cached, so only these two statuses can appear.
  if (r.status != static_cast<uint8_t>(Status::kOk) &&
      r.status != static_cast<uint8_t>(Status::kCasMismatch)) {
    return "bad status " + std::to_string(r.status);
  }
  if (r.has_value > 1) return "bad has_value " + std::to_string(r.has_value);
  if (r.has_value == 0 && !r.value.empty()) return "a value without has_value";
  return "";
}

}  // namespace

// Encoded snapshot bytes, either handed to a sink in pieces of at most kSnapshotPieceBytes (a
// run of bytes longer than that goes to the sink alone) or appended to one string whole.
class SnapshotWriter {
 public:
  explicit SnapshotWriter(const std::function<void(std::string_view)>& sink)
      : sink_(&sink), out_(buffer_) {
    buffer_.reserve(kSnapshotPieceBytes);
  }
  explicit SnapshotWriter(std::string& whole) : out_(whole) {}
  SnapshotWriter(const SnapshotWriter&) = delete;  // out_ may point at the own buffer_
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  void u8(uint8_t v) {
    const char byte = static_cast<char>(v);
    raw(std::string_view(&byte, 1));
  }
  void u32(uint32_t v) { little_endian(v); }
  void u64(uint64_t v) { little_endian(v); }
  void bytes(std::string_view v) {
    u32(static_cast<uint32_t>(v.size()));
    raw(v);
  }

  void raw(std::string_view v) {
    if (sink_ != nullptr && out_.size() + v.size() > kSnapshotPieceBytes) flush();
    if (sink_ != nullptr && v.size() > kSnapshotPieceBytes) {
      (*sink_)(v);
      return;
    }
    out_.append(v);
  }

  // Hands what is buffered to the sink (nothing to do when writing whole).
  void flush() {
    if (sink_ == nullptr) return;
    if (!out_.empty()) (*sink_)(out_);
    out_.clear();
  }

 private:
  template <typename T>
  void little_endian(T v) {
    char bytes[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    raw(std::string_view(bytes, sizeof(T)));
  }

  const std::function<void(std::string_view)>* sink_ = nullptr;  // nullptr: writing whole
  std::string buffer_;                                           // the piece, with a sink
  std::string& out_;                                             // buffer_ or the whole
};

const char* to_string(Op op) {
  switch (op) {
    case Op::kPut:
      return "put";
    case Op::kAppend:
      return "append";
    case Op::kDelete:
      return "delete";
    case Op::kCas:
      return "cas";
  }
  return "?";
}

const char* to_string(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kCasMismatch:
      return "cas-mismatch";
    case Status::kSessionExpired:
      return "session-expired";
    case Status::kStaleSeq:
      return "stale-seq";
    case Status::kInvalid:
      return "invalid";
  }
  return "?";
}

std::string encode(const Command& command) {
  std::string out;
  out.reserve(kCommandFixedBytes + command.key.size() + command.value.size() +
              command.expected.size());
  put_u8(out, kCommandFormat);
  put_u8(out, static_cast<uint8_t>(command.op));
  put_u64(out, command.client);
  put_u64(out, command.seq);
  put_bytes(out, command.key);
  put_bytes(out, command.value);
  put_bytes(out, command.expected);
  return out;
}

std::optional<Command> decode(std::string_view bytes, std::string* error) {
  CommandView view;
  std::string why;
  if (!parse_command(bytes, view, why)) {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  }
  if (error != nullptr) error->clear();
  return Command{view.op,
                 view.client,
                 view.seq,
                 std::string(view.key),
                 std::string(view.value),
                 std::string(view.expected)};
}

Result StateMachine::apply(Index index, std::string_view command_bytes) {
  if (index <= applied_) {
    throw std::logic_error("kv apply at index " + std::to_string(index.get()) +
                           " not after applied index " + std::to_string(applied_.get()));
  }
  applied_ = index;

  CommandView c;
  std::string error;
  if (!parse_command(command_bytes, c, error)) return with_status(Status::kInvalid);

  const auto session = sessions_.find(c.client);
  if (session != sessions_.end()) {
    if (c.seq == session->second.seq) return replay(c, session->second.last);
    if (c.seq < session->second.seq) return with_status(Status::kStaleSeq);
  } else if (c.seq != 1) {
    return with_status(Status::kSessionExpired);
  }

  std::optional<Result> result = execute(c, data_);
  if (!result) return with_status(Status::kInvalid);
  remember(session, c.client, c.seq, index, cached_form(c.op, *result));
  return std::move(*result);
}

// Records the result in the client's session, dropping the least recently applied session
// first if a new one would exceed kSessionsMax.
void StateMachine::remember(Sessions::iterator session, uint64_t client, uint64_t seq, Index index,
                            Result result) {
  Session* s = nullptr;
  if (session != sessions_.end()) {
    s = &session->second;
    session_order_.erase(s->last_index);
  } else {
    if (sessions_.size() >= kSessionsMax) {
      const auto oldest = session_order_.begin();
      sessions_.erase(oldest->second);
      session_order_.erase(oldest);
    }
    s = &sessions_.try_emplace(client).first->second;
  }
  s->seq = seq;
  s->last_index = index;
  s->last = std::move(result);
  session_order_.emplace_hint(session_order_.end(), index, client);
}

void StateMachine::skip(Index index) {
  if (index <= applied_) {
    throw std::logic_error("kv skip at index " + std::to_string(index.get()) +
                           " not after applied index " + std::to_string(applied_.get()));
  }
  applied_ = index;
}

std::optional<std::string> StateMachine::get(std::string_view key) const {
  const std::optional<std::string_view> value = data_.find(key);
  if (!value) return std::nullopt;
  return std::string(*value);
}

void StateMachine::write_snapshot(const std::function<void(std::string_view)>& sink) const {
  SnapshotWriter out(sink);
  encode_snapshot(out);
  out.flush();
}

size_t StateMachine::snapshot_size() const {
  size_t total = 1 + 8 + 8 + data_.size() * kEntryFixedBytes + data_.bytes() + 8 +
                 sessions_.size() * kSessionFixedBytes;
  for (const auto& [client, s] : sessions_) total += s.last.value ? s.last.value->size() : 0;
  return total;
}

std::string StateMachine::snapshot() const {
  std::string whole;
  whole.reserve(snapshot_size());
  SnapshotWriter out(whole);
  encode_snapshot(out);
  return whole;
}

void StateMachine::encode_snapshot(SnapshotWriter& out) const {
  out.u8(kSnapshotFormat);
  out.u64(applied_.get());
  out.u64(data_.size());
  const std::vector<const char*> blocks = data_.sorted();
  // Sorted blocks lie scattered over the heap: fetching a few ahead overlaps the cache misses.
  constexpr size_t kPrefetchAhead = 4;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i + kPrefetchAhead < blocks.size()) Store::prefetch(blocks[i + kPrefetchAhead]);
    const Store::Entry e = Store::entry(blocks[i]);
    out.bytes(e.key);
    out.bytes(e.value);
  }
  out.u64(sessions_.size());
  for (const auto& [client, s] : sessions_) {
    out.u64(client);
    out.u64(s.seq);
    out.u64(s.last_index.get());
    out.u8(static_cast<uint8_t>(s.last.status));
    out.u8(s.last.value.has_value() ? 1 : 0);
    out.bytes(s.last.value ? std::string_view(*s.last.value) : std::string_view());
  }
}

std::string StateMachine::restore(std::string_view bytes) {
  Reader in(bytes);

  uint8_t format = 0;
  if (!in.u8(format)) return "empty snapshot";
  if (format != kSnapshotFormat) return "unknown snapshot format " + std::to_string(format);
  uint64_t applied = 0;
  if (!in.u64(applied)) return "snapshot truncated before the applied index";

  Store data;
  if (std::string error = read_data(in, data); !error.empty()) return error;

  uint64_t session_count = 0;
  if (!in.u64(session_count)) return "snapshot truncated before the session count";
  if (session_count > kSessionsMax) {
    return "session count " + std::to_string(session_count) + " exceeds " +
           std::to_string(kSessionsMax);
  }
  if (session_count > in.remaining() / kSessionFixedBytes) {
    return "session count " + std::to_string(session_count) + " exceeds the bytes left";
  }
  Sessions sessions;
  std::map<Index, uint64_t> session_order;
  for (uint64_t i = 0; i < session_count; ++i) {
    const std::string where = "snapshot session " + std::to_string(i) + ": ";
    SessionRecord r;
    if (std::string error = read_session(in, r); !error.empty()) return where + error;
    if (!sessions.empty() && sessions.rbegin()->first >= r.client) return where + "out of order";
    if (std::string error = check_session(r, applied); !error.empty()) return where + error;
    if (!session_order.emplace(Index(r.last_index), r.client).second) {
      return where + "last index " + std::to_string(r.last_index) + " shared with another session";
    }
    Session& s = sessions.emplace_hint(sessions.end(), r.client, Session{})->second;
    s.seq = r.seq;
    s.last_index = Index(r.last_index);
    s.last.status = static_cast<Status>(r.status);
    if (r.has_value == 1) s.last.value.emplace(r.value);
  }
  if (in.remaining() != 0) {
    return std::to_string(in.remaining()) + " trailing bytes after the snapshot";
  }

  data_ = std::move(data);
  sessions_ = std::move(sessions);
  session_order_ = std::move(session_order);
  applied_ = Index(applied);
  return "";
}

}  // namespace raftlab::kv
