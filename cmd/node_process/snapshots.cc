// Snapshot scheduling (see host.h): the node snapshots its state machine every
// snapshot_every applied entries (cluster.json), or when the admin asks; the save runs on a
// worker (WalStorage), one at a time.
#include <algorithm>

#include "cmd/node_process/host.h"

namespace raftlab::lab {

void Host::maybe_snapshot() {
  if (spec_.snapshot_every == 0 || storage_->snapshot_save_in_flight()) return;
  const Index snapshot_index = core_->snapshot() ? core_->snapshot()->meta.index : Index(0);
  const Index applied = kv_.applied();
  if (applied <= snapshot_index || applied - snapshot_index < spec_.snapshot_every) return;
  take_snapshot("auto");
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
