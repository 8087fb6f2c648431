// A log entry in words, for `raftlab log dump` and whatever else reads a log to a person: the
// KV command a kNormal entry carries (op, key, values, the client's session), the members of a
// configuration entry, a no-op. Never fails: bytes that do not decode are described as such,
// with the decoder's reason and the bytes escaped, so one bad entry never stops a dump.
//
// Text forms (one line, ASCII only, safe on a terminal and inside JSON):
//   put "k1" "hello" client 7 seq 3          append "k1" ", world" client 7 seq 4
//   cas "k1" "old" -> "new" client 7 seq 5   delete "k1" client 7 seq 6
//   noop                                     config voters 1,2,3 learners 4
//   undecodable command (unknown op 9): "\x01\x09..." (26 B)
// Bytes are shown as printable ASCII, with \" and \\ escaped and every other byte as \xNN; a
// key or value longer than kShownBytesMax is cut after that many bytes, "..." and its length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "node/kv/kv.h"
#include "node/types.h"

namespace raftlab::kv {

constexpr size_t kShownBytesMax = 40;  // of one key or value, before it is cut

enum class EntryKind : uint8_t { kCommand, kNoop, kConfig, kUndecodable };

struct EntryDescription {
  EntryKind kind = EntryKind::kUndecodable;
  std::optional<Command> command;  // kCommand: the decoded command
  Membership membership;           // kConfig: the members it names
  std::string problem;             // kUndecodable: why the bytes do not decode
  std::string text;                // the one-line form above
};

/// The entry of `type` whose payload is `data`, in words (see the file comment).
EntryDescription describe_entry(EntryType type, std::string_view data);

/// At most `shown_max` bytes of `bytes` as ASCII (printable as is, others \xNN), then "..." if
/// cut. `escape_quote`: also write `"` as \" and `\` as \\ (inside quotes); otherwise `"` stays
/// and `\` is \x5c (the raw form of `log dump --raw`).
std::string escape_bytes(std::string_view bytes, size_t shown_max, bool escape_quote = true);

/// escape_bytes in double quotes, with the length after a cut: "abc..." (1234 B).
std::string quote_bytes(std::string_view bytes, size_t shown_max = kShownBytesMax);

}  // namespace raftlab::kv
