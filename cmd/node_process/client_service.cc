// The KV service (see client_service.h).
#include "cmd/node_process/client_service.h"

#include <cstdlib>
#include <utility>

namespace raftlab::lab {
namespace {

constexpr size_t kProposalBatchMax = 1024;          // client commands in one Propose
constexpr uint64_t kPendingWriteTimeoutMs = 30000;  // then the client hears "unknown"
constexpr uint64_t kPendingReadTimeoutMs = 10000;   // the core times reads out before this
constexpr size_t kPendingRequestsMax = 100000;      // writes and reads awaiting an answer

net::ClientStatus refusal_status(Refusal why) {
  return why == Refusal::kNotLeader ? net::ClientStatus::kNotLeader : net::ClientStatus::kRetry;
}

}  // namespace

std::string KvService::restore_at_start(const std::string& data, Index index) {
  const std::string error = kv_.restore(data);
  if (!error.empty()) return error;
  if (kv_.applied() != index) return "it says index " + std::to_string(kv_.applied().get());
  return {};
}

void KvService::reply(uint64_t conn, net::ClientResponse response) {
  switch (response.status) {
    case net::ClientStatus::kNotLeader:
    case net::ClientStatus::kRetry:
    case net::ClientStatus::kInvalid:
      ++counters_.refused;
      break;
    case net::ClientStatus::kUnknown:
      ++counters_.unknown;
      break;
    default:
      break;
  }
  ctx_.transport->send_client(conn, response);  // false: the client left; nothing to do
}

net::ClientResponse KvService::redirect(uint64_t request_id, net::ClientStatus status,
                                        const std::string& error, NodeId leader) const {
  net::ClientResponse r;
  r.request_id = request_id;
  r.status = status;
  r.error = error;
  r.leader = leader;
  if (const NodeSpec* n = r.leader ? ctx_.spec->node(r.leader) : nullptr) r.leader_port = n->port;
  return r;
}

void KvService::on_request(uint64_t conn, net::ClientRequest q) {
  using net::ClientStatus;
  const NodeId leader = ctx_.core->leader();
  if (q.key.size() > kv::kKeyBytesMax || q.value.size() > kv::kValueBytesMax ||
      q.expected.size() > kv::kValueBytesMax) {
    reply(conn, redirect(q.request_id, ClientStatus::kInvalid, "key or value too long", leader));
    return;
  }
  const Pipeline& p = *ctx_.pipeline;
  if (p.pending_writes() + p.pending_reads() + batch_.size() >= kPendingRequestsMax) {
    reply(conn,
          redirect(q.request_id, ClientStatus::kRetry, "too many requests in flight", leader));
    return;
  }
  if (q.op != net::ClientOp::kGet) {
    queue_write(conn, std::move(q));
    return;
  }
  if (q.stale) {
    serve_stale(conn, q);
    return;
  }
  const uint64_t id = next_read_id_++;
  read_keys_[id] = std::move(q.key);
  ctx_.pipeline->track_read(id, ClientRef{conn, q.request_id, id}, uv_now(ctx_.loop));
  ctx_.step(ReadIndex{id});  // answered in serve_read, now or once the round is done
}

// This node's applied state, whatever its role: may be behind the cluster.
void KvService::serve_stale(uint64_t conn, const net::ClientRequest& q) {
  net::ClientResponse r;
  r.request_id = q.request_id;
  r.value = kv_.get(q.key);
  r.index = kv_.applied();
  ++counters_.reads_ok;
  reply(conn, std::move(r));
}

void KvService::queue_write(uint64_t conn, net::ClientRequest q) {
  using net::ClientStatus;
  if (ctx_.core->role() != Role::kLeader) {
    reply(conn,
          redirect(q.request_id, ClientStatus::kNotLeader, "not the leader", ctx_.core->leader()));
    return;
  }
  if (q.client == 0 || q.seq == 0) {
    reply(conn, redirect(q.request_id, ClientStatus::kInvalid, "a write needs a client and seq",
                         ctx_.core->leader()));
    return;
  }
  kv::Command c;
  c.op = static_cast<kv::Op>(q.op);  // ClientOp's write values are kv::Op's
  c.client = q.client;
  c.seq = q.seq;
  c.key = std::move(q.key);
  c.value = std::move(q.value);
  c.expected = std::move(q.expected);
  batch_.push_back(Proposal{ClientRef{conn, q.request_id, 0}, Payload(kv::encode(c))});
  if (batch_.size() >= kProposalBatchMax) flush_proposals();
}

void KvService::flush_proposals() {
  if (batch_.empty()) return;
  std::vector<Proposal> batch;
  batch.swap(batch_);
  std::vector<Payload> commands;
  std::vector<ClientRef> clients;
  commands.reserve(batch.size());
  clients.reserve(batch.size());
  for (const Proposal& p : batch) {
    commands.push_back(p.command);
    clients.push_back(p.client);
  }
  const std::optional<Outcome> out = ctx_.step(Propose(std::move(commands)));
  if (out && out->accepted) {
    ctx_.pipeline->track_writes(out->first_index, out->term, clients, uv_now(ctx_.loop));
    return;
  }
  const Refusal why = out ? out->refusal : Refusal::kNotLeader;
  for (const Proposal& p : batch) {
    reply(p.client.conn,
          redirect(p.client.request_id, refusal_status(why), to_string(why), ctx_.core->leader()));
  }
}

void KvService::expire() {
  ctx_.pipeline->expire(uv_now(ctx_.loop), kPendingWriteTimeoutMs, kPendingReadTimeoutMs);
}

std::optional<ApplyResult> KvService::apply(const Entry& e) {
  if (e.index <= kv_.applied()) return std::nullopt;  // covered by a restored snapshot
  if (e.type != EntryType::kNormal) {
    kv_.skip(e.index);
    return ApplyResult{static_cast<uint32_t>(kv::Status::kInvalid), std::nullopt};
  }
  const kv::Result result = kv_.apply(e.index, e.data.str());
  return ApplyResult{static_cast<uint32_t>(result.status), result.value};
}

void KvService::restore(const Snapshot& snapshot) {
  const std::string error = kv_.restore(snapshot.data.str());
  if (error.empty() && kv_.applied() == snapshot.meta.index) return;
  // A snapshot the leader sent that does not decode: continuing would diverge.
  log_line(ctx_.id, "fatal: cannot restore the snapshot at index " +
                        std::to_string(snapshot.meta.index.get()) + ": " + error);
  ctx_.events->emit("crash", {{"error", "bad snapshot: " + error}});
  ctx_.events->close();
  std::abort();
}

void KvService::answer_write(const ClientRef& client, Index index, WriteFate fate,
                             const ApplyResult& result) {
  const NodeId leader = ctx_.core->leader();
  switch (fate) {
    case WriteFate::kOverwritten:
      reply(client.conn, redirect(client.request_id, net::ClientStatus::kRetry,
                                  "the proposal was overwritten by a newer leader", leader));
      return;
    case WriteFate::kSnapshotted:
      reply(client.conn, redirect(client.request_id, net::ClientStatus::kUnknown,
                                  "replaced by a snapshot before its outcome was known", leader));
      return;
    case WriteFate::kTimedOut:
      reply(client.conn, redirect(client.request_id, net::ClientStatus::kUnknown,
                                  "not applied within the node's bound; it may still be", leader));
      return;
    case WriteFate::kApplied:
      break;
  }
  net::ClientResponse r;
  r.request_id = client.request_id;
  r.index = index;
  switch (static_cast<kv::Status>(result.code)) {
    case kv::Status::kOk:
      r.status = net::ClientStatus::kOk;
      ++counters_.writes_ok;
      break;
    case kv::Status::kCasMismatch:
      r.status = net::ClientStatus::kCasMismatch;
      break;
    case kv::Status::kSessionExpired:
      r.status = net::ClientStatus::kUnknown;
      r.error = "session expired: an earlier try may have applied";
      break;
    case kv::Status::kStaleSeq:
      r.status = net::ClientStatus::kUnknown;
      r.error = "stale seq: the session has moved on";
      break;
    case kv::Status::kInvalid:
      r.status = net::ClientStatus::kInvalid;
      r.error = "malformed command";
      break;
  }
  r.value = result.value;
  reply(client.conn, std::move(r));
}

void KvService::serve_read(const ClientRef& client, Index index) {
  net::ClientResponse r;
  r.request_id = client.request_id;
  r.value = kv_.get(read_keys_[client.tag]);  // kv_ has applied index (ready.h step 3)
  r.index = index;
  read_keys_.erase(client.tag);
  ++counters_.reads_ok;
  reply(client.conn, std::move(r));
}

void KvService::fail_read(const ClientRef& client, const ReadFailure& f) {
  read_keys_.erase(client.tag);
  net::ClientResponse r = redirect(client.request_id, refusal_status(f.refusal),
                                   to_string(f.refusal), ctx_.core->leader());
  if (f.leader_hint) {
    r.leader = f.leader_hint;
    if (const NodeSpec* n = ctx_.spec->node(f.leader_hint)) r.leader_port = n->port;
  }
  reply(client.conn, std::move(r));
}

void KvService::read_timed_out(const ClientRef& client) {
  read_keys_.erase(client.tag);
  reply(client.conn, redirect(client.request_id, net::ClientStatus::kRetry,
                              "read not served in time", ctx_.core->leader()));
}

}  // namespace raftlab::lab
