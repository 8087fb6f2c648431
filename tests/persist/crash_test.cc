// Crash consistency with real processes: a child appends and syncs, reporting every index it
// has synced; we SIGKILL it at seeded random moments, recover, and require every reported
// index to be there with its exact contents (and nothing after a torn record, which recovery
// cuts off: the log is checked to be one consecutive run from 1), and the manifest to list
// exactly the segments there (small segments, so kills land inside rolls).
//
// RAFTLAB_CRASH_KILLS (default 200) sets the number of kills; RAFTLAB_SEED the seed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <string>

#include "node/prng.h"
#include "persist/snapshot.h"
#include "tests/persist/crash_data.h"
#include "tests/persist/test_util.h"

using namespace raftlab;
using namespace raftlab::persist;

namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// A child process killed and reaped by pid when this goes out of scope, even on failure.
class Child {
 public:
  Child(const std::string& dir, uint64_t seed) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    const std::string seed_text = std::to_string(seed);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::execl(RAFTLAB_WAL_CRASH_CHILD, "raftlab_wal_crash_child", "crash", dir.c_str(),
              seed_text.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    read_fd_ = fds[0];
  }
  ~Child() {
    kill_and_reap();
    if (read_fd_ >= 0) ::close(read_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Reads reports until `deadline`; returns false at end of file (the child exited).
  bool read_until(std::chrono::steady_clock::time_point deadline, uint64_t* synced) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return true;
      pollfd p{read_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      if (!drain(synced)) return false;
    }
  }

  // Reads what is buffered in the pipe; false at end of file.
  bool drain(uint64_t* synced) {
    char buf[4096];
    const ssize_t n = ::read(read_fd_, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t k = 0; k < n; ++k) {
      if (buf[k] == '\n') {
        *synced = std::max<uint64_t>(*synced, std::strtoull(line_.c_str(), nullptr, 10));
        line_.clear();
      } else {
        line_.push_back(buf[k]);
      }
    }
    return true;
  }

  int kill_and_reap() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    pid_ = -1;
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int read_fd_ = -1;
  int status_ = 0;
  std::string line_;  // a report not yet ended by '\n' (a kill can cut one short)
};

}  // namespace

TEST_CASE("crash consistency: SIGKILL at random moments never loses a synced entry", "[crash]") {
  const uint64_t kills = env_or("RAFTLAB_CRASH_KILLS", 200);
  const uint64_t seed = env_or("RAFTLAB_SEED", 1);
  constexpr auto kTimeBudget = std::chrono::seconds(120);  // a hung child fails, not hangs
  INFO("seed " << seed << " (replay: RAFTLAB_SEED=" << seed << ")");
  test::TempDir tmp;
  Prng prng(seed);
  uint64_t synced = 0;  // every index up to here was reported durable
  uint64_t recovered_max = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t k = 0; k < kills; ++k) {
    REQUIRE(std::chrono::steady_clock::now() - start < kTimeBudget);
    {
      Child child(tmp.path(), prng.next());
      // Sometimes at once (inside recovery), mostly after 0-25 ms of appending.
      const auto delay = std::chrono::microseconds(
          prng.uniform(0, 4) == 0 ? prng.uniform(0, 2000) : prng.uniform(0, 25000));
      const bool alive = child.read_until(std::chrono::steady_clock::now() + delay, &synced);
      const int status = child.kill_and_reap();
      INFO("kill " << k);
      REQUIRE(alive);  // the child must not exit on its own (it prints why on stderr)
      REQUIRE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
      while (child.drain(&synced)) {
      }
    }
    NodeStorage s = open_node_storage(tmp.path(), WalOptions{});
    const auto& entries = s.recovered.entries;
    INFO("kill " << k << ": reported synced through " << synced << ", recovered "
                 << entries.size());
    REQUIRE(entries.size() >= synced);
    for (size_t i = 0; i < entries.size(); ++i) {
      REQUIRE(entries[i] == test::expected_entry(i + 1));
    }
    REQUIRE(s.recovered.hard_state.commit.get() <= entries.size());
    // A kill inside a roll must never leave a WAL that refuses to start (it did not: we got
    // here) nor a manifest that misdescribes it: it lists exactly the segments there.
    const std::string wal_dir = tmp.path() + "/wal";
    const std::optional<Manifest> manifest = read_manifest(wal_dir);
    REQUIRE(manifest.has_value());
    REQUIRE(test::segment_files(wal_dir).size() == manifest->last_seq - manifest->first_seq + 1);
    REQUIRE(std::filesystem::exists(wal_dir + "/" + open_segment_name(manifest->last_seq)));
    recovered_max = entries.size();
  }
  CHECK(synced > 0);
  WARN(kills << " kills, " << synced << " entries synced, " << recovered_max << " recovered, "
             << std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count()
             << " ms");
}
