// History parsing and writing (see history.h for the format).
#include "cmd/checker/history.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <unordered_map>
#include <utility>

namespace raftlab::check {

const char* to_string(Fn f) {
  switch (f) {
    case Fn::kPut:
      return "put";
    case Fn::kGet:
      return "get";
    case Fn::kAppend:
      return "append";
    case Fn::kCas:
      return "cas";
    case Fn::kDelete:
      return "delete";
  }
  return "?";
}

std::optional<Fn> parse_fn(std::string_view name) {
  if (name == "put") return Fn::kPut;
  if (name == "get") return Fn::kGet;
  if (name == "append") return Fn::kAppend;
  if (name == "cas") return Fn::kCas;
  if (name == "delete") return Fn::kDelete;
  return std::nullopt;
}

const char* to_string(EventType type) {
  switch (type) {
    case EventType::kInvoke:
      return "invoke";
    case EventType::kOk:
      return "ok";
    case EventType::kFail:
      return "fail";
    case EventType::kInfo:
      return "info";
  }
  return "?";
}

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kFail:
      return "fail";
    case Outcome::kInfo:
      return "info";
    case Outcome::kPending:
      return "pending";
  }
  return "?";
}

HistoryError::HistoryError(size_t line, const std::string& detail)
    : std::runtime_error("line " + std::to_string(line) + ": " + detail),
      line_(line),
      detail_(detail) {}

namespace {

constexpr size_t kQuoteBytesMax = 40;  // how much of a bad token an error message shows
constexpr uint32_t kLinesMax = UINT32_MAX - 1;

// A short, printable excerpt of the input for error messages.
std::string excerpt(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kQuoteBytesMax)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (text.size() > kQuoteBytesMax) out += "...";
  return out;
}

std::string quoted(std::string_view text) { return "\"" + excerpt(text) + "\""; }

// Thrown inside the line parser; turned into a HistoryError with the line number.
struct LineError {
  std::string detail;
};

[[noreturn]] void fail(std::string detail) { throw LineError{std::move(detail)}; }

// What a field's value was, for the fields whose type matters.
enum class ValueKind : uint8_t { kAbsent, kNull, kString, kPair, kOther };

// The fields of one line. Buffers are reused from line to line to avoid allocations.
struct RawLine {
  bool has_process = false;
  bool nemesis = false;
  uint64_t process = 0;
  bool has_type = false;
  EventType type = EventType::kInvoke;
  bool has_f = false;
  std::string f;
  bool has_key = false;
  bool key_is_string = false;
  std::string key;
  ValueKind value_kind = ValueKind::kAbsent;
  std::string value;  // kString: the string; kPair: the second element
  bool pair_first_null = false;
  std::string pair_first;      // kPair: the first element when it is a string
  std::string_view value_raw;  // the value's text in the line
  bool has_time = false;
  int64_t time = 0;

  void reset() {
    has_process = nemesis = has_type = has_f = has_key = key_is_string = has_time = false;
    value_kind = ValueKind::kAbsent;
    pair_first_null = false;
    process = 0;
    time = 0;
  }
};

// A strict JSON parser for one line holding one flat object.
class LineParser {
 public:
  explicit LineParser(std::string_view line) : p_(line.data()), end_(line.data() + line.size()) {}

  void parse(RawLine& out) {
    skip_ws();
    if (p_ == end_) fail("empty line");  // not reached: blank lines are skipped before
    if (*p_ != '{') fail("expected a JSON object, got " + quoted(rest()));
    ++p_;
    skip_ws();
    uint32_t seen = 0;  // bit per known field, to reject duplicates
    if (peek() == '}') {
      ++p_;
    } else {
      while (true) {
        skip_ws();
        if (peek() != '"') fail("expected a field name in quotes, got " + quoted(rest()));
        parse_string(name_);
        skip_ws();
        expect(':');
        skip_ws();
        const int field = field_index(name_);
        if (field >= 0) {
          const uint32_t bit = 1u << field;
          if (seen & bit) fail("duplicate field " + quoted(name_));
          seen |= bit;
        }
        switch (field) {
          case 0:
            parse_process(out);
            break;
          case 1:
            parse_type(out);
            break;
          case 2:
            if (peek() != '"') fail("\"f\" must be a string, got " + quoted(rest()));
            parse_string(out.f);
            out.has_f = true;
            break;
          case 3:
            out.has_key = true;
            if (peek() == '"') {
              parse_string(out.key);
              out.key_is_string = true;
            } else {
              skip_value(0);
            }
            break;
          case 4:
            parse_value(out);
            break;
          case 5:
            parse_time(out);
            break;
          default:
            skip_value(0);
            break;
        }
        skip_ws();
        if (peek() == ',') {
          ++p_;
          continue;
        }
        if (peek() == '}') {
          ++p_;
          break;
        }
        if (p_ == end_) fail("unterminated JSON object (missing '}')");
        fail("expected ',' or '}' after a field, got " + quoted(rest()));
      }
    }
    skip_ws();
    if (p_ != end_) fail("unexpected text after the JSON object: " + quoted(rest()));
  }

 private:
  static constexpr int kDepthMax = 64;  // nesting bound for skipped values

  static int field_index(std::string_view name) {
    if (name == "process") return 0;
    if (name == "type") return 1;
    if (name == "f") return 2;
    if (name == "key") return 3;
    if (name == "value") return 4;
    if (name == "time") return 5;
    return -1;
  }

  char peek() const { return p_ < end_ ? *p_ : '\0'; }
  std::string_view rest() const { return {p_, static_cast<size_t>(end_ - p_)}; }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\r' || *p_ == '\n')) ++p_;
  }

  void expect(char c) {
    if (peek() != c) {
      if (p_ == end_) fail(std::string("unexpected end of line, expected '") + c + "'");
      fail(std::string("expected '") + c + "', got " + quoted(rest()));
    }
    ++p_;
  }

  void expect_word(std::string_view word) {
    if (rest().substr(0, word.size()) != word) fail("invalid JSON value " + quoted(rest()));
    p_ += word.size();
  }

  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  uint32_t parse_hex4() {
    if (end_ - p_ < 4) fail("truncated \\u escape in a string");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hex_digit(p_[i]);
      if (d < 0) fail("invalid \\u escape " + quoted(std::string_view(p_ - 2, 6)));
      v = v * 16 + static_cast<uint32_t>(d);
    }
    p_ += 4;
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Parses a string literal at p_ (which is '"') into `out`.
  void parse_string(std::string& out) {
    out.clear();
    ++p_;
    while (true) {
      const char* run = p_;
      while (p_ < end_) {
        const auto c = static_cast<unsigned char>(*p_);
        if (c == '"' || c == '\\' || c < 0x20) break;
        ++p_;
      }
      out.append(run, static_cast<size_t>(p_ - run));
      if (p_ == end_) fail("unterminated string");
      const char c = *p_;
      if (c == '"') {
        ++p_;
        return;
      }
      if (c != '\\') fail("raw control character in a string (use an escape such as \\n)");
      ++p_;
      if (p_ == end_) fail("unterminated string");
      const char e = *p_++;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
              fail("lone high surrogate in a \\u escape");
            }
            p_ += 2;
            const uint32_t low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("invalid surrogate pair in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("lone low surrogate in a \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail(std::string("invalid escape \\") + e + " in a string");
      }
    }
  }

  // Scans a JSON number at p_. Returns its text; sets `integer` when it has no fraction or
  // exponent.
  std::string_view scan_number(bool& integer) {
    const char* start = p_;
    if (peek() == '-') ++p_;
    if (peek() == '0') {
      ++p_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++p_;
    } else {
      fail("invalid JSON value " + quoted(std::string_view(start, end_ - start)));
    }
    integer = true;
    if (peek() == '.') {
      integer = false;
      ++p_;
      if (!(peek() >= '0' && peek() <= '9')) fail("invalid number: digits expected after '.'");
      while (peek() >= '0' && peek() <= '9') ++p_;
    }
    if (peek() == 'e' || peek() == 'E') {
      integer = false;
      ++p_;
      if (peek() == '+' || peek() == '-') ++p_;
      if (!(peek() >= '0' && peek() <= '9')) fail("invalid number: digits expected in exponent");
      while (peek() >= '0' && peek() <= '9') ++p_;
    }
    return {start, static_cast<size_t>(p_ - start)};
  }

  // Skips any JSON value, checking its syntax.
  void skip_value(int depth) {
    if (depth > kDepthMax) fail("JSON value nested too deeply");
    switch (peek()) {
      case '"':
        parse_string(scratch_);
        return;
      case '{': {
        ++p_;
        skip_ws();
        if (peek() == '}') {
          ++p_;
          return;
        }
        while (true) {
          skip_ws();
          if (peek() != '"') fail("expected a field name in quotes, got " + quoted(rest()));
          parse_string(scratch_);
          skip_ws();
          expect(':');
          skip_ws();
          skip_value(depth + 1);
          skip_ws();
          if (peek() == ',') {
            ++p_;
            continue;
          }
          expect('}');
          return;
        }
      }
      case '[': {
        ++p_;
        skip_ws();
        if (peek() == ']') {
          ++p_;
          return;
        }
        while (true) {
          skip_ws();
          skip_value(depth + 1);
          skip_ws();
          if (peek() == ',') {
            ++p_;
            continue;
          }
          expect(']');
          return;
        }
      }
      case 't':
        expect_word("true");
        return;
      case 'f':
        expect_word("false");
        return;
      case 'n':
        expect_word("null");
        return;
      case '\0':
        if (p_ == end_) fail("unexpected end of line, expected a JSON value");
        fail("invalid JSON value " + quoted(rest()));
      default: {
        bool integer = false;
        scan_number(integer);
        return;
      }
    }
  }

  // Parses a non-negative integer that fits int64; `what` names the field for messages.
  int64_t parse_nonnegative(const char* what) {
    bool integer = false;
    const std::string_view text = scan_number(integer);
    if (!integer)
      fail(std::string("\"") + what + "\" must be an integer (got " + excerpt(text) + ")");
    if (text[0] == '-') {
      fail(std::string("\"") + what + "\" must not be negative (got " + excerpt(text) + ")");
    }
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      fail(std::string("\"") + what + "\" is out of range (got " + excerpt(text) + ")");
    }
    return v;
  }

  void parse_process(RawLine& out) {
    out.has_process = true;
    if (peek() == '"') {
      parse_string(scratch_);
      if (scratch_ != "nemesis") {
        fail("\"process\" must be a non-negative integer or \"nemesis\" (got " + quoted(scratch_) +
             ")");
      }
      out.nemesis = true;
      return;
    }
    if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
      out.process = static_cast<uint64_t>(parse_nonnegative("process"));
      return;
    }
    const char* start = p_;
    skip_value(0);
    fail("\"process\" must be a non-negative integer or \"nemesis\" (got " +
         excerpt(std::string_view(start, static_cast<size_t>(p_ - start))) + ")");
  }

  void parse_type(RawLine& out) {
    if (peek() != '"') fail("\"type\" must be a string, got " + quoted(rest()));
    parse_string(scratch_);
    if (scratch_ == "invoke") {
      out.type = EventType::kInvoke;
    } else if (scratch_ == "ok") {
      out.type = EventType::kOk;
    } else if (scratch_ == "fail") {
      out.type = EventType::kFail;
    } else if (scratch_ == "info") {
      out.type = EventType::kInfo;
    } else {
      fail("unknown \"type\" " + quoted(scratch_) + " (expected invoke, ok, fail or info)");
    }
    out.has_type = true;
  }

  void parse_time(RawLine& out) {
    if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
      out.time = parse_nonnegative("time");
      out.has_time = true;
      return;
    }
    const char* start = p_;
    skip_value(0);
    fail("\"time\" must be an integer (got " +
         excerpt(std::string_view(start, static_cast<size_t>(p_ - start))) + ")");
  }

  void parse_value(RawLine& out) {
    const char* start = p_;
    const char c = peek();
    if (c == '"') {
      parse_string(out.value);
      out.value_kind = ValueKind::kString;
    } else if (c == 'n') {
      expect_word("null");
      out.value_kind = ValueKind::kNull;
    } else if (c == '[') {
      // A two-element array of string-or-null and string is a cas pair; anything else is kept
      // only as text.
      const char* save = p_;
      ++p_;
      skip_ws();
      bool pair = false;
      if (peek() == '"' || peek() == 'n') {
        if (peek() == '"') {
          parse_string(out.pair_first);
          out.pair_first_null = false;
        } else {
          expect_word("null");
          out.pair_first_null = true;
        }
        skip_ws();
        if (peek() == ',') {
          ++p_;
          skip_ws();
          if (peek() == '"') {
            parse_string(out.value);
            skip_ws();
            if (peek() == ']') {
              ++p_;
              pair = true;
            }
          }
        }
      }
      if (!pair) {
        p_ = save;
        skip_value(0);
      }
      out.value_kind = pair ? ValueKind::kPair : ValueKind::kOther;
    } else {
      skip_value(0);
      out.value_kind = ValueKind::kOther;
    }
    out.value_raw = std::string_view(start, static_cast<size_t>(p_ - start));
  }

  const char* p_;
  const char* end_;
  std::string name_;
  std::string scratch_;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Builds the History from parsed lines.
class Builder {
 public:
  explicit Builder(History& h) : h_(h) {}

  void add(const RawLine& l, uint32_t line_no) {
    if (!l.has_process) fail("missing field \"process\"");
    if (!l.has_type) fail("missing field \"type\"");
    if (!l.has_f) fail("missing field \"f\"");
    if (!l.has_time) fail("missing field \"time\"");
    if (have_time_ && l.time < last_time_) {
      fail("\"time\" " + std::to_string(l.time) + " is smaller than the previous line's (" +
           std::to_string(last_time_) + ")");
    }
    if (!have_time_) h_.first_time = l.time;
    have_time_ = true;
    last_time_ = l.time;
    h_.last_time = l.time;

    if (l.nemesis) {
      NemesisEvent e;
      e.time = l.time;
      e.type = l.type;
      e.f = l.f;
      if (l.value_kind == ValueKind::kString) {
        e.value = l.value;
      } else if (l.value_kind != ValueKind::kNull && l.value_kind != ValueKind::kAbsent) {
        e.value = std::string(l.value_raw);
      }
      e.line = line_no;
      h_.nemesis.push_back(std::move(e));
      return;
    }

    const std::optional<Fn> f = parse_fn(l.f);
    if (!f) fail("unknown \"f\" " + quoted(l.f) + " (expected put, get, append, cas or delete)");
    if (!l.has_key) fail("missing field \"key\"");
    if (!l.key_is_string) fail("\"key\" must be a string");

    if (l.type == EventType::kInvoke) {
      add_invoke(l, *f, line_no);
    } else {
      add_completion(l, *f, line_no);
    }
  }

  void finish() {
    // Whatever is still open stays kPending.
    h_.processes = processes_seen_;
  }

 private:
  uint32_t key_index(const std::string& key) {
    const auto it = keys_.find(std::string_view(key));
    if (it != keys_.end()) return it->second;
    const auto index = static_cast<uint32_t>(h_.keys.size());
    h_.keys.push_back(key);
    keys_.emplace(key, index);
    return index;
  }

  void add_invoke(const RawLine& l, Fn f, uint32_t line_no) {
    auto [it, inserted] = open_.try_emplace(l.process, kClosed);
    if (inserted) ++processes_seen_;
    if (it->second != kClosed) {
      const Operation& prev = h_.ops[it->second];
      fail("process " + std::to_string(l.process) + " invokes again while its " +
           to_string(prev.f) + " invoked on line " + std::to_string(prev.call_line) +
           " is still open");
    }
    Operation op;
    op.process = l.process;
    op.f = f;
    op.key = key_index(l.key);
    op.call_time = l.time;
    op.call_line = line_no;
    switch (f) {
      case Fn::kPut:
      case Fn::kAppend:
        if (l.value_kind != ValueKind::kString) {
          fail(std::string("a ") + to_string(f) + " invoke needs \"value\": a string");
        }
        op.value = l.value;
        break;
      case Fn::kCas:
        if (l.value_kind != ValueKind::kPair) {
          fail("a cas invoke needs \"value\": [old, new] (old a string or null, new a string)");
        }
        if (!l.pair_first_null) op.expected = l.pair_first;
        op.value = l.value;
        break;
      case Fn::kGet:
      case Fn::kDelete:
        break;  // the invoke's value carries nothing
    }
    it->second = static_cast<uint32_t>(h_.ops.size());
    h_.ops.push_back(std::move(op));
  }

  void add_completion(const RawLine& l, Fn f, uint32_t line_no) {
    const auto it = open_.find(l.process);
    if (it == open_.end() || it->second == kClosed) {
      fail(std::string("orphan completion: process ") + std::to_string(l.process) + " has no " +
           "open invoke for this " + to_string(l.type));
    }
    Operation& op = h_.ops[it->second];
    if (op.f != f) {
      fail(std::string("completion has \"f\" ") + quoted(l.f) + " but its invoke on line " +
           std::to_string(op.call_line) + " has " + quoted(to_string(op.f)));
    }
    if (h_.keys[op.key] != l.key) {
      fail("completion has \"key\" " + quoted(l.key) + " but its invoke on line " +
           std::to_string(op.call_line) + " has " + quoted(h_.keys[op.key]));
    }
    switch (l.type) {
      case EventType::kOk:
        op.outcome = Outcome::kOk;
        break;
      case EventType::kFail:
        op.outcome = Outcome::kFail;
        break;
      default:
        op.outcome = Outcome::kInfo;
        break;
    }
    if (f == Fn::kGet && l.type == EventType::kOk) {
      if (l.value_kind == ValueKind::kString) {
        op.value = l.value;
      } else if (l.value_kind != ValueKind::kNull) {
        fail("a get completion with type ok needs \"value\": the string read, or null");
      }
    }
    op.return_time = l.time;
    op.return_line = line_no;
    it->second = kClosed;
  }

  static constexpr uint32_t kClosed = UINT32_MAX;

  History& h_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> keys_;
  std::unordered_map<uint64_t, uint32_t> open_;  // process -> open op index or kClosed
  size_t processes_seen_ = 0;
  bool have_time_ = false;
  int64_t last_time_ = 0;
};

bool blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

History parse_history(std::string_view text) {
  History h;
  // A rough guess: two lines per operation of ~90 bytes each.
  h.ops.reserve(text.size() / 180 + 16);
  Builder builder(h);
  RawLine raw;
  uint32_t line_no = 0;
  size_t pos = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // a UTF-8 byte order mark
  while (pos < text.size()) {
    const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
    const size_t end =
        nl ? static_cast<size_t>(static_cast<const char*>(nl) - text.data()) : text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line_no == kLinesMax) throw HistoryError(line_no + 1, "too many lines");
    ++line_no;
    if (blank(line)) continue;
    try {
      raw.reset();
      LineParser(line).parse(raw);
      builder.add(raw, line_no);
    } catch (const LineError& e) {
      throw HistoryError(line_no, e.detail);
    }
  }
  builder.finish();
  h.lines = line_no;
  return h;
}

History load_history(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw HistoryFileError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    throw HistoryFileError("cannot read " + path + ": " +
                           (S_ISDIR(st.st_mode) ? "is a directory" : std::strerror(err)));
  }
  std::string text;
  text.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (true) {
    if (done == text.size()) text.resize(text.size() + 65536);  // the file grew
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw HistoryFileError("cannot read " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  return parse_history(text);
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '"') {
      out += "\\\"";
    } else if (u == '\\') {
      out += "\\\\";
    } else if (u == '\n') {
      out += "\\n";
    } else if (u == '\t') {
      out += "\\t";
    } else if (u == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u >= 0x7f) {
      // Control characters, DEL and every non-ASCII byte: \u00XX (see history.h).
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
}

std::string format_event(const ClientEvent& event) {
  std::string out;
  out.reserve(96 + event.key.size() + (event.value ? event.value->size() : 0));
  out += "{\"process\":";
  out += std::to_string(event.process);
  out += ",\"type\":\"";
  out += to_string(event.type);
  out += "\",\"f\":\"";
  out += to_string(event.f);
  out += "\",\"key\":";
  append_json_string(out, event.key);
  out += ",\"value\":";
  if (event.f == Fn::kCas && event.type == EventType::kInvoke) {
    out += '[';
    if (event.expected) {
      append_json_string(out, *event.expected);
    } else {
      out += "null";
    }
    out += ',';
    append_json_string(out, event.value.value_or(std::string_view()));
    out += ']';
  } else if (event.value) {
    append_json_string(out, *event.value);
  } else {
    out += "null";
  }
  out += ",\"time\":";
  out += std::to_string(event.time);
  out += "}\n";
  return out;
}

std::string format_nemesis(std::string_view f, std::string_view value, int64_t time,
                           EventType type) {
  std::string out;
  out += "{\"process\":\"nemesis\",\"type\":\"";
  out += to_string(type);
  out += "\",\"f\":";
  append_json_string(out, f);
  out += ",\"value\":";
  append_json_string(out, value);
  out += ",\"time\":";
  out += std::to_string(time);
  out += "}\n";
  return out;
}

namespace {
constexpr size_t kBufferBytesMax = 1 << 16;
}  // namespace

HistoryWriter::HistoryWriter(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) throw HistoryFileError("cannot create " + path + ": " + std::strerror(errno));
}

HistoryWriter::~HistoryWriter() {
  if (file_) {
    try {
      close();
    } catch (const HistoryFileError&) {
      // A destructor cannot report it; call close() to see write errors.
    }
  }
}

void HistoryWriter::append(const std::string& line) {
  if (!file_) throw HistoryFileError("history " + path_ + " is closed");
  buffer_ += line;
  ++lines_;
  if (buffer_.size() >= kBufferBytesMax) flush();
}

void HistoryWriter::write(const ClientEvent& event) { append(format_event(event)); }

void HistoryWriter::write_nemesis(std::string_view f, std::string_view value, int64_t time,
                                  EventType type) {
  append(format_nemesis(f, value, time, type));
}

void HistoryWriter::flush() {
  if (!file_) throw HistoryFileError("history " + path_ + " is closed");
  if (!buffer_.empty()) {
    const size_t size = buffer_.size();
    const size_t n = std::fwrite(buffer_.data(), 1, size, file_);
    buffer_.clear();
    if (n != size) {
      throw HistoryFileError("cannot write " + path_ + ": " + std::strerror(errno));
    }
  }
  if (std::fflush(file_) != 0) {
    throw HistoryFileError("cannot write " + path_ + ": " + std::strerror(errno));
  }
}

void HistoryWriter::close() {
  if (!file_) return;
  std::FILE* f = file_;
  try {
    flush();
  } catch (...) {
    std::fclose(f);
    file_ = nullptr;
    throw;
  }
  file_ = nullptr;
  if (std::fclose(f) != 0) {
    throw HistoryFileError("cannot write " + path_ + ": " + std::strerror(errno));
  }
}

}  // namespace raftlab::check
