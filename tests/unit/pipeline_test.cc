// The Ready pipeline (node/pipeline.h) with fake storage: messages_after_persist wait for the
// sync covering their persist id; a client hears "applied" only for its own entry.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "node/pipeline.h"

namespace raftlab {
namespace {

struct Fakes final : Storage, Outbox, StateMachine, Clients {
  void write(Ready&) override { ++written; }
  uint64_t written_seq() const override { return written; }
  uint64_t durable_seq() const override { return durable; }
  void begin_sync() override { ++syncs_begun; }
  std::optional<Payload> read_snapshot(const SnapshotMeta& meta, uint64_t offset,
                                       uint64_t length) override {
    if (meta.index != snapshot_index || offset + length > snapshot_bytes.size()) {
      return std::nullopt;
    }
    return Payload(snapshot_bytes.substr(offset, length));
  }
  std::optional<Payload> read_entry(Index index, Term term) override {
    const auto it = stored.find(index.get());
    if (it == stored.end() || it->second.term != term) return std::nullopt;
    return it->second.data;
  }
  void send(Message m) override { sent.push_back(m); }
  void persisted(uint64_t id) override { persisted_ids.push_back(id); }
  void notice(const Notice& n) override { notices.push_back(n); }
  Index applied() const override { return applied_index; }
  std::optional<ApplyResult> apply(const Entry& e) override {
    applied_index = e.index;
    return ApplyResult{};
  }
  void restore(const Snapshot& s) override { applied_index = s.meta.index; }
  void answer_write(const ClientRef&, Index, WriteFate fate, const ApplyResult&) override {
    fates.push_back(fate);
  }
  void serve_read(const ClientRef&, Index) override {}
  void fail_read(const ClientRef&, const ReadFailure&) override {}
  void read_timed_out(const ClientRef&) override {}

  uint64_t written = 0;
  uint64_t durable = 0;
  int syncs_begun = 0;
  std::vector<Message> sent;
  std::vector<uint64_t> persisted_ids;
  Index applied_index;
  std::vector<WriteFate> fates;
  std::vector<Notice> notices;
  Index snapshot_index;              // the one snapshot read_snapshot knows
  std::string snapshot_bytes;        // its bytes
  std::map<uint64_t, Entry> stored;  // what read_entry knows, by index
};

Message chunk_to_fill(Index snapshot, uint64_t offset, uint64_t length) {
  Message m;
  m.type = MessageType::kInstallSnapshot;
  m.to = NodeId(2);
  m.snapshot.index = snapshot;
  m.offset = offset;
  m.chunk_length = length;
  return m;
}

Ready vote_ready(uint64_t persist_id) {
  Ready r;
  r.hard_state = HardState{Term(2), NodeId(3), Index(0)};
  r.persist_id = persist_id;
  Message vote;
  vote.type = MessageType::kRequestVoteResponse;
  r.messages_after_persist.push_back(vote);
  return r;
}

}  // namespace

TEST_CASE("pipeline holds messages_after_persist until their sync completes", "[pipeline]") {
  Fakes f;
  Pipeline p({&f, &f, &f, &f}, /*release_before_persist=*/false);
  p.handle(vote_ready(1));
  CHECK(f.syncs_begun == 1);
  CHECK(f.sent.empty());    // the vote is not durable yet
  p.handle(vote_ready(2));  // group commit: waits for the next sync
  CHECK(f.syncs_begun == 1);
  f.durable = 1;
  p.sync_done(1);
  CHECK(f.sent.size() == 1);
  CHECK(f.persisted_ids == std::vector<uint64_t>{1});
  CHECK(f.syncs_begun == 2);  // the second write's sync
  f.durable = 2;
  p.sync_done(2);
  CHECK(f.sent.size() == 2);
  CHECK(f.persisted_ids == std::vector<uint64_t>{1, 2});
}

TEST_CASE("pipeline answers a write as overwritten when another term's entry is applied",
          "[pipeline]") {
  Fakes f;
  Pipeline p({&f, &f, &f, &f}, false);
  p.track_writes(Index(1), Term(1), {ClientRef{}, ClientRef{}}, 0);
  Ready r;
  r.committed.push_back(
      Entry{.term = Term(1), .index = Index(1), .type = EntryType::kNormal, .data = Payload("a")});
  r.committed.push_back(
      Entry{.term = Term(2), .index = Index(2), .type = EntryType::kNormal, .data = Payload("b")});
  p.handle(r);
  CHECK(f.fates == std::vector<WriteFate>{WriteFate::kApplied, WriteFate::kOverwritten});
  CHECK(p.pending_writes() == 0);
}

TEST_CASE("pipeline reads an InstallSnapshot chunk from storage as it leaves", "[pipeline]") {
  Fakes f;
  f.snapshot_index = Index(7);
  f.snapshot_bytes = "0123456789";
  Pipeline p({&f, &f, &f, &f}, false);
  Ready r;
  r.messages.push_back(chunk_to_fill(Index(7), 4, 3));
  p.handle(std::move(r));
  REQUIRE(f.sent.size() == 1);
  CHECK(f.sent[0].chunk == "456");
  CHECK(f.sent[0].chunk_length == 0);  // what the wire carries and a receiver decodes
  CHECK(f.notices.empty());

  SECTION("a chunk that cannot be read is not sent, and the operator hears why") {
    Ready gone;
    gone.messages.push_back(chunk_to_fill(Index(6), 0, 3));  // an older snapshot, gone
    gone.messages.push_back(chunk_to_fill(Index(7), 8, 5));  // past the end
    p.handle(std::move(gone));
    CHECK(f.sent.size() == 1);
    REQUIRE(f.notices.size() == 2);
    CHECK(f.notices[0].kind == NoticeKind::kSnapshotUnreadable);
    CHECK(f.notices[0].text.find("snapshot at index 6") != std::string::npos);
  }
}

TEST_CASE("pipeline reads back the bytes of entries the log released as they leave", "[pipeline]") {
  Fakes f;
  f.stored[5] = Entry{.term = Term(2), .index = Index(5), .data = "abc"};
  f.stored[6] = Entry{.term = Term(2), .index = Index(6), .data = "de"};
  Pipeline p({&f, &f, &f, &f}, false);
  const auto append = [](std::vector<Entry> entries) {
    Message m;
    m.type = MessageType::kAppendEntries;
    m.to = NodeId(2);
    m.entries = std::move(entries);
    return m;
  };
  const Entry released5{.term = Term(2), .index = Index(5), .released_bytes = 3, .data = {}};
  const Entry released6{.term = Term(2), .index = Index(6), .released_bytes = 2, .data = {}};
  const Entry held7{.term = Term(2), .index = Index(7), .data = "fgh"};
  Ready r;
  r.messages.push_back(append({released5, released6, held7}));
  p.handle(std::move(r));
  REQUIRE(f.sent.size() == 1);
  REQUIRE(f.sent[0].entries.size() == 3);
  CHECK(f.sent[0].entries[0].data == "abc");
  CHECK(f.sent[0].entries[1].data == "de");
  CHECK(f.sent[0].entries[2].data == "fgh");
  for (const Entry& e : f.sent[0].entries) CHECK_FALSE(e.data_released());
  CHECK(f.notices.empty());

  SECTION("an entry storage cannot give back keeps its message back, and says why") {
    Ready gone;
    gone.messages.push_back(
        append({Entry{.term = Term(1), .index = Index(5), .released_bytes = 3, .data = {}}}));
    gone.messages.push_back(
        append({Entry{.term = Term(2), .index = Index(4), .released_bytes = 1, .data = {}}}));
    gone.messages.push_back(
        append({Entry{.term = Term(2), .index = Index(6), .released_bytes = 9, .data = {}}}));
    p.handle(std::move(gone));
    CHECK(f.sent.size() == 1);  // wrong term, not stored, wrong length: none leaves
    REQUIRE(f.notices.size() == 3);
    CHECK(f.notices[0].kind == NoticeKind::kEntryUnreadable);
    CHECK(f.notices[0].text.find("entry 5 (term 1)") != std::string::npos);
  }
}

}  // namespace raftlab
