// The cluster directory and cluster.json (layout in cmd/cluster/contract.h): read, write and
// locate. Shared by the lab CLI and the node process.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cmd/cluster/exit_codes.h"
#include "net/fault_filter.h"
#include "net/hold.h"
#include "node/types.h"

namespace raftlab::lab {

struct NodeSpec {
  NodeId id;
  uint16_t port = 0;
};

struct TimingSpec {
  uint32_t tick_ms = 10;
  uint32_t heartbeat_ms = 50;
  uint32_t election_timeout_min_ms = 150;
  uint32_t election_timeout_max_ms = 300;
};

/// Protocol switches (`up --no-prevote ...`), applied to each node's Config (node/config.h), for
/// side-by-side comparison. Every setting is safe; the defaults are Config's.
struct ProtocolSpec {
  bool pre_vote = true;        // Config::pre_vote (thesis §9.6)
  bool check_quorum = true;    // Config::check_quorum (thesis §6.2)
  bool fast_backup = true;     // Config::fast_backup (off: §5.3's one entry per round trip)
  uint32_t max_inflight = 16;  // Config::inflight_msgs_max
  uint32_t max_batch = 64;     // Config::entries_per_msg_max
  bool operator==(const ProtocolSpec&) const = default;
};
constexpr uint32_t kProtocolLimitMax = 1'000'000;  // --max-inflight/--max-batch: beyond is a typo

/// How much each node traces (docs/trace.md): nothing, all but heartbeats that change nothing,
/// or every message.
enum class TraceLevel : uint8_t { kOff, kChanges, kAll };
const char* to_string(TraceLevel level);
/// "off", "changes", "all"; nullopt for anything else.
std::optional<TraceLevel> parse_trace_level(std::string_view text);

struct ClusterSpec {
  std::string cluster_id;
  uint64_t seed = 1;
  std::vector<NodeSpec> nodes;
  std::vector<NodeId> voters;  // the bootstrap configuration
  TimingSpec timing;
  bool fsync = true;
  uint64_t snapshot_every = 0;
  // Test-only: names of node/config.h UnsafeSwitches every node turns on (`up --unsafe`), so a
  // checker can be shown to catch a broken cluster. Empty in every real use.
  std::vector<std::string> unsafe;
  TraceLevel trace = TraceLevel::kChanges;
  ProtocolSpec protocol;
  FaultRules faults;
  // `net hold` rules (net/hold.h), kept as "holds" inside "faults": a restarted node holds again.
  std::vector<net::HoldRule> holds;

  const NodeSpec* node(NodeId id) const;
};

/// --dir if given, else $RAFTLAB_DIR, else ./raftlab-data.
std::string resolve_dir(const std::string& dir_flag);
/// DIR/n<ID>.
std::string node_dir(const std::string& dir, NodeId id);
/// Reads DIR/cluster.json. LabError(4) if it is missing ("no cluster at DIR") or malformed.
ClusterSpec load_cluster(const std::string& dir);
/// Writes DIR/cluster.json atomically (temporary file, fsync, rename, directory fsync).
void save_cluster(const std::string& dir, const ClusterSpec& spec);

/// DIR/n<ID>/bootstrap (cmd/cluster/contract.h): the voters a node starts with on an empty log.
/// Written once, by `up` when it creates the cluster (atomically, fsynced).
void write_bootstrap(const std::string& node_dir, const std::vector<NodeId>& voters);
/// nullopt when the file does not exist; LabError(4) naming the file when it is malformed.
std::optional<std::vector<NodeId>> read_bootstrap(const std::string& node_dir);

/// "no-prevote, max-batch 8" (the `up` flags that differ from the defaults), or "defaults".
std::string protocol_text(const ProtocolSpec& p);
/// cluster.json's "protocol" object (also in `status --json`).
nlohmann::json protocol_to_json(const ProtocolSpec& p);

/// The JSON text of cluster.json, and back (LabError(4) on malformed input).
std::string cluster_to_json(const ClusterSpec& spec);
ClusterSpec cluster_from_json(const std::string& text);

}  // namespace raftlab::lab
