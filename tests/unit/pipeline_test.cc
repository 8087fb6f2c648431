// The Ready pipeline (node/pipeline.h) with fake storage: messages_after_persist wait for the
// sync covering their persist id; a client hears "applied" only for its own entry.
#include <catch2/catch.hpp>

#include <vector>

#include "node/pipeline.h"

namespace raftlab {
namespace {

struct Fakes final : Storage, Outbox, StateMachine, Clients {
  void write(Ready&) override { ++written; }
  uint64_t written_seq() const override { return written; }
  uint64_t durable_seq() const override { return durable; }
  void begin_sync() override { ++syncs_begun; }
  void send(Message m) override { sent.push_back(m); }
  void persisted(uint64_t id) override { persisted_ids.push_back(id); }
  void notice(const Notice&) override {}
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
};

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

}  // namespace raftlab
