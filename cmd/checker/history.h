// The history that `raftlab check` records and checks (docs/history-format.md): one JSON
// object per line, parsed by a hand-written strict parser (a generic JSON library is several
// times slower on 100,000-line files), validated, and paired into operations; and the writer
// that records one.
//
// Accepted lines (blank lines are skipped, unknown fields are ignored, field order is free):
//   {"process": 3, "type": "invoke", "f": "put", "key": "k1", "value": "x", "time": 1234}
//   {"process": 3, "type": "ok", "f": "put", "key": "k1", "time": 1299}
//   {"process": 1, "type": "ok", "f": "get", "key": "k1", "value": null, "time": 1300}
//   {"process": 2, "type": "invoke", "f": "cas", "key": "k1", "value": ["old", "new"], ...}
//   {"process": "nemesis", "type": "info", "f": "partition", "value": "1,2 | 3", "time": 9}
//   - process: a non-negative integer, or "nemesis". type: invoke, ok, fail or info.
//   - f: put, get, append, cas or delete for client lines (any string for the nemesis).
//   - key: a string, required on client lines.
//   - value: put/append invoke: the written string. get ok: the string read, or null when the
//     key is absent ("" is not absent). cas invoke: [old, new] with old a string or null (null:
//     the key must be absent) and new a string. Ignored elsewhere on client lines; on nemesis
//     lines any JSON, kept as text.
//   - time: integer nanoseconds >= 0, never smaller than the previous line's time.
// Pairing: an invoke is completed by the next ok/fail/info line of the same process; a second
// invoke before that, a completion with nothing open, or a completion whose f or key differ
// from its invoke is malformed. An invoke still open at end of file is pending (outcome
// unknown, like info). Strings may hold raw bytes >= 0x80; they are kept as bytes, unchecked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace raftlab::check {

/// The operation kinds of the key/value store (docs/design.md §8).
enum class Fn : uint8_t { kPut, kGet, kAppend, kCas, kDelete };
const char* to_string(Fn f);
std::optional<Fn> parse_fn(std::string_view name);

/// The `type` of a history line.
enum class EventType : uint8_t { kInvoke, kOk, kFail, kInfo };
const char* to_string(EventType type);

/// How an operation ended. kPending: still open at end of file (treated like kInfo).
enum class Outcome : uint8_t { kOk, kFail, kInfo, kPending };
const char* to_string(Outcome outcome);

constexpr int64_t kNoTime = -1;

/// One client operation: an invoke line and its completion line, if any.
struct Operation {
  uint64_t process = 0;
  Fn f = Fn::kGet;
  Outcome outcome = Outcome::kPending;
  uint32_t key = 0;                  // index into History::keys
  std::optional<std::string> value;  // put/append: written; cas: new; get ok: read (nullopt: null)
  std::optional<std::string> expected;  // cas: the old value (nullopt: the key must be absent)
  int64_t call_time = 0;                // ns
  int64_t return_time = kNoTime;        // ns of the completion line; kNoTime when pending
  uint32_t call_line = 0;               // 1-based
  uint32_t return_line = 0;             // 0 when pending

  /// True for info and pending: the operation may or may not have taken effect.
  bool unknown() const { return outcome == Outcome::kInfo || outcome == Outcome::kPending; }
};

/// One nemesis line, kept for the report and the timeline.
struct NemesisEvent {
  int64_t time = 0;
  EventType type = EventType::kInfo;
  std::string f;
  std::string value;  // a string as is; null as ""; any other JSON as its text in the file
  uint32_t line = 0;
};

struct History {
  std::vector<std::string> keys;      // in order of first appearance
  std::vector<Operation> ops;         // in order of their invoke lines (so by call time)
  std::vector<NemesisEvent> nemesis;  // in file order
  uint32_t lines = 0;                 // lines in the file, blank ones included
  size_t processes = 0;               // distinct client process ids
  int64_t first_time = 0;             // time of the first line with a time (0 if none)
  int64_t last_time = 0;              // time of the last line
};

/// A malformed history: the message names the line ("line 2: \"time\" must be an integer ...").
class HistoryError : public std::runtime_error {
 public:
  HistoryError(size_t line, const std::string& detail);
  size_t line() const { return line_; }
  /// The message without the "line N: " prefix.
  const std::string& detail() const { return detail_; }

 private:
  size_t line_;
  std::string detail_;
};

/// A history file that cannot be opened or read (missing, a directory, no permission).
class HistoryFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses a whole history. Throws HistoryError on the first malformed line.
History parse_history(std::string_view text);
/// Reads and parses a file. Throws HistoryFileError (unreadable) or HistoryError (malformed).
History load_history(const std::string& path);

/// One client line to write.
struct ClientEvent {
  uint64_t process = 0;
  EventType type = EventType::kInvoke;
  Fn f = Fn::kGet;
  std::string_view key;
  // put/append invoke: the written value; get ok: the value read (nullopt: absent); cas invoke:
  // the new value. Written as null when nullopt; elsewhere it may be left nullopt.
  std::optional<std::string_view> value;
  std::optional<std::string_view> expected;  // cas invoke: the old value (nullopt: absent)
  int64_t time = 0;                          // ns
};

/// One history line (with its '\n') for a client event. A cas invoke writes
/// "value": [expected, value].
std::string format_event(const ClientEvent& event);
/// One nemesis line (with its '\n'): {"process":"nemesis","type":"info","f":..,"value":..}.
std::string format_nemesis(std::string_view f, std::string_view value, int64_t time,
                           EventType type = EventType::kInfo);
/// Appends `text` as a JSON string literal (with quotes). Control characters are written as
/// \u00XX. Every byte >= 0x80 is written as \u00XX too (its Latin-1 code point): the mapping
/// is byte by byte, so it is injective and keeps concatenation and substrings intact, which
/// the append model relies on; valid UTF-8 text is therefore not kept readable in the file.
/// Arbitrary bytes always give valid JSON.
void append_json_string(std::string& out, std::string_view text);

/// Writes a history file line by line. Not thread-safe: one writer, one thread.
class HistoryWriter {
 public:
  /// Creates or truncates `path`. Throws HistoryFileError.
  explicit HistoryWriter(const std::string& path);
  ~HistoryWriter();
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  void write(const ClientEvent& event);
  void write_nemesis(std::string_view f, std::string_view value, int64_t time,
                     EventType type = EventType::kInfo);
  /// Pushes buffered lines to the file. Throws HistoryFileError on a write error.
  void flush();
  /// Flushes and closes; later writes throw. Throws HistoryFileError on a write error.
  void close();
  const std::string& path() const { return path_; }
  uint64_t lines_written() const { return lines_; }

 private:
  void append(const std::string& line);

  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;  // flushed when it passes kBufferBytesMax, on flush() and on close()
  uint64_t lines_ = 0;
};

}  // namespace raftlab::check
