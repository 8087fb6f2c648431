// The composition root of one node process (`raftlab node`): the Raft core, its WAL and
// snapshots, the peer transport, the admin socket and events.jsonl, on one libuv loop.
//
// This is the only code that consumes a Ready (node/ready.h), always in the order persist,
// send, apply:
//   1. persist: a snapshot is saved synchronously (durable before the WAL mark naming it);
//      entries and hard state go to the Wal's buffer. A group commit (Wal::begin_sync) runs on
//      a libuv worker, at most one at a time; writes issued while it runs go in the next one.
//   2. send: `messages` at once; `messages_after_persist` are held until the sync covering
//      their persist_id finished, then sent, then Persisted{id} is stepped.
//   3. apply: committed entries go to the KV state machine (node/kv/kv.h); the client that
//      proposed one hears its result; reads whose index is applied are served.
// Clients (net/wire.h's client protocol, on the same port as peers): writes are batched per
// loop turn into one Propose and answered when their index is applied (the entry must carry
// the term it was proposed in, else it was overwritten: "retry"); gets take a ReadIndex round.
// SIGKILL therefore loses nothing acknowledged: nothing that depends on a write leaves the
// process before the write is durable.
#pragma once

#include <string>

#include "node/types.h"

namespace raftlab::lab {

struct NodeHostOptions {
  std::string dir;  // the cluster directory (holds cluster.json)
  NodeId id;
};

/// Runs the node until SIGTERM, SIGINT or the admin "shutdown" command. Returns the exit code:
/// 0 after a clean shutdown; 2 for an id not in cluster.json; 4 for the environment (no
/// cluster, corrupt WAL, port in use, a disk error).
int run_node_host(const NodeHostOptions& options);

}  // namespace raftlab::lab
