// `raftlab put K V`, `get K [--stale]`, `append K V`, `delete K`, `cas K OLD NEW` (docs/cli.md,
// "Key/value store"). Each runs one operation through net/kv_client.h: any node may
// be asked, a follower redirects, a retried write applies once. Exit codes: 0 done, 1 failed
// for certain (a cas that found another value, a write no node accepted) or, for get, no such
// key (nothing printed, as `git config --get` and `kubectl get`), 3 unknown outcome (timeout,
// connection lost after sending), 4 no cluster.
//
// The node that answered a write last is remembered in DIR/leader (a hint, never trusted for
// safety): the next command asks it first, so a write on a healthy cluster costs one round trip.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>

#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/command.h"
#include "cmd/lab/kv.h"
#include "cmd/lab/output.h"
#include "cmd/lab/parse.h"
#include "cmd/lab/process.h"
#include "cmd/lab/selectors.h"
#include "cmd/verbs.h"

namespace raftlab::lab {
namespace {

// DIR/leader: the last node known to lead, as a decimal id. Written whole and renamed; a
// missing, stale or garbled hint only costs a redirect.
constexpr std::string_view kLeaderHintFile = "leader";

NodeId read_leader_hint(const std::string& dir, const ClusterSpec& spec) {
  std::ifstream in(dir + "/" + std::string(kLeaderHintFile));
  uint64_t id = 0;
  if (!(in >> id) || spec.node(NodeId(id)) == nullptr) return NodeId();
  return NodeId(id);
}

void write_leader_hint(const std::string& dir, NodeId leader) {
  const std::string path = dir + "/" + std::string(kLeaderHintFile);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << leader.get() << "\n";
    if (!out) return;  // a hint: not worth failing the command for
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) std::remove(tmp.c_str());
}

// No outcome after every node refused as not the leader or could not be reached: say what
// that likely means rather than only the last node's answer.
std::string no_leader_hint(const net::OpResult& r) {
  if (r.status == net::ClientStatus::kNotLeader || r.status == net::ClientStatus::kRetry ||
      r.node == NodeId()) {
    return "; no leader could be found: a majority of the nodes may be down or cut off "
           "(see `raftlab status`)";
  }
  return "";
}

struct KvOptions {
  std::string dir;
  net::ClientOp op = net::ClientOp::kGet;
  std::string key;
  std::string value;
  std::string expected;
  bool stale = false;
  std::string node;  // ask this node first (a selector resolving to one node)
  std::string timeout = "5s";
  bool json = false;
};

int run_kv(const KvOptions& o) {
  const std::string dir = absolute_dir(resolve_dir(o.dir));
  const ClusterSpec spec = load_cluster(dir);
  net::KvOp op;
  op.op = o.op;
  op.key = o.key;
  op.value = o.value;
  op.expected = o.expected;
  op.stale = o.stale;
  if (!o.node.empty()) {
    const std::vector<NodeId> nodes = resolve_selector(o.node, dir, spec);
    if (nodes.size() != 1) {
      throw LabError(kExitUsage, "--node must name one node (got " + ids_text(nodes) + ")");
    }
    op.node = nodes.front();
  } else if (o.stale) {
    throw LabError(kExitUsage, "--stale reads one node's state: name it with --node");
  } else {
    op.node = read_leader_hint(dir, spec);
  }
  const net::OpResult r = net::run_one_op(
      kv_client_options(spec, *parse_duration_ms(o.timeout), std::random_device{}()), op);
  const bool ok = r.outcome == net::OpOutcome::kOk;
  const bool is_get = o.op == net::ClientOp::kGet;
  if (ok && !is_get && r.node) write_leader_hint(dir, r.node);  // a write's answer: it leads
  if (o.json) {
    nlohmann::json doc = {{"ok", ok},
                          {"outcome", net::to_string(r.outcome)},
                          {"node", r.node.get()},
                          {"index", r.index.get()},
                          {"tries", r.tries}};
    doc["value"] = r.value ? nlohmann::json(*r.value) : nlohmann::json(nullptr);
    if (ok && is_get) doc["found"] = r.value.has_value();
    if (!ok) doc["error"] = r.error + no_leader_hint(r);
    print_json(doc);
  } else if (ok) {
    if (is_get) {
      if (r.value) std::cout << *r.value << "\n";  // absent: nothing, and exit 1 below
    } else {
      std::cerr << net::to_string(o.op) << " applied at index " << r.index.get() << " by node "
                << r.node.get() << "\n";
    }
  }
  if (ok) return is_get && !r.value ? kExitFailed : kExitOk;
  if (r.outcome == net::OpOutcome::kFail) {
    std::cerr << "raftlab " << net::to_string(o.op) << ": " << r.error;
    if (r.status != net::ClientStatus::kCasMismatch) std::cerr << no_leader_hint(r);
    if (r.status == net::ClientStatus::kCasMismatch) {
      std::cerr << " (it holds " << (r.value ? "'" + *r.value + "'" : std::string("nothing"))
                << ")";
    }
    std::cerr << "\n";
    return kExitFailed;
  }
  std::cerr << "raftlab " << net::to_string(o.op) << ": outcome unknown: " << r.error
            << no_leader_hint(r) << "\n";
  return kExitTimeout;
}

void add_kv_command(CLI::App& app, net::ClientOp op, const std::string& help) {
  auto o = std::make_shared<KvOptions>();
  o->op = op;
  CLI::App* cmd = add_verb(app, net::to_string(op), help, o->dir);
  cmd->add_option("KEY", o->key, "The key")->required();
  if (op == net::ClientOp::kCas) {
    cmd->add_option("OLD", o->expected, "The value the key must hold")->required();
    cmd->add_option("NEW", o->value, "The value it gets")->required();
  } else if (op == net::ClientOp::kPut || op == net::ClientOp::kAppend) {
    cmd->add_option("VALUE", o->value, "The value")->required();
  }
  if (op == net::ClientOp::kGet) {
    cmd->add_flag("--stale", o->stale,
                  "Read the named node's applied state at once (may be behind; needs --node)");
  }
  cmd->add_option("--node", o->node, "Ask this node first (any node works; a follower redirects)")
      ->check(selector_validator());
  cmd->add_option("--timeout", o->timeout, "Bound on the operation, retries included (default 5s)")
      ->check(positive_duration_validator());
  add_json_flag(cmd, o->json);
  run_on_parse(cmd, [o] { return run_kv(*o); });
}

}  // namespace

net::KvClientOptions kv_client_options(const ClusterSpec& spec, uint64_t op_timeout_ms,
                                       uint64_t seed) {
  net::KvClientOptions o;
  o.cluster_id = spec.cluster_id;
  for (const NodeSpec& n : spec.nodes) o.nodes[n.id] = n.port;
  o.op_timeout_ms = op_timeout_ms;
  o.try_timeout_ms = std::min<uint64_t>(1000, std::max<uint64_t>(op_timeout_ms / 3, 100));
  o.seed = seed;
  return o;
}

void setup_kv_commands(CLI::App& app) {
  add_kv_command(app, net::ClientOp::kPut, "Set KEY to VALUE");
  add_kv_command(app, net::ClientOp::kGet, "Read KEY (linearizable; --stale: one node's state)");
  add_kv_command(app, net::ClientOp::kAppend, "Append VALUE to KEY's value");
  add_kv_command(app, net::ClientOp::kDelete, "Remove KEY");
  add_kv_command(app, net::ClientOp::kCas, "Set KEY to NEW if it holds OLD (exit 1 if not)");
}

}  // namespace raftlab::lab
