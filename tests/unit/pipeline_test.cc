// The Ready pipeline (node/pipeline.h) with fake storage: messages_after_persist wait for the
// sync covering their persist id; a client hears "applied" only for its own entry.
#include <catch2/catch.hpp>

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
  Index snapshot_index;        // the one snapshot read_snapshot knows
  std::string snapshot_bytes;  // its bytes
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
  r.committed.push_back(Entry{Term(1), Index(1), EntryType::kNormal, Payload("a")});
  r.committed.push_back(Entry{Term(2), Index(2), EntryType::kNormal, Payload("b")});
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

}  // namespace raftlab
