// A log entry in words (see describe.h).
#include "node/kv/describe.h"

#include <algorithm>

namespace raftlab::kv {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr uint8_t kFirstPrintable = 0x20;  // space
constexpr uint8_t kLastPrintable = 0x7e;   // '~'

void append_hex(std::string& out, unsigned char c) {
  out += "\\x";
  out.push_back(kHexDigits[c >> 4]);
  out.push_back(kHexDigits[c & 15]);
}

// "client 7 seq 3": the session that makes a retried write apply once (kv.h).
std::string session_text(const Command& c) {
  return "client " + std::to_string(c.client) + " seq " + std::to_string(c.seq);
}

std::string command_text(const Command& c) {
  std::string out = std::string(to_string(c.op)) + " " + quote_bytes(c.key);
  switch (c.op) {
    case Op::kPut:
    case Op::kAppend:
      out += " " + quote_bytes(c.value);
      break;
    case Op::kCas:
      out += " " + quote_bytes(c.expected) + " -> " + quote_bytes(c.value);
      break;
    case Op::kDelete:
      break;
  }
  return out + " " + session_text(c);
}

EntryDescription undecodable(std::string what, std::string problem, std::string_view data) {
  EntryDescription d;
  d.kind = EntryKind::kUndecodable;
  d.text = "undecodable " + what + " (" + problem + "): " + quote_bytes(data);
  // quote_bytes gives the length only after a cut; an undecodable payload always shows it.
  if (data.size() <= kShownBytesMax) d.text += " (" + std::to_string(data.size()) + " B)";
  d.problem = std::move(problem);
  return d;
}

}  // namespace

std::string escape_bytes(std::string_view bytes, size_t shown_max, bool escape_quote) {
  std::string out;
  const size_t n = std::min(bytes.size(), shown_max);
  out.reserve(n + 8);
  for (size_t k = 0; k < n; ++k) {
    const auto c = static_cast<unsigned char>(bytes[k]);
    if (escape_quote && (c == '"' || c == '\\')) {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c >= kFirstPrintable && c <= kLastPrintable && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      append_hex(out, c);
    }
  }
  if (bytes.size() > n) out += "...";
  return out;
}

std::string quote_bytes(std::string_view bytes, size_t shown_max) {
  std::string out = "\"" + escape_bytes(bytes, shown_max) + "\"";
  if (bytes.size() > shown_max) out += " (" + std::to_string(bytes.size()) + " B)";
  return out;
}

EntryDescription describe_entry(EntryType type, std::string_view data) {
  switch (type) {
    case EntryType::kNoop: {
      if (!data.empty()) return undecodable("noop", "a no-op carries no bytes", data);
      EntryDescription d;
      d.kind = EntryKind::kNoop;
      d.text = "noop";
      return d;
    }
    case EntryType::kConfig: {
      EntryDescription d;
      if (!decode_membership(data, d.membership)) {
        return undecodable("config", "not voters=IDS;learners=IDS", data);
      }
      d.kind = EntryKind::kConfig;
      d.text = "config " + describe(d.membership);
      return d;
    }
    case EntryType::kNormal: {
      std::string error;
      std::optional<Command> c = decode(data, &error);
      if (!c) return undecodable("command", error, data);
      EntryDescription d;
      d.kind = EntryKind::kCommand;
      d.text = command_text(*c);
      d.command = std::move(c);
      return d;
    }
  }
  return undecodable("entry", "unknown entry type " + std::to_string(static_cast<int>(type)), data);
}

}  // namespace raftlab::kv
