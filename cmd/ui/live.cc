// `raftlab ui`'s live data (see live.h).
#include "cmd/ui/live.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "cmd/cluster/clock.h"
#include "cmd/cluster/exit_codes.h"
#include "cmd/lab/admin_client.h"
#include "cmd/lab/process.h"

namespace raftlab::ui {
namespace {

using lab::ClusterSpec;
using lab::NodeView;
using lab::ProcessState;
using nlohmann::json;

// The numbers a node's status answer carries that a stopped node keeps showing.
constexpr const char* kKeptFields[] = {"term",    "vote",       "leader",         "commit",
                                       "applied", "last_index", "snapshot_index", "timers_frozen"};

// One node of the state document (see docs/cli.md, `ui`): live when it answered, else its last
// known numbers with no role, log or progress.
json node_doc(const NodeView& v, const std::optional<json>& answer, const std::string& member,
              json& last_known) {
  json n = {{"id", v.id.get()}, {"process", lab::to_string(v.process)}, {"member", member}};
  if (answer) {
    for (const char* f : kKeptFields) last_known[f] = answer->value(f, json(0));
    const std::string role = answer->value("role", std::string());
    n["role"] = role == "learner" ? "follower" : role;  // "member" says learner
    n["election"] = answer->value("election", json(nullptr));
    n["log"] = answer->value("log", json::array());
    n["progress"] = answer->value("progress", json::object());
  } else {
    n["role"] = nullptr;
    n["election"] = nullptr;
    n["log"] = json::array();
    n["progress"] = json::object();
  }
  for (const char* f : kKeptFields) {
    n[f] = last_known.is_object() && last_known.contains(f) ? last_known[f] : json(0);
  }
  if (!last_known.contains("timers_frozen")) n["timers_frozen"] = false;
  return n;
}

}  // namespace

// ---- FileTail ----------------------------------------------------------------------------------

FileTail::FileTail(std::string path, std::string rotated, bool from_end)
    : path_(std::move(path)), rotated_(std::move(rotated)) {
  struct stat st {};
  if (from_end && ::stat(path_.c_str(), &st) == 0) {
    inode_ = st.st_ino;
    offset_ = static_cast<uint64_t>(st.st_size);
    // After an unfinished last line comes no record start: skip to the next newline.
    char last = '\n';
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && offset_ > 0 && ::pread(fd, &last, 1, static_cast<off_t>(offset_ - 1)) == 1) {
      if (last != '\n') carry_ = "\x01";
    }
    if (fd >= 0) ::close(fd);
  }
}

void FileTail::read(std::vector<std::string>& lines) {
  struct stat st {};
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  if (!exists || st.st_ino != inode_) {
    struct stat old {};
    // Rotated: the file we were reading is now `rotated_`; read what was added before that.
    if (inode_ != 0 && !rotated_.empty() && ::stat(rotated_.c_str(), &old) == 0 &&
        old.st_ino == inode_) {
      read_from(rotated_, true, lines);
    }
    carry_.clear();
    inode_ = exists ? st.st_ino : 0;
    offset_ = 0;
    if (!exists) return;
  } else if (static_cast<uint64_t>(st.st_size) < offset_) {
    offset_ = 0;  // rewritten from the start
    carry_.clear();
  }
  read_from(path_, false, lines);
}

void FileTail::read_from(const std::string& path, bool to_end, std::vector<std::string>& lines) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  std::string buf;
  char chunk[64 * 1024];
  // Bounded: one round reads at most kUiTailBytesPerRoundMax, except to finish a rotated file.
  while (to_end || buf.size() < kUiTailBytesPerRoundMax) {
    const ssize_t n = ::pread(fd, chunk, sizeof chunk, static_cast<off_t>(offset_ + buf.size()));
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    if (to_end && buf.size() > 16 * kUiTailBytesPerRoundMax) break;
  }
  ::close(fd);
  offset_ += buf.size();
  size_t start = 0;
  for (size_t nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n', start)) {
    std::string line = carry_ + buf.substr(start, nl - start);
    const bool skip = !carry_.empty() && carry_[0] == '\x01';  // the tail we started inside
    carry_.clear();
    start = nl + 1;
    if (!skip && !line.empty()) lines.push_back(std::move(line));
  }
  if (carry_.size() + (buf.size() - start) > kUiTailLineBytesMax) {
    carry_ = "\x01";  // a runaway line: dropped up to its newline
  } else {
    carry_ += buf.substr(start);
  }
}

// ---- Live --------------------------------------------------------------------------------------

Live::Live(std::string dir) : dir_(std::move(dir)) {
  const ClusterSpec spec = lab::load_cluster(dir_);  // LabError(4): no cluster
  for (const lab::NodeSpec& n : spec.nodes) node_ids_.push_back(n.id.get());
}

Live::~Live() { stop(); }

void Live::start() {
  round();
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void Live::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  poll_cv_.notify_all();
  frame_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Live::poke() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poke_ = true;
  }
  poll_cv_.notify_all();
}

void Live::run() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const auto due = Clock::now() + std::chrono::milliseconds(kUiStateIntervalMs);
    lock.unlock();
    round();
    lock.lock();
    poll_cv_.wait_until(lock, due, [this] { return stopping_ || poke_; });
    poke_ = false;
  }
}

json Live::poll_nodes(const ClusterSpec& spec) {
  std::vector<NodeView> views;
  std::vector<std::optional<json>> answers;
  for (const lab::NodeSpec& spec_node : spec.nodes) {
    NodeView v;
    v.id = spec_node.id;
    v.pid = lab::live_node_pid(dir_, v.id);
    v.process = v.pid ? lab::process_state(*v.pid) : ProcessState::kStopped;
    std::optional<json> a;
    if (v.process == ProcessState::kRunning) {
      a = lab::admin_request(dir_, v.id, json{{"cmd", "status"}, {"log_tail", kUiLogEntriesMax}},
                             kUiAdminTimeoutMs);
      if (a && !a->value("ok", false)) a.reset();
    }
    if (a) {
      v.answered = true;
      v.role = a->value("role", std::string("unknown"));
      v.term = a->value("term", uint64_t{0});
      v.voters = lab::id_list(*a, "voters");
      v.learners = lab::id_list(*a, "learners");
    }
    views.push_back(std::move(v));
    answers.push_back(std::move(a));
  }
  const std::vector<std::string> members = lab::membership_of(views);
  json nodes = json::array();
  for (size_t k = 0; k < views.size(); ++k) {
    json& last = last_known_[views[k].id.get()];
    if (!last.is_object()) last = json::object();
    nodes.push_back(node_doc(views[k], answers[k], members[k], last));
  }
  return nodes;
}

// The running nodes' held messages, as `msgs --json` lists them; asked only while a hold rule
// is in force or messages were held at the last round (none are held otherwise).
json Live::poll_held(const ClusterSpec& spec) {
  json held = json::array();
  if (spec.holds.empty() && !held_seen_) return held;
  for (const lab::NodeSpec& n : spec.nodes) {
    if (lab::node_process_state(dir_, n.id) != ProcessState::kRunning) continue;
    const auto a = lab::admin_request(dir_, n.id, json{{"cmd", "held"}}, kUiAdminTimeoutMs);
    if (!a || !a->value("ok", false) || !a->contains("held")) continue;
    for (const json& m : a->at("held")) held.push_back(m);
  }
  held_seen_ = !held.empty();
  return held;
}

std::vector<std::string> Live::read_traces() {
  std::vector<std::string> lines;
  std::vector<std::string> paths;
  for (uint64_t id : node_ids_) paths.push_back(lab::node_dir(dir_, NodeId(id)));
  paths.push_back("");  // actions.jsonl
  for (const std::string& ndir : paths) {
    const std::string path = ndir.empty() ? dir_ + "/actions.jsonl" : ndir + "/trace.jsonl";
    auto it = tails_.find(path);
    if (it == tails_.end()) {
      const std::string rotated = ndir.empty() ? "" : ndir + "/trace.1.jsonl";
      // At the start the history is /api/timeline's; a node added later is read whole.
      it = tails_.emplace(path, std::make_unique<FileTail>(path, rotated, !started_)).first;
    }
    it->second->read(lines);
  }
  // One record per line, as written; a line that is not a JSON object is not passed on.
  std::erase_if(lines, [](const std::string& l) { return l[0] != '{' || !json::accept(l); });
  return lines;
}

void Live::round() {
  json doc;
  try {
    const ClusterSpec spec = lab::load_cluster(dir_);  // its faults change under us
    std::vector<uint64_t> ids;
    for (const lab::NodeSpec& n : spec.nodes) ids.push_back(n.id.get());
    {
      std::lock_guard<std::mutex> lock(mu_);
      node_ids_ = ids;
    }
    doc = {{"cluster_id", spec.cluster_id},
           {"dir", dir_},
           {"now_us", lab::monotonic_ns() / 1000},
           {"nodes", poll_nodes(spec)},
           {"faults", json::parse(lab::cluster_to_json(spec)).at("faults")},
           {"held", poll_held(spec)}};
  } catch (const std::exception& e) {
    // cluster.json mid-purge or unreadable: the page shows the error, the ui keeps going.
    doc = {{"dir", dir_},
           {"now_us", lab::monotonic_ns() / 1000},
           {"error", e.what()},
           {"nodes", json::array()},
           {"faults", json::object()},
           {"held", json::array()}};
  }
  Frame f;
  f.trace = read_traces();
  std::string state = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = std::move(state);
    f.seq = ++seq_;
    f.records_before = records_total_;
    records_total_ += f.trace.size();
    frames_.push_back(std::move(f));
    while (frames_.size() > kUiFramesKept) frames_.pop_front();
  }
  frame_cv_.notify_all();
}

std::string Live::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

bool Live::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

std::vector<uint64_t> Live::node_ids() const {
  std::lock_guard<std::mutex> lock(mu_);
  return node_ids_;
}

Cursor Live::cursor() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {seq_, records_total_};
}

// Called with mu_ held. The records after `c`, the newest kUiTraceBatchMax of them, after a
// ui_skipped record counting those dropped here and those whose frames were gone.
std::string Live::trace_batch(const Cursor& c, uint64_t* records_after) const {
  std::vector<const std::string*> lines;
  uint64_t skipped = 0;
  bool first = true;
  for (const Frame& f : frames_) {
    if (f.seq <= c.seq) continue;
    if (first && f.records_before > c.records) skipped = f.records_before - c.records;
    first = false;
    for (const std::string& l : f.trace) lines.push_back(&l);
  }
  *records_after = records_total_;
  if (lines.size() > kUiTraceBatchMax) {
    const size_t drop = lines.size() - kUiTraceBatchMax;
    skipped += drop;
    lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  if (lines.empty() && skipped == 0) return "";
  std::string out = "{\"events\":[";
  if (skipped > 0) {
    out += "{\"ev\":\"ui_skipped\",\"count\":" + std::to_string(skipped) + "}";
  }
  for (const std::string* l : lines) {
    if (out.back() != '[') out += ',';
    out += *l;
  }
  return out + "]}";
}

bool Live::next(Cursor& c, std::string& state, std::string& trace, uint32_t wait_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  frame_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                     [&] { return stopping_ || seq_ > c.seq; });
  if (stopping_ || seq_ <= c.seq) return false;
  state = state_;
  trace = trace_batch(c, &c.records);
  c.seq = seq_;
  return true;
}

}  // namespace raftlab::ui
