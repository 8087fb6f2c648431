// The cluster timeline of `raftlab timeline` (docs/trace.md, docs/trace.md): every node's
// trace (n<ID>/trace.1.jsonl then trace.jsonl), the CLI's actions (actions.jsonl) and, when
// given, a check or bench history, merged on one clock (CLOCK_MONOTONIC ns).
//
// Reading is strict: a line that is not a JSON object with integer `t` and `n` and a string
// `ev` is an error naming the file and the line (TraceError), except the last line of a file
// when it has no newline: a node killed mid-write leaves one, so it is skipped and counted.
//
// Building the model: records are ordered by time (ties: node id, then file order); each node's
// role and term at every record are derived from its `role` records (a kill or a new process
// forgets them until the next one); every `recv` is paired with the `send` it answers to, the
// latest send of the same (from, seq) at or before it (seq restarts with a sender's process).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cmd/checker/history.h"

namespace raftlab::timeline {

constexpr int64_t kNoTime = -1;

/// A malformed input line: "DIR/n2/trace.jsonl line 17: ...".
class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One input line as read. `node` is 0 for the CLI's actions.
struct Record {
  int64_t t = 0;
  uint32_t node = 0;
  std::string ev;  // actions: "action"
  nlohmann::json j;
};

struct Input {
  std::vector<Record> records;  // trace records and actions, in file order
  std::vector<uint32_t> nodes;  // the ids of n<ID> directories with a trace file, ascending
  size_t torn_lines = 0;        // unfinished last lines skipped
  std::optional<check::History> history;
};

/// Reads every DIR/n<ID>/trace.1.jsonl and trace.jsonl and DIR/actions.jsonl (absent files are
/// fine). Throws TraceError.
Input read_dir(const std::string& dir);
/// Parses one file's text; `name` is used in errors. Appends to `out`; returns torn lines.
size_t parse_lines(const std::string& text, const std::string& name, uint32_t node,
                   std::vector<Record>& out);

/// A record's string field, "" when absent or not a string.
std::string str_field(const nlohmann::json& j, const char* key);
/// The node ids an action names ("nodes": [1, 3]).
std::vector<uint32_t> action_nodes(const Record& r);

/// The role letters of the text format: F follower, P precandidate, C candidate, L leader,
/// l learner, '-' unknown (before the node's first role record, or after a kill).
char role_letter(const std::string& role);

/// One message: its send and its receipt, paired.
struct Message {
  std::string type;
  uint32_t from = 0;
  uint32_t to = 0;
  uint64_t term = 0;
  uint64_t seq = 0;
  int64_t sent = kNoTime;  // kNoTime: only the receipt is in the trace
  int64_t recv = kNoTime;  // kNoTime: never received (dropped, lost, receiver dead)
  std::string fault;       // "drop cut 1->2", "delay delay 1->2 50ms (50 ms)", "" when none
  const nlohmann::json* fields = nullptr;  // the send record (else the recv record)
};

/// One merged event, with the node's role and term at that moment (after a role record).
struct Event {
  int64_t t = 0;
  uint32_t node = 0;  // 0: a CLI action
  const Record* record = nullptr;
  char role = '-';
  uint64_t term = 0;
  int64_t message = -1;  // index into Timeline::messages for send/recv/drop/delay/dup
};

struct Timeline {
  Input input;
  int64_t t0 = 0;                 // the first record's time; text and page times count from it
  int64_t t1 = 0;                 // the last record's time
  std::vector<Event> events;      // in time order
  std::vector<Message> messages;  // in send order (receipt order for unpaired receipts)
};

/// Builds the merged model; takes the input.
Timeline build(Input input);

/// What --node, --type, --from, --to, --since and --until keep. Empty sets keep everything.
/// --node keeps a node's own records and every message it sends or receives; --from/--to keep
/// only messages (and their fault records) with that sender/receiver; --type names message
/// types (RequestVote) or record kinds (vote, role, action).
struct Filter {
  std::set<uint32_t> nodes;
  std::set<std::string> types;
  std::set<uint32_t> from;
  std::set<uint32_t> to;
  std::optional<double> since_s;
  std::optional<double> until_s;
};

bool keep_event(const Timeline& tl, const Event& e, const Filter& f);
/// True for the one event that shows message `m`: its send, or its receipt when the send is
/// not in the trace (a paired receipt and fault records are shown on the send's line).
bool shows_message(const Event& e, const Message& m);
bool keep_message(const Timeline& tl, const Message& m, const Filter& f);

/// The message's own fields in words, as the text and the page show them: "lli=7 llt=3".
std::string message_fields(const std::string& type, const nlohmann::json& j);
/// A decision or action in words: "votes for n2", "appends 6..9 t4".
std::string decision_text(const Record& r);

/// One line per event (docs/trace.md), each ending in '\n'.
std::string format_text(const Timeline& tl, const Filter& f);
/// One JSON document: {"t0", "nodes", "events": [...], "messages": N, "paired": N, ...}.
std::string format_json(const Timeline& tl, const Filter& f);
/// The self-contained HTML page.
std::string render_page(const Timeline& tl);
/// The data that page embeds (page_view.h reads it); `raftlab ui` serves it as /api/timeline.
nlohmann::json page_json(const Timeline& tl);

}  // namespace raftlab::timeline
