// The host side of node/ready.h, written once: the one consumer of a Ready. The node process
// (cmd/node_process/) runs it over libuv, the WAL and the transport; the simulator
// (tests/sim/) runs it over SimDisk and the simulated network, so every simulated seed tests
// the code the node runs.
//
// It lives beside the core because it is as pure: no I/O, no clock, no thread. What it needs
// from outside comes through four small interfaces, and the application (node/kv, or the
// simulator's registers) is behind StateMachine, so node/ does not depend on node/kv:
//   Storage       the writes of a Ready, and group commit: begin_sync() starts one sync
//                 covering every write so far; it completes later (a libuv worker, a simulated
//                 event) and the host then calls Pipeline::sync_done().
//   Outbox        what leaves the pipeline: messages to peers, Persisted{id} back into the
//                 core (through the host's own step, which hands the new Ready back here), and
//                 notices for the operator.
//   StateMachine  apply one committed entry, restore a snapshot.
//   Clients       the answers to client writes and reads.
//
// Per Ready, in this order (ready.h):
//   1. persist: Storage::write; a sync starts at once if none is in flight (group commit: the
//      writes of later Readys wait for the next one). messages_after_persist are held, by
//      persist id, until a sync makes that id durable (sync_done), then sent, then Persisted
//      is stepped.
//   2. send: `messages` at once.
//   3. apply: a restored snapshot first; then each committed entry; the client that proposed
//      an entry hears its result, but only if the entry carries the term it was proposed in
//      (else another leader's entry took the index and the client must retry); then reads.
//   4. notices go to the Outbox. The core's decisions (Ready::trace) go to the Tracer, if any,
//      before step 1: they are why the Ready's messages leave.
// With a Tracer (node/trace.h), every message is traced as it leaves (sent), and the newest
// applied index once per Ready that applied or restored anything (applied).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/message.h"
#include "node/ready.h"
#include "node/trace.h"
#include "node/types.h"

namespace raftlab {

/// Where a client request came from, so its answer finds its way back. Opaque to the pipeline.
struct ClientRef {
  uint64_t conn = 0;        // the host's connection (or client) id
  uint64_t request_id = 0;  // the client's own request id
  uint64_t tag = 0;         // the host's own use (the node: a read's id)
};

/// What applying one command produced: the state machine's own result code and value.
struct ApplyResult {
  uint32_t code = 0;  // e.g. node/kv's kv::Status
  std::optional<std::string> value;
};

/// The fate of a client write the pipeline tracked.
enum class WriteFate : uint8_t {
  kApplied,      // its entry was applied: `result` says how
  kOverwritten,  // another leader's entry took its index: certainly not applied; retry
  kSnapshotted,  // a snapshot replaced the state first: it may or may not be in it
  kTimedOut,     // not applied within the host's bound: it may still be
};

class Storage {
 public:
  virtual ~Storage() = default;
  /// Issues the writes of one Ready in ready.h's order (snapshot, truncate_from,
  /// compacted_through, entries, hard state). They need not be durable yet. The pipeline
  /// reads nothing of `entries` afterwards: the storage may move them out.
  virtual void write(Ready& ready) = 0;
  /// The newest write issued and the newest durable, as the storage counts them. A Ready
  /// whose writes added nothing to sync (a compaction) leaves written_seq() unchanged.
  virtual uint64_t written_seq() const = 0;
  virtual uint64_t durable_seq() const = 0;
  /// Starts one sync covering every write issued so far; when it is done the host calls
  /// Pipeline::sync_done(durable_seq()).
  virtual void begin_sync() = 0;
  /// The bytes [offset, offset + length) of the snapshot `meta` names, one it saved or
  /// installed: an InstallSnapshot chunk, read as it leaves (the core holds no snapshot
  /// bytes). nullopt when they are gone or cannot be read; the chunk is then not sent and
  /// the core's resend rule tries again (a newer snapshot, if nothing was acknowledged).
  virtual std::optional<Payload> read_snapshot(const SnapshotMeta& meta, uint64_t offset,
                                               uint64_t length) = 0;
  /// The command bytes of the stored entry at `index`, which must carry `term`: an entry
  /// whose bytes the core's log released (Entry::data_released), read as the AppendEntries
  /// that carries it leaves. Such an entry was applied, so it is durable. nullopt when it
  /// cannot be read; the message is then not sent and the core's resend rule tries again.
  virtual std::optional<Payload> read_entry(Index index, Term term) = 0;
};

/// The bytes [offset, offset + length) of a snapshot held in memory, or nullopt when they
/// are not all there: read_snapshot for storages that keep snapshot bytes in memory.
std::optional<Payload> slice_snapshot(const Payload& bytes, uint64_t offset, uint64_t length);

class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual void send(Message message) = 0;
  /// Steps Persisted{persist_id} into the core (and hands the Ready back to the pipeline).
  virtual void persisted(uint64_t persist_id) = 0;
  virtual void notice(const Notice& notice) = 0;
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  /// The index of the last entry applied (or restored from a snapshot).
  virtual Index applied() const = 0;
  /// Applies the committed entry at applied() + 1 (a config entry only moves applied()).
  /// nullopt: the entry was not applied (it is at or below applied(): covered by a snapshot).
  virtual std::optional<ApplyResult> apply(const Entry& entry) = 0;
  /// Replaces the state with the snapshot's (a leader's InstallSnapshot).
  virtual void restore(const Snapshot& snapshot) = 0;
};

class Clients {
 public:
  virtual ~Clients() = default;
  /// A tracked write's answer; `result` is meaningful for kApplied only.
  virtual void answer_write(const ClientRef& client, Index index, WriteFate fate,
                            const ApplyResult& result) = 0;
  /// A tracked read may be served now: the state machine has applied `index`.
  virtual void serve_read(const ClientRef& client, Index index) = 0;
  virtual void fail_read(const ClientRef& client, const ReadFailure& failure) = 0;
  /// A tracked read was not served within the host's bound.
  virtual void read_timed_out(const ClientRef& client) = 0;
};

class Pipeline {
 public:
  struct Parts {
    Storage* storage = nullptr;
    Outbox* outbox = nullptr;
    StateMachine* state_machine = nullptr;
    Clients* clients = nullptr;
    Tracer* tracer = nullptr;  // optional: sent messages, decisions, applied entries
  };
  /// release_before_persist: the unsafe switch of the same name (node/config.h).
  Pipeline(Parts parts, bool release_before_persist);

  /// Consumes one Ready (persist, send, apply, notices).
  void handle(Ready ready);
  /// The sync begin_sync started is done and everything up to `durable_seq` is durable:
  /// releases what waited for it, steps Persisted and starts the next sync if writes wait.
  void sync_done(uint64_t durable_seq);
  /// Starts a sync if none is in flight and writes wait (after a write outside a Ready, such
  /// as a snapshot mark); releases at once what waits on nothing left to sync.
  void start_sync_if_idle();
  /// No sync starts and no Persisted is stepped from now on (the host is shutting down).
  void stop() { stopped_ = true; }
  bool sync_in_flight() const { return sync_in_flight_; }

  /// Client writes accepted by one Propose: the k-th command is at first_index + k, proposed
  /// in `term`. `since` is the host's clock value, used only by expire().
  void track_writes(Index first_index, Term term, const std::vector<ClientRef>& clients,
                    uint64_t since);
  /// A client read waiting for ReadIndex{read_id}.
  void track_read(uint64_t read_id, const ClientRef& client, uint64_t since);
  /// Answers writes and reads tracked since before now - *_timeout (host clock units).
  void expire(uint64_t now, uint64_t write_timeout, uint64_t read_timeout);

  size_t pending_writes() const { return writes_.size(); }
  size_t pending_reads() const { return reads_.size(); }
  uint64_t syncs_done() const { return syncs_done_; }
  uint64_t entries_applied() const { return entries_applied_; }
  /// Commands the log had released, read back from storage for an AppendEntries.
  uint64_t entries_read_back() const { return entries_read_back_; }
  uint64_t durable_persist_id() const { return durable_persist_id_; }

 private:
  struct TrackedWrite {
    ClientRef client;
    Term term;  // the term it was proposed in
    uint64_t since = 0;
  };
  struct TrackedRead {
    ClientRef client;
    uint64_t since = 0;
  };

  void persist(Ready& ready);
  void send(Message m);                  // to the outbox, through the tracer if there is one
  bool fill_snapshot_chunk(Message& m);  // false: unreadable (noticed); do not send
  bool fill_released_entries(Message& m);
  void begin_sync_if_idle();
  void release(uint64_t durable_seq);
  void apply(const Ready& ready);
  void answer_applied(const Entry& entry, const ApplyResult& result);
  void answer_reads(const Ready& ready);

  Parts parts_;
  bool release_before_persist_ = false;
  bool stopped_ = false;

  // Group commit. Invariant: at most one sync in flight; durable_persist_id_ only grows.
  bool sync_in_flight_ = false;
  std::deque<std::pair<uint64_t, uint64_t>> unsynced_;  // (persist_id, storage seq) not durable
  uint64_t durable_persist_id_ = 0;                     // newest persist id durable
  // messages_after_persist waiting for their persist_id, in persist_id order.
  std::deque<std::pair<uint64_t, std::vector<Message>>> held_;
  uint64_t syncs_done_ = 0;
  uint64_t entries_applied_ = 0;
  uint64_t entries_read_back_ = 0;

  std::map<Index, TrackedWrite> writes_;   // by the index the write was proposed at
  std::map<uint64_t, TrackedRead> reads_;  // by ReadIndex id
};

}  // namespace raftlab
