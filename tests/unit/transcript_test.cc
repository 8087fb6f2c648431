// Transcript tests for the core, in the style of etcd-io/raft's datadriven tests: each file in
// tests/transcripts/ is a script of commands, each followed by "----" and the output it must
// produce, ending at a blank line. RAFTLAB_REWRITE=1 rewrites the expected output with what the
// code now prints, to be reviewed as a diff.
//
// Commands:
//   add-nodes N [pre_vote=0] [check_quorum=0] [seed=S] [entries_per_msg=K] [inflight=K]
//             [heartbeat=TICKS] [trailing=K] [chunk=BYTES]
//   campaign ID | tick ID [COUNT] | tick-election ID | propose ID DATA
//   snapshot ID | read ID READ_ID | transfer ID TARGET | add ID NODE | remove ID NODE
//   add-spare ID
//   deliver [TO] | stabilize | mailbox | status | log ID | progress ID
//   isolate ID | cut FROM TO | heal | crash ID | restart ID
//   lose-tail ID FROM (a crashed node's durable entries >= FROM vanish: outside Raft's rules)
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/harness.h"

namespace raftlab::testing {
namespace {

struct Block {
  std::string comments;  // "# ..." lines before the command, kept on rewrite
  std::string command;
  std::string expected;
  int line = 0;  // line of the command in the file
};

std::vector<Block> parse_transcript(const std::string& text) {
  std::vector<Block> blocks;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  std::string comments;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (line[0] == '#') {
      comments += line + "\n";
      continue;
    }
    Block b{std::exchange(comments, {}), line, "", line_no};
    if (!std::getline(in, line) || line != "----") {
      throw std::runtime_error("line " + std::to_string(line_no + 1) + ": expected ----");
    }
    ++line_no;
    while (std::getline(in, line) && !line.empty()) {
      ++line_no;
      b.expected += line + "\n";
    }
    ++line_no;
    blocks.push_back(b);
  }
  return blocks;
}

std::vector<std::string> split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

class Runner {
 public:
  std::string run(const std::string& command) {
    const std::vector<std::string> w = split(command);
    if (w.empty()) throw std::runtime_error("empty command");
    const std::string& cmd = w[0];
    auto arg = [&](size_t i) {
      if (i >= w.size()) throw std::runtime_error(cmd + ": missing argument " + std::to_string(i));
      return std::stoi(w[i]);
    };
    if (cmd == "add-nodes") {
      Config c = Harness::default_config();
      for (size_t i = 2; i < w.size(); ++i) {
        const auto eq = w[i].find('=');
        const std::string key = w[i].substr(0, eq);
        const uint64_t value = std::stoull(w[i].substr(eq + 1));
        if (key == "pre_vote")
          c.pre_vote = value != 0;
        else if (key == "check_quorum")
          c.check_quorum = value != 0;
        else if (key == "seed")
          c.seed = value;
        else if (key == "entries_per_msg")
          c.entries_per_msg_max = static_cast<uint32_t>(value);
        else if (key == "inflight")
          c.inflight_msgs_max = static_cast<uint32_t>(value);
        else if (key == "heartbeat")
          c.heartbeat_ticks = static_cast<uint32_t>(value);
        else if (key == "trailing")
          c.snapshot_trailing_entries = static_cast<uint32_t>(value);
        else if (key == "chunk")
          c.snapshot_chunk_bytes_max = value;
        else
          throw std::runtime_error("add-nodes: unknown option " + key);
      }
      h_ = std::make_unique<Harness>(arg(1), c);
      h_->trace = true;
      return status();
    }
    if (!h_) throw std::runtime_error("add-nodes must come first");
    std::string extra;
    if (cmd == "campaign") {
      h_->campaign(arg(1));
    } else if (cmd == "tick") {
      h_->tick(arg(1), w.size() > 2 ? arg(2) : 1);
    } else if (cmd == "tick-election") {
      h_->fire_election_timeout(arg(1));
    } else if (cmd == "propose") {
      if (w.size() < 3) throw std::runtime_error("propose ID DATA");
      h_->propose(arg(1), w[2]);
    } else if (cmd == "deliver") {
      h_->deliver_once(w.size() > 1 ? arg(1) : 0);
    } else if (cmd == "stabilize") {
      h_->stabilize();
    } else if (cmd == "mailbox") {
      for (const Message& m : h_->mailbox()) extra += describe(m) + "\n";
    } else if (cmd == "status") {
      extra = status();
    } else if (cmd == "log") {
      for (const Entry& e : h_->core(arg(1)).log().entries()) extra += describe(e) + "\n";
    } else if (cmd == "progress") {
      for (int id : h_->ids()) {
        const Progress* pr = h_->core(arg(1)).progress(NodeId(id));
        if (!pr) continue;
        extra += std::to_string(id) + ": " + to_string(pr->state) +
                 " match=" + std::to_string(pr->match.get()) +
                 " next=" + std::to_string(pr->next.get()) +
                 " inflight=" + std::to_string(pr->inflight.size()) + "\n";
      }
    } else if (cmd == "snapshot") {
      h_->snapshot(arg(1));
    } else if (cmd == "read") {
      h_->read(arg(1), static_cast<uint64_t>(arg(2)));
    } else if (cmd == "transfer") {
      h_->transfer(arg(1), arg(2));
    } else if (cmd == "add") {
      h_->change(arg(1), MembershipOp::kAddServer, arg(2));
    } else if (cmd == "remove") {
      h_->change(arg(1), MembershipOp::kRemoveServer, arg(2));
    } else if (cmd == "add-spare") {
      h_->add_spare(arg(1));
    } else if (cmd == "isolate") {
      h_->isolate(arg(1));
    } else if (cmd == "cut") {
      h_->cut(arg(1), arg(2));
    } else if (cmd == "heal") {
      h_->heal();
    } else if (cmd == "crash") {
      h_->crash(arg(1));
    } else if (cmd == "restart") {
      h_->restart(arg(1));
    } else if (cmd == "lose-tail") {
      h_->lose_tail(arg(1), static_cast<uint64_t>(arg(2)));
    } else {
      throw std::runtime_error("unknown command " + cmd);
    }
    std::string out = h_->take_trace() + extra;
    return out.empty() ? "ok\n" : out;
  }

 private:
  std::string status() {
    std::string out;
    for (int id : h_->ids()) {
      const HarnessNode& n = h_->node(id);
      out += n.up ? describe_status(n.core->status()) + "\n" : std::to_string(id) + " down\n";
    }
    return out;
  }

  std::unique_ptr<Harness> h_;
};

}  // namespace

TEST_CASE("transcripts: every script in tests/transcripts matches its recorded output") {
  const std::filesystem::path dir = std::filesystem::path(RAFTLAB_SOURCE_DIR) / "tests/transcripts";
  const char* rewrite_env = std::getenv("RAFTLAB_REWRITE");
  const bool rewrite = rewrite_env != nullptr && std::string(rewrite_env) == "1";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".txt") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 5);
  for (const auto& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    const std::vector<Block> blocks = parse_transcript(text.str());
    Runner runner;
    std::string rewritten;
    for (const Block& b : blocks) {
      const std::string actual = runner.run(b.command);
      rewritten += b.comments + b.command + "\n----\n" + actual + "\n";
      if (!rewrite) {
        INFO(file.filename().string() << ":" << b.line << ": " << b.command
                                      << "\n(RAFTLAB_REWRITE=1 rewrites; review the diff)");
        CHECK(actual == b.expected);
        if (actual != b.expected) break;  // later blocks depend on this one
      }
    }
    if (rewrite) {
      std::ofstream out(file);
      out << rewritten;
    }
  }
}

TEST_CASE("transcripts: the parser rejects a block without its ---- line") {
  CHECK_THROWS(parse_transcript("status\nnot a separator\n"));
  CHECK(parse_transcript("# comment\nstatus\n----\nok\n\n").size() == 1);
}

}  // namespace raftlab::testing
