// The trace (docs/trace.md, node/trace.h): what the core decides and what the pipeline says it
// sent, on scripted runs of the unit harness. The node process's file writer is tested
// elsewhere; here a RecordingTracer (harness.h) keeps everything.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/harness.h"

namespace raftlab::testing {
namespace {

using Link = std::pair<uint64_t, uint64_t>;  // (from, to)

Config traced(Config c) {
  c.trace = true;
  return c;
}

bool is_vote(const Message& m) {
  return m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResponse ||
         m.type == MessageType::kRequestVote || m.type == MessageType::kRequestVoteResponse;
}

// The vote messages of `messages`, per link, in order, without the tracer's stamp (the core
// never sets it).
std::map<Link, std::vector<Message>> votes_by_link(const std::vector<Message>& messages) {
  std::map<Link, std::vector<Message>> out;
  for (Message m : messages) {
    if (!is_vote(m)) continue;
    m.trace_seq = 0;
    out[{m.from.get(), m.to.get()}].push_back(std::move(m));
  }
  return out;
}

std::vector<TraceEvent> of_kind(const std::vector<TraceEvent>& events, TraceKind kind) {
  std::vector<TraceEvent> out;
  std::copy_if(events.begin(), events.end(), std::back_inserter(out),
               [&](const TraceEvent& e) { return e.kind == kind; });
  return out;
}

const RecordingTracer& tracer(Harness& h, int id) {
  REQUIRE(h.node(id).tracer != nullptr);
  return *h.node(id).tracer;
}

// The votes node `voter` traced for candidate `candidate`.
std::vector<TraceEvent> votes_for(Harness& h, int voter, int candidate) {
  std::vector<TraceEvent> out;
  for (const TraceEvent& e : of_kind(tracer(h, voter).decisions, TraceKind::kVote)) {
    if (e.peer == NodeId(candidate)) out.push_back(e);
  }
  return out;
}

// The vote answers node `voter` traced as sent to `candidate`.
std::vector<Message> answers_to(Harness& h, int voter, int candidate) {
  std::vector<Message> out;
  for (const Message& m : tracer(h, voter).sends) {
    const bool answer =
        m.type == MessageType::kPreVoteResponse || m.type == MessageType::kRequestVoteResponse;
    if (answer && m.to == NodeId(candidate)) out.push_back(m);
  }
  return out;
}

TEST_CASE("trace: an election traces exactly the vote messages the cores sent, per link") {
  Harness h(3, traced(Harness::default_config()));
  std::map<int, std::vector<Message>> produced;  // every message each core put in a Ready
  h.on_ready = [&](int id, const Ready& r) {
    for (const Message& m : r.messages) produced[id].push_back(m);
    for (const Message& m : r.messages_after_persist) produced[id].push_back(m);
  };
  REQUIRE(h.elect(1));
  size_t votes_seen = 0;
  for (int id : h.ids()) {
    const RecordingTracer& t = tracer(h, id);
    INFO("node " << id);
    CHECK(votes_by_link(t.sends) == votes_by_link(produced[id]));
    CHECK(t.sends.size() == produced[id].size());  // and nothing else left untraced
    for (const auto& [link, votes] : votes_by_link(t.sends)) votes_seen += votes.size();
    // Numbered from 1 in the order they left.
    for (size_t k = 0; k < t.sends.size(); ++k) CHECK(t.sends[k].trace_seq == k + 1);
  }
  CHECK(votes_seen == 8);  // a PreVote and a RequestVote to each of 2 and 3, and their answers
  // Every message was delivered: each receiver's receipts are the sender's sends, per link,
  // in order, stamp and all.
  for (int from : h.ids()) {
    for (int to : h.ids()) {
      if (from == to) continue;
      std::vector<Message> sent;
      std::vector<Message> got;
      for (const Message& m : tracer(h, from).sends) {
        if (m.to == NodeId(to)) sent.push_back(m);
      }
      for (const Message& m : tracer(h, to).receipts) {
        if (m.from == NodeId(from)) got.push_back(m);
      }
      INFO("link " << from << "->" << to);
      CHECK(got == sent);
    }
  }
}

TEST_CASE("trace: a refused vote says why, in the trace and in the answer") {
  SECTION("log behind: a candidate with a shorter log") {
    Harness h(3, traced(Harness::plain_config()));
    REQUIRE(h.elect(1));
    h.isolate(3);
    h.propose(1, "x");
    h.stabilize();
    h.heal();
    h.campaign(3);  // term 2, last entry 1/1 against the others' 2/1
    h.stabilize();
    const std::vector<TraceEvent> votes = votes_for(h, 2, 3);
    REQUIRE(votes.size() == 1);
    CHECK_FALSE(votes[0].granted);
    CHECK_FALSE(votes[0].prevote);
    CHECK(votes[0].term == Term(2));
    CHECK(votes[0].why == VoteWhy::kLogBehind);
    const std::vector<Message> answers = answers_to(h, 2, 3);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].reject);
    CHECK(answers[0].vote_why == static_cast<uint8_t>(VoteWhy::kLogBehind));
  }
  SECTION("already voted: a second candidate in the same term") {
    Harness h(3, traced(Harness::plain_config()));
    h.campaign(1);
    h.campaign(2);      // both candidates of term 1; their requests wait in the mailbox
    h.deliver_once(3);  // 3 hears 1 first, then 2
    CHECK(votes_for(h, 3, 1).at(0).granted);
    const std::vector<TraceEvent> votes = votes_for(h, 3, 2);
    REQUIRE(votes.size() == 1);
    CHECK_FALSE(votes[0].granted);
    CHECK(votes[0].why == VoteWhy::kAlreadyVoted);
    const std::vector<Message> answers = answers_to(h, 3, 2);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].vote_why == static_cast<uint8_t>(VoteWhy::kAlreadyVoted));
    CHECK(answers_to(h, 3, 1).at(0).vote_why == 0);  // a grant carries no why
  }
  SECTION("stale term: a pre-vote from an earlier term") {
    Harness h(3, traced(Harness::default_config()));
    REQUIRE(h.elect(1));
    const Term now = h.core(2).term();
    REQUIRE(now > Term(0));
    Message m;
    m.type = MessageType::kPreVote;
    m.from = NodeId(3);
    m.to = NodeId(2);
    m.term = Term(now.get() - 1);
    h.step(2, Receive{m});
    const std::vector<TraceEvent> votes = votes_for(h, 2, 3);
    REQUIRE(votes.size() == 1);
    CHECK(votes[0].prevote);
    CHECK(votes[0].why == VoteWhy::kStaleTerm);
    const std::vector<Message> answers = answers_to(h, 2, 3);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].vote_why == static_cast<uint8_t>(VoteWhy::kStaleTerm));
  }
  SECTION("lease: a follower that heard from its leader recently does not answer") {
    Harness h(3, traced(Harness::default_config()));
    REQUIRE(h.elect(1));
    h.tick(1);  // a heartbeat round: 2 and 3 have just heard from their leader
    h.stabilize();
    const size_t answers_before = answers_to(h, 2, 3).size();
    h.campaign(3);  // a pre-candidate asks for term 2
    h.stabilize();
    const std::vector<TraceEvent> votes = votes_for(h, 2, 3);
    REQUIRE(votes.size() == 1);
    CHECK(votes[0].prevote);
    CHECK_FALSE(votes[0].granted);
    CHECK(votes[0].term == h.core(2).term().next());
    CHECK(votes[0].why == VoteWhy::kLease);
    CHECK(answers_to(h, 2, 3).size() == answers_before);  // ignored: no answer at all
  }
}

TEST_CASE("trace: log repair traces the rejection's hint, the cut and the new entries") {
  Harness h(3, traced(Harness::plain_config()));
  REQUIRE(h.elect(1));  // term 1: the no-op at 1
  h.stabilize();
  h.isolate(1);
  h.propose(1, "x");  // 2/1 and 3/1, only on the isolated leader
  h.propose(1, "y");
  h.stabilize();
  REQUIRE(h.elect(2));  // term 2: 2/2 no-op
  h.propose(2, "z");    // 3/2
  h.stabilize();
  REQUIRE(h.elect(3));  // term 3: 4/3 no-op; it starts 1 at 4, so prev 3/2 meets 1's 3/1
  h.stabilize();
  h.heal();
  h.tick(3);  // a heartbeat: 1 learns term 3, and 3 probes its log
  h.stabilize();
  REQUIRE(h.core(1).log().last_index() == Index(4));
  REQUIRE(h.core(1).log().at(Index(3)).term == Term(2));

  const RecordingTracer& t = tracer(h, 1);
  std::vector<Message> rejections;
  for (const Message& m : t.sends) {
    if (m.type == MessageType::kAppendEntriesResponse && m.reject) rejections.push_back(m);
  }
  REQUIRE(rejections.size() == 1);
  CHECK(rejections[0].rejected_index == Index(3));
  CHECK(rejections[0].conflict_term == Term(1));    // its term at the refused prev index
  CHECK(rejections[0].conflict_index == Index(1));  // where that term starts in its log
  CHECK(rejections[0].last_index == Index(3));

  const std::vector<TraceEvent> cuts = of_kind(t.decisions, TraceKind::kTruncated);
  REQUIRE(cuts.size() == 1);
  CHECK(cuts[0].first == Index(2));
  CHECK(cuts[0].last == Index(3));
  CHECK(cuts[0].term == Term(1));  // the cut entry's
  CHECK(cuts[0].value == 2);       // the leader's term at index 2
  // Then the leader's entries, from the leader, one event per term.
  auto cut = std::find(t.decisions.begin(), t.decisions.end(), cuts[0]);
  std::vector<TraceEvent> after_cut(cut, t.decisions.end());
  const std::vector<TraceEvent> appended = of_kind(after_cut, TraceKind::kAppended);
  REQUIRE(appended.size() == 2);
  CHECK(appended[0].first == Index(2));
  CHECK(appended[0].last == Index(3));
  CHECK(appended[0].term == Term(2));
  CHECK(appended[0].peer == NodeId(3));
  CHECK(appended[1].first == Index(4));
  CHECK(appended[1].last == Index(4));
  CHECK(appended[1].term == Term(3));
  // The deposed leader said why it stepped down.
  const std::vector<TraceEvent> downs = of_kind(t.decisions, TraceKind::kStepDown);
  REQUIRE(downs.size() == 1);
  CHECK(downs[0].term == Term(3));
  CHECK(downs[0].text.find("higher term 3") != std::string::npos);
}

TEST_CASE("trace: the election timer, roles and commits carry their values") {
  Harness h(3, traced(Harness::default_config()));
  h.tick(2);  // the first Ready also carries what the core decided when it started
  const std::vector<TraceEvent>& events = tracer(h, 2).decisions;
  REQUIRE(events.size() >= 2);
  CHECK(events[0].kind == TraceKind::kRole);
  CHECK(events[0].role == Role::kFollower);
  CHECK(events[1].kind == TraceKind::kTimeoutDrawn);
  const uint64_t drawn = events[1].value;
  CHECK(drawn >= 10);
  CHECK(drawn < 20);

  // The timer fires on exactly the drawn tick; a pre-candidacy and a fresh timeout follow.
  int ticks = 1;
  while (ticks < 40 && of_kind(events, TraceKind::kTimeoutFired).empty()) {
    h.tick(2);
    ++ticks;
  }
  CHECK(static_cast<uint64_t>(ticks) == drawn);
  auto fired = std::find_if(events.begin(), events.end(),
                            [](const TraceEvent& e) { return e.kind == TraceKind::kTimeoutFired; });
  REQUIRE(fired != events.end());
  REQUIRE(events.end() - fired >= 3);
  CHECK(fired->value == drawn);
  CHECK(fired[1].kind == TraceKind::kRole);
  CHECK(fired[1].role == Role::kPreCandidate);
  CHECK(fired[2].kind == TraceKind::kTimeoutDrawn);

  h.stabilize();
  REQUIRE(h.core(2).role() == Role::kLeader);
  const std::vector<TraceEvent> roles = of_kind(tracer(h, 2).decisions, TraceKind::kRole);
  REQUIRE(roles.size() >= 3);
  CHECK(roles.back().role == Role::kLeader);
  CHECK(roles.back().term == Term(1));
  CHECK(roles[roles.size() - 2].role == Role::kCandidate);
  // A follower says whom it follows once it hears from the leader.
  const std::vector<TraceEvent> follower_roles = of_kind(tracer(h, 3).decisions, TraceKind::kRole);
  REQUIRE_FALSE(follower_roles.empty());
  CHECK(follower_roles.back().role == Role::kFollower);
  CHECK(follower_roles.back().peer == NodeId(2));
  CHECK(follower_roles.back().term == Term(1));

  h.propose(2, "x");
  h.stabilize();
  h.tick(2);  // the heartbeat carries the new commit to the followers
  h.stabilize();
  for (int id : h.ids()) {
    INFO("node " << id);
    const std::vector<TraceEvent> commits = of_kind(tracer(h, id).decisions, TraceKind::kCommit);
    REQUIRE_FALSE(commits.empty());
    CHECK(commits.front().first == Index(0));
    CHECK(commits.back().last == Index(2));
    for (size_t k = 1; k < commits.size(); ++k) CHECK(commits[k].first == commits[k - 1].last);
    CHECK(tracer(h, id).applied_to.back() == Index(2));
  }
  const std::vector<TraceEvent> appended = of_kind(tracer(h, 2).decisions, TraceKind::kAppended);
  REQUIRE(appended.size() == 2);  // the no-op, then the proposal
  CHECK(appended[1].first == Index(2));
  CHECK(appended[1].last == Index(2));
  CHECK(appended[1].peer == kNoNode);
}

// Drives one scripted run (election, writes, a partition, log repair, a snapshot) and returns
// its transcript without the "N ready:" headers, which a traced Ready holding only decisions
// adds.
std::string scripted_run(Harness& h) {
  h.trace = true;
  h.elect(1);
  h.propose(1, "a");
  h.stabilize();
  h.isolate(1);
  h.propose(1, "b");
  h.stabilize();
  h.fire_election_timeout(2);
  h.stabilize();
  h.propose(h.leader() == 1 ? 2 : h.leader(), "c");
  h.stabilize();
  h.heal();
  for (int i = 0; i < 3; ++i) {
    for (int id : h.ids()) h.tick(id);
    h.stabilize();
  }
  h.snapshot(2);
  std::istringstream all(h.take_trace());
  std::string out;
  for (std::string line; std::getline(all, line);) {
    if (line.size() > 7 && line.compare(line.size() - 7, 7, " ready:") == 0) continue;
    out += line + "\n";
  }
  return out;
}

TEST_CASE("trace: off, the core assembles nothing and the run is the same") {
  Harness off(3, Harness::default_config());
  size_t readys = 0;
  size_t events = 0;
  off.on_ready = [&](int, const Ready& r) {
    ++readys;
    events += r.trace.size();
  };
  const std::string untraced = scripted_run(off);
  CHECK(readys > 50);
  CHECK(events == 0);
  for (int id : off.ids()) CHECK(off.node(id).tracer == nullptr);

  Harness on(3, traced(Harness::default_config()));
  size_t traced_events = 0;
  on.on_ready = [&](int, const Ready& r) { traced_events += r.trace.size(); };
  CHECK(scripted_run(on) == untraced);
  CHECK(traced_events > 20);
}

}  // namespace
}  // namespace raftlab::testing
