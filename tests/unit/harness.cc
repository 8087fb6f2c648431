// The hand-driven test cluster (see harness.h).
#include "tests/unit/harness.h"

#include <sstream>
#include <stdexcept>
#include <utility>

namespace raftlab::testing {

Config Harness::default_config() {
  Config c;
  c.heartbeat_ticks = 1;
  c.election_ticks_min = 10;
  c.election_ticks_max = 20;
  c.check_invariants = true;
  c.seed = 1;
  return c;
}

Config Harness::plain_config() {
  Config c = default_config();
  c.pre_vote = false;
  c.check_quorum = false;
  return c;
}

bool Harness::elect(int id) {
  campaign(id);
  stabilize();
  return core(id).role() == Role::kLeader;
}

Harness::Harness(int count, Config base) : base_(std::move(base)) {
  base_.voters.clear();
  for (int i = 1; i <= count; ++i) base_.voters.push_back(NodeId(i));
  for (int i = 1; i <= count; ++i) {
    nodes_[i].bootstrap = base_.voters;
    restart(i);
  }
}

void Harness::add_spare(int id) {
  nodes_[id].bootstrap = {};
  restart(id);
}

std::vector<int> Harness::ids() const {
  std::vector<int> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

void Harness::print(const std::string& line) {
  if (trace) trace_text_ += line + "\n";
}

std::string Harness::take_trace() { return std::exchange(trace_text_, {}); }

void Harness::step(int id, const Input& input) {
  HarnessNode& n = nodes_.at(id);
  if (!n.up) return;
  handle(id, n.core->step(input));
}

void Harness::handle(int id, Ready ready) {
  HarnessNode& n = nodes_.at(id);
  if (ready.empty()) return;
  print(std::to_string(id) + " ready:");
  // 1. Persist, synchronously, in the order ready.h gives.
  if (ready.snapshot) {
    n.snapshot = *ready.snapshot;
    print("  persist snapshot: " + std::to_string(ready.snapshot->meta.index.get()) + "/" +
          std::to_string(ready.snapshot->meta.term.get()) + " " +
          describe(ready.snapshot->meta.membership) + " \"" + ready.snapshot->data.str() + "\"");
  }
  if (ready.truncate_from) {
    std::erase_if(n.entries, [&](const Entry& e) { return e.index >= *ready.truncate_from; });
    print("  truncate from " + std::to_string(ready.truncate_from->get()));
  }
  if (ready.compacted_through) {
    std::erase_if(n.entries, [&](const Entry& e) { return e.index <= *ready.compacted_through; });
    print("  compact through " + std::to_string(ready.compacted_through->get()));
  }
  if (ready.hard_state) {
    n.hard_state = *ready.hard_state;
    const HardState& hs = *ready.hard_state;
    print("  hard state: term=" + std::to_string(hs.term.get()) +
          " vote=" + std::to_string(hs.vote.get()) + " commit=" + std::to_string(hs.commit.get()));
  }
  for (const Entry& e : ready.entries) {
    while (!n.entries.empty() && n.entries.back().index >= e.index) n.entries.pop_back();
    n.entries.push_back(e);
    print("  persist: " + describe(e));
  }
  // 2. Send (in a synchronous world both lists go out now; order kept for readability).
  for (Message& m : ready.messages) {
    print("  send: " + describe(m));
    mailbox_.push_back(std::move(m));
  }
  for (Message& m : ready.messages_after_persist) {
    print("  send after persist: " + describe(m));
    mailbox_.push_back(std::move(m));
  }
  // 3. Apply.
  if (ready.restore_snapshot) {
    n.restored_index = ready.snapshot->meta.index;
    n.applied.clear();
    print("  restore snapshot " + std::to_string(n.restored_index.get()));
  }
  for (Entry& e : ready.committed) {
    print("  apply: " + describe(e));
    n.applied.push_back(std::move(e));
  }
  for (const ReadState& r : ready.reads) {
    print("  read " + std::to_string(r.id) + " ready at " + std::to_string(r.index.get()));
    n.reads.push_back(r);
  }
  for (const ReadFailure& r : ready.reads_failed) {
    print("  read " + std::to_string(r.id) + " failed: " + to_string(r.refusal));
    n.reads_failed.push_back(r);
  }
  if (ready.outcome) {
    const Outcome& o = *ready.outcome;
    if (!o.accepted) {
      print(std::string("  refused: ") + to_string(o.refusal) + ", leader hint " +
            std::to_string(o.leader_hint.get()));
    } else if (o.first_index) {
      print("  accepted at " + std::to_string(o.first_index.get()) + ".." +
            std::to_string(o.last_index.get()));
    } else {
      print("  accepted");
    }
  }
  // 4. Log.
  for (Notice& notice : ready.notices) {
    print("  notice: " + notice.text);
    n.notices.push_back(std::move(notice));
  }
  if (ready.has_writes()) handle(id, n.core->step(Persisted{ready.persist_id}));
}

void Harness::tick(int id, int count) {
  for (int i = 0; i < count; ++i) step(id, Tick{});
}

void Harness::fire_election_timeout(int id) {
  tick(id, static_cast<int>(base_.election_ticks_max));
}

Outcome Harness::propose(int id, const std::string& command) {
  HarnessNode& n = nodes_.at(id);
  Ready r = n.core->step(Propose(std::vector<Payload>{Payload(command)}));
  const Outcome out = r.outcome.value_or(Outcome{});
  handle(id, std::move(r));
  return out;
}

void Harness::snapshot(int id, const std::string& data) {
  const Index applied = core(id).applied();
  step(id, SnapshotTaken{applied,
                         Payload(data.empty() ? "state@" + std::to_string(applied.get()) : data)});
}

Outcome Harness::transfer(int id, int target) {
  Ready r = core(id).step(TransferLeader{NodeId(static_cast<uint64_t>(target))});
  const Outcome out = r.outcome.value_or(Outcome{});
  handle(id, std::move(r));
  return out;
}

Outcome Harness::change(int id, MembershipOp op, int node) {
  Ready r = core(id).step(ChangeMembership{op, NodeId(static_cast<uint64_t>(node))});
  const Outcome out = r.outcome.value_or(Outcome{});
  handle(id, std::move(r));
  return out;
}

std::vector<Message> Harness::take_mailbox() { return std::exchange(mailbox_, {}); }

size_t Harness::deliver_once(int only_to) {
  std::vector<Message> batch;
  std::vector<Message> keep;
  for (Message& m : mailbox_) {
    (only_to == 0 || static_cast<int>(m.to.get()) == only_to ? batch : keep)
        .push_back(std::move(m));
  }
  mailbox_ = std::move(keep);
  for (Message& m : batch) {
    const int from = static_cast<int>(m.from.get());
    const int to = static_cast<int>(m.to.get());
    if (isolated_.count(from) || isolated_.count(to) || cuts_.count({from, to}) ||
        !nodes_.at(to).up || (drop_if && drop_if(m))) {
      print("dropped: " + describe(m));
      continue;
    }
    ++delivered_[m.type];
    if (m.type == MessageType::kAppendEntriesResponse && m.reject) ++rejections_;
    print("deliver: " + describe(m));
    step(to, Receive{std::move(m)});
  }
  return batch.size();
}

size_t Harness::stabilize(size_t rounds_max) {
  size_t total = 0;
  for (size_t round = 0; round < rounds_max && !mailbox_.empty(); ++round) {
    total += deliver_once();
  }
  if (!mailbox_.empty()) throw std::runtime_error("stabilize: still messages after bound");
  return total;
}

void Harness::crash(int id) {
  HarnessNode& n = nodes_.at(id);
  n.core.reset();
  n.up = false;
  print(std::to_string(id) + " crashed");
}

void Harness::restart(int id) {
  HarnessNode& n = nodes_.at(id);
  Config c = base_;
  c.id = NodeId(id);
  c.voters = n.bootstrap;
  n.core = std::make_unique<Core>(c, Restored{n.hard_state, n.entries, n.snapshot});
  n.applied.clear();  // the state machine is rebuilt from the snapshot and the log
  n.restored_index = n.snapshot ? n.snapshot->meta.index : Index(0);
  n.up = true;
}

void Harness::lose_tail(int id, uint64_t from) {
  HarnessNode& n = nodes_.at(id);
  if (n.up) throw std::logic_error("lose_tail: node " + std::to_string(id) + " is up");
  std::erase_if(n.entries, [&](const Entry& e) { return e.index.get() >= from; });
  if (n.hard_state.commit.get() >= from) n.hard_state.commit = Index(from - 1);
  print(std::to_string(id) + " lost its durable entries from " + std::to_string(from));
}

int Harness::leader() const {
  for (const auto& [id, n] : nodes_) {
    if (n.up && n.core->role() == Role::kLeader) return id;
  }
  return 0;
}

uint64_t Harness::delivered_count(MessageType type) const {
  auto it = delivered_.find(type);
  return it == delivered_.end() ? 0 : it->second;
}

std::string describe_status(const Status& s) {
  std::ostringstream out;
  out << s.id.get() << " " << to_string(s.role) << " term=" << s.term.get()
      << " vote=" << s.vote.get() << " leader=" << s.leader.get() << " commit=" << s.commit.get()
      << " applied=" << s.applied.get() << " last=" << s.last_index.get() << "/"
      << s.last_term.get();
  if (s.snapshot_index) out << " snapshot=" << s.snapshot_index.get();
  if (s.first_index > Index(1)) out << " first=" << s.first_index.get();
  if (!s.voter) out << " (not a voter)";
  return out.str();
}

}  // namespace raftlab::testing
