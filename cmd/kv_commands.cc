// `raftlab put K V`, `get K [--stale]`, `append K V`, `delete K`, `cas K OLD NEW` (CLI.md, "The
// replicated key/value store"). Each runs one operation through net/kv_client.h: any node may
// be asked, a follower redirects, a retried write applies once. Exit codes: 0 done, 1 failed
// for certain (a cas that found another value, a write no node accepted), 3 unknown outcome
// (timeout, connection lost after sending), 4 no cluster.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <random>

#include "cmd/kv.h"
#include "cmd/lab.h"

namespace raftlab::lab {
namespace {

constexpr int kExitFailed = 1;

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
  }
  const net::OpResult r = net::run_one_op(
      kv_client_options(spec, *parse_duration_ms(o.timeout), std::random_device{}()), op);
  const bool ok = r.outcome == net::OpOutcome::kOk;
  if (o.json) {
    nlohmann::json doc = {{"ok", ok},
                          {"outcome", net::to_string(r.outcome)},
                          {"node", r.node.get()},
                          {"index", r.index.get()},
                          {"tries", r.tries}};
    doc["value"] = r.value ? nlohmann::json(*r.value) : nlohmann::json(nullptr);
    if (!ok) doc["error"] = r.error;
    print_json(doc);
  } else if (ok) {
    if (o.op == net::ClientOp::kGet) {
      if (r.value) {
        std::cout << *r.value << "\n";
      } else {
        std::cerr << "(absent)\n";
      }
    } else {
      std::cerr << net::to_string(o.op) << " applied at index " << r.index.get() << " by node "
                << r.node.get() << "\n";
    }
  }
  if (ok) return kExitOk;
  if (r.outcome == net::OpOutcome::kFail) {
    std::cerr << "raftlab " << net::to_string(o.op) << ": failed: " << r.error;
    if (r.status == net::ClientStatus::kCasMismatch) {
      std::cerr << " (it holds " << (r.value ? "'" + *r.value + "'" : std::string("nothing"))
                << ")";
    }
    std::cerr << "\n";
    return kExitFailed;
  }
  std::cerr << "raftlab " << net::to_string(o.op) << ": outcome unknown: " << r.error << "\n";
  return kExitTimeout;
}

void add_kv_command(CLI::App& app, net::ClientOp op, const std::string& help) {
  auto o = std::make_shared<KvOptions>();
  o->op = op;
  CLI::App* cmd = app.add_subcommand(net::to_string(op), help);
  add_dir_option(cmd, o->dir);
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
  cmd->add_flag("--json", o->json, "Print one JSON document");
  cmd->callback([o] { run_command([o] { return run_kv(*o); }); });
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
