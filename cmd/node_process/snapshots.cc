// Snapshot scheduling (see host.h): the node snapshots its state machine every
// snapshot_every applied entries (cluster.json), or when the admin asks, one at a time.
//   - auto: a forked child writes the state machine as it was at the fork (copy-on-write) to
//     the snapshot file, so nothing is serialized on the loop thread (about 30 ms for the
//     bench's 27 MB, a stall every client saw in its tail latency); once the file is durable
//     the core hears SnapshotTaken{saved} and compacts.
//   - admin, or when no child can be started: the state machine is serialized here and saved
//     on a worker (WalStorage); the admin's answer names the new snapshot index at once.
#include <algorithm>

#include "cmd/node_process/host.h"

namespace raftlab::lab {

void Host::maybe_snapshot() {
  if (spec_.snapshot_every == 0 || storage_->snapshot_save_in_flight()) return;
  const Index snapshot_index = core_->snapshot() ? core_->snapshot()->meta.index : Index(0);
  const Index applied = kv_.applied();
  if (applied <= snapshot_index || applied - snapshot_index < spec_.snapshot_every) return;
  if (!fork_snapshot()) take_snapshot("auto");
}

bool Host::fork_snapshot() {
  const Index index = kv_.applied();
  const std::optional<SnapshotMeta> meta = core_->snapshot_meta_at(index);
  if (!meta) return false;
  const kv::StateMachine& sm = kv_.kv();
  return storage_->start_snapshot_fork(*meta, sm.snapshot_size(),
                                       [&sm](const auto& sink) { sm.write_snapshot(sink); });
}

void Host::on_snapshot_written(const SnapshotMeta& meta, uint64_t size, const std::string& error) {
  if (shutting_down_) return;  // the WAL still covers everything; the file is found at start
  if (!error.empty()) {
    log("snapshot at index " + std::to_string(meta.index.get()) + " not written: " + error);
    events_.emit("snapshot_failed", {{"index", meta.index.get()}, {"error", error}});
    return;
  }
  step(SnapshotTaken{.index = meta.index, .data = {}, .saved = true, .size = size});
  ++snapshots_taken_;
  events_.emit("snapshot", {{"index", core_->status().snapshot_index.get()}, {"by", "auto"}});
  pipeline_->start_sync_if_idle();  // the WAL mark
}

// The core takes a snapshot at an index it has handed out to apply (the pipeline applied it
// in the same Ready) and not yet snapshotted; the state machine is exactly there.
void Host::take_snapshot(const char* by) {
  step(SnapshotTaken{kv_.applied(), kv_.snapshot()});
  ++snapshots_taken_;
  events_.emit("snapshot", {{"index", core_->status().snapshot_index.get()}, {"by", by}});
}

void Host::on_snapshot_saved(const SnapshotMeta& meta, const std::string& error) {
  if (shutting_down_) return;  // the final sync is done; the WAL still covers everything
  if (!error.empty()) {
    // The WAL still holds everything: log it, take the next snapshot later.
    log("snapshot at index " + std::to_string(meta.index.get()) + " not saved: " + error);
    events_.emit("snapshot_failed", {{"index", meta.index.get()}, {"error", error}});
    return;
  }
  if (meta.index <= storage_->durable_snapshot_index()) return;  // a leader's newer came first
  storage_->mark_snapshot(meta, core_->log().first_index());
  pipeline_->start_sync_if_idle();
}

}  // namespace raftlab::lab
