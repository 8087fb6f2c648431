// The cluster's lanes of the `check --html` page (cmd/checker/cluster_lanes.h): roles and
// terms from events.jsonl lines over the history's window, kills from the nemesis.
#include "cmd/checker/cluster_lanes.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using raftlab::check::killed_nodes;
using raftlab::check::kRoleDead;
using raftlab::check::Lane;
using raftlab::check::lane_from_events;
using raftlab::check::LaneBand;

namespace {

// Lines as EventLog writes them (compact JSON), plus one that does not parse.
const char* const kEvents =
    R"({"t_ns":10,"event":"started","pid":7,"term":1})"
    "\n"
    R"({"t_ns":20,"event":"role","role":"precandidate","from":"follower","term":1})"
    "\n"
    R"({"t_ns":30,"event":"term","term":2,"from":1})"
    "\n"
    R"({"t_ns":30,"event":"role","role":"candidate","from":"precandidate","term":2})"
    "\n"
    R"({"t_ns":40,"event":"role","role":"leader","from":"candidate","term":2})"
    "\n"
    R"({"t_ns":45,"event":"commit","commit":3,"applied":3,"leader":1,"term":2})"
    "\n"
    "{not json\n"
    R"({"t_ns":70,"event":"role","role":"follower","from":"leader","term":2})"
    "\n"
    R"({"t_ns":80,"event":"started","pid":8,"term":2})"
    "\n";

}  // namespace

TEST_CASE("lanes: roles and terms over the window, dead from a kill until started",
          "[html][lanes]") {
  // Killed at 60; the line at 70 was written before the kill landed: it must not revive it.
  const Lane lane = lane_from_events(4, kEvents, {60}, 25, 100);
  CHECK(lane.node == 4);
  const std::vector<LaneBand> want = {{25, 30, "precandidate", 1},
                                      {30, 40, "candidate", 2},
                                      {40, 60, "leader", 2},
                                      {60, 80, kRoleDead, 2},
                                      {80, 100, "follower", 2}};
  CHECK(lane.bands == want);
}

TEST_CASE("lanes: nothing before a node's first event; a window inside one band", "[html][lanes]") {
  CHECK(lane_from_events(1, kEvents, {}, 0, 15).bands ==
        std::vector<LaneBand>{{10, 15, "follower", 1}});
  CHECK(lane_from_events(1, kEvents, {}, 50, 55).bands ==
        std::vector<LaneBand>{{50, 55, "leader", 2}});
  CHECK(lane_from_events(1, "", {}, 0, 100).bands.empty());
}

TEST_CASE("lanes: the nodes a nemesis kill names", "[html][lanes]") {
  CHECK(killed_nodes("kill -9 node 2 (leader)") == std::vector<uint64_t>{2});
  CHECK(killed_nodes("3") == std::vector<uint64_t>{3});
  CHECK(killed_nodes("1,2") == std::vector<uint64_t>{1, 2});
  CHECK(killed_nodes("everything").empty());
}
