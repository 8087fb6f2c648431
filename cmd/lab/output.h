// What the CLI prints: node id lists, exactly one JSON document, aligned tables, and the
// status table (docs/cli.md: one row per node) or its JSON document.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/lab/admin_client.h"

namespace raftlab::lab {

nlohmann::json ids_json(const std::vector<NodeId>& ids);
/// "1,3" ("-" when empty).
std::string ids_text(const std::vector<NodeId>& ids);
/// Exactly one JSON document on stdout.
void print_json(const nlohmann::json& doc);
/// The status table (docs/cli.md: one row per node) or its JSON document.
void print_status(const ClusterSpec& spec, const std::vector<NodeView>& views, bool json);
nlohmann::json status_json(const ClusterSpec& spec, const std::vector<NodeView>& views);
/// The status table's rows, the header first; and any such table printed in aligned columns.
std::vector<std::vector<std::string>> status_rows(const ClusterSpec& spec,
                                                  const std::vector<NodeView>& views);
void print_table(const std::vector<std::vector<std::string>>& rows);

}  // namespace raftlab::lab
