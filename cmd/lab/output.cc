// What the CLI prints (see output.h).
#include "cmd/lab/output.h"

#include <algorithm>
#include <iostream>

#include "net/fault_filter.h"

namespace raftlab::lab {
namespace {
using nlohmann::json;
}  // namespace

json ids_json(const std::vector<NodeId>& ids) {
  json a = json::array();
  for (NodeId id : ids) a.push_back(id.get());
  return a;
}

std::string ids_text(const std::vector<NodeId>& ids) {
  std::string out;
  for (NodeId id : ids) out += (out.empty() ? "" : ",") + std::to_string(id.get());
  return out.empty() ? "-" : out;
}

void print_json(const json& doc) {
  std::cout << doc.dump(2, ' ', false, json::error_handler_t::replace) << std::endl;
}

namespace {

// The faults touching one node, e.g. "cut off from 3,4,5" or "no send to 3; loss/delay".
std::string faults_text(const ClusterSpec& spec, NodeId id) {
  FaultFilter filter(spec.seed);
  filter.set_rules(spec.faults);
  std::vector<NodeId> no_send;
  std::vector<NodeId> no_recv;
  for (const NodeSpec& n : spec.nodes) {
    if (n.id == id) continue;
    if (!filter.reachable(id, n.id)) no_send.push_back(n.id);
    if (!filter.reachable(n.id, id)) no_recv.push_back(n.id);
  }
  std::string out;
  if (!no_send.empty() && no_send == no_recv) {
    out = "cut off from " + ids_text(no_send);
  } else {
    if (!no_send.empty()) out = "no send to " + ids_text(no_send);
    if (!no_recv.empty()) out += (out.empty() ? "" : "; ") + ("no recv from " + ids_text(no_recv));
  }
  for (const LinkRule& l : spec.faults.links) {
    if (l.from.empty() || l.to.empty() || l.from.count(id) || l.to.count(id)) {
      out += (out.empty() ? "" : "; ") + std::string("link faults");
      break;
    }
  }
  for (const net::HoldRule& h : spec.holds) {  // `net hold`: it keeps some messages back
    if (h.from.empty() || h.from.count(id)) {
      out += (out.empty() ? "" : "; ") + std::string("holds: ") + net::describe(h).substr(5);
      break;
    }
  }
  return out;
}

// A frozen election timer shows beside the role: it is why a follower never campaigns.
std::string role_text(const NodeView& v) {
  if (!v.answered) return "-";
  return v.timers_frozen ? v.role + " (timer frozen)" : v.role;
}

}  // namespace

json status_json(const ClusterSpec& spec, const std::vector<NodeView>& views) {
  json doc = {{"cluster_id", spec.cluster_id},
              {"protocol", protocol_to_json(spec.protocol)},
              {"nodes", json::array()}};
  const std::vector<std::string> member = membership_of(views);
  for (const NodeView& v : views) {
    const bool known = v.answered || v.from_files;
    auto num = [&](uint64_t x, bool ok) { return ok ? json(x) : json(nullptr); };
    doc["nodes"].push_back({{"id", v.id.get()},
                            {"pid", v.pid ? json(*v.pid) : json(nullptr)},
                            {"process", to_string(v.process)},
                            {"role", v.answered ? v.role : std::string("unknown")},
                            {"term", num(v.term, known)},
                            {"leader", num(v.leader, v.answered)},
                            {"commit", num(v.commit, known)},
                            {"applied", num(v.applied, v.answered)},
                            {"last_index", num(v.last_index, known)},
                            {"snapshot_index", num(v.snapshot_index, known)},
                            {"timers_frozen", v.answered ? json(v.timers_frozen) : json(nullptr)},
                            {"member", member[doc["nodes"].size()]},
                            {"faults", faults_text(spec, v.id)},
                            {"counters", v.answered ? v.counters : json(nullptr)}});
  }
  return doc;
}

std::vector<std::vector<std::string>> status_rows(const ClusterSpec& spec,
                                                  const std::vector<NodeView>& views) {
  std::vector<std::vector<std::string>> rows = {{"ID", "PID", "PROCESS", "MEMBER", "ROLE", "TERM",
                                                 "LEADER", "COMMIT", "APPLIED", "LAST", "SNAP",
                                                 "FAULTS"}};
  const std::vector<std::string> member = membership_of(views);
  for (const NodeView& v : views) {
    const bool known = v.answered || v.from_files;
    auto num = [&](uint64_t x, bool ok) { return ok ? std::to_string(x) : std::string("-"); };
    std::string faults = faults_text(spec, v.id);
    rows.push_back({std::to_string(v.id.get()), v.pid ? std::to_string(*v.pid) : "-",
                    to_string(v.process), member[rows.size() - 1], role_text(v), num(v.term, known),
                    v.answered ? (v.leader ? std::to_string(v.leader) : "none") : "-",
                    num(v.commit, known), num(v.applied, v.answered), num(v.last_index, known),
                    num(v.snapshot_index, known), faults.empty() ? "-" : faults});
  }
  return rows;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
  std::cout.flush();
}

void print_status(const ClusterSpec& spec, const std::vector<NodeView>& views, bool as_json) {
  if (as_json) {
    print_json(status_json(spec, views));
    return;
  }
  std::cout << "cluster " << spec.cluster_id << "\n";
  print_table(status_rows(spec, views));
}

}  // namespace raftlab::lab
