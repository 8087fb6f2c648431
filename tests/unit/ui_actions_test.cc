// `raftlab ui`'s POST /api/action checks (cmd/ui/actions.h): the argv built for every verb, and
// every kind of bad request refused with a message and no argv.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cmd/ui/actions.h"

namespace {

using raftlab::ui::action_args;
using raftlab::ui::ActionArgs;
using raftlab::ui::kUiActionIdsMax;
using raftlab::ui::kUiBodyBytesMax;
using Args = std::vector<std::string>;

const std::vector<uint64_t> kNodes = {1, 2, 3, 4, 5};
const std::string kDir = "/tmp/c";

Args args_of(const std::string& body) {
  const ActionArgs a = action_args(body, kNodes, kDir);
  INFO(body << " -> " << a.error);
  REQUIRE(a.ok());
  return a.args;
}

// A refused request: no argv, and the message names `why`.
void refused(const std::string& body, const std::string& why) {
  const ActionArgs a = action_args(body, kNodes, kDir);
  INFO(body);
  CHECK_FALSE(a.ok());
  CHECK(a.args.empty());
  CHECK_THAT(a.error, Catch::Matchers::Contains(why));
}

}  // namespace

TEST_CASE("ui actions: each node verb runs the CLI verb on that node", "[ui]") {
  for (const char* verb : {"kill", "start", "pause", "resume", "isolate", "campaign", "transfer"}) {
    CHECK(args_of(std::string(R"({"verb": ")") + verb + R"(", "node": 3})") ==
          Args{verb, "3", "--dir", kDir});
  }
  CHECK(args_of(R"({"verb": "freeze", "node": 2})") ==
        Args{"timers", "freeze", "2", "--dir", kDir});
  CHECK(args_of(R"({"verb": "thaw", "node": 5})") == Args{"timers", "thaw", "5", "--dir", kDir});
}

TEST_CASE("ui actions: links, partitions and heals", "[ui]") {
  CHECK(args_of(R"({"verb": "cut", "from": 1, "to": 2, "one_way": false})") ==
        Args{"cut", "1", "2", "--dir", kDir});
  CHECK(args_of(R"({"verb": "cut", "from": 1, "to": 2, "one_way": true})") ==
        Args{"cut", "1", "2", "--one-way", "--dir", kDir});
  CHECK(args_of(R"({"verb": "cut", "from": 4, "to": 5})") == Args{"cut", "4", "5", "--dir", kDir});
  CHECK(args_of(R"({"verb": "heal-link", "from": 2, "to": 1})") ==
        Args{"heal", "2", "1", "--dir", kDir});
  CHECK(args_of(R"({"verb": "heal"})") == Args{"heal", "--dir", kDir});
  CHECK(args_of(R"({"verb": "partition", "groups": [[1, 2], [3, 4, 5]]})") ==
        Args{"partition", "1,2", "3,4,5", "--dir", kDir});
  CHECK(args_of(R"({"verb": "partition", "groups": [[3]]})") ==
        Args{"partition", "3", "--dir", kDir});
}

TEST_CASE("ui actions: put passes key and value after --, so a leading '-' is no flag", "[ui]") {
  CHECK(args_of(R"({"verb": "put", "key": "k", "value": "v 1"})") ==
        Args{"put", "--dir", kDir, "--", "k", "v 1"});
  CHECK(args_of(R"({"verb": "put", "key": "--all", "value": "-x"})") ==
        Args{"put", "--dir", kDir, "--", "--all", "-x"});
  CHECK(args_of(R"({"verb": "put", "key": "ключ", "value": ""})") ==
        Args{"put", "--dir", kDir, "--", "ключ", ""});
}

TEST_CASE("ui actions: hold, release, deliver, drop", "[ui]") {
  CHECK(args_of(R"({"verb": "hold"})") == Args{"net", "hold", "--dir", kDir});
  CHECK(args_of(R"({"verb": "hold", "from": 1, "to": 2, "type": "RequestVote"})") ==
        Args{"net", "hold", "--from", "1", "--to", "2", "--type", "RequestVote", "--dir", kDir});
  CHECK(args_of(R"({"verb": "hold", "to": 4})") == Args{"net", "hold", "--to", "4", "--dir", kDir});
  CHECK(args_of(R"({"verb": "release"})") == Args{"net", "release", "--dir", kDir});
  CHECK(args_of(R"({"verb": "deliver", "ids": ["1.23", "2.7"]})") ==
        Args{"deliver", "1.23", "2.7", "--dir", kDir});
  CHECK(args_of(R"({"verb": "drop", "ids": ["3.1"]})") == Args{"drop", "3.1", "--dir", kDir});
}

TEST_CASE("ui actions: a body that is not a JSON object, or too big", "[ui]") {
  refused("", "not a JSON object");
  refused("kill 3", "not a JSON object");
  refused(R"({"verb": "kill", "node": 3)", "not a JSON object");
  refused(R"(["kill", 3])", "not a JSON object");
  refused("3", "not a JSON object");
  std::string big = R"({"verb": "put", "key": "k", "value": ")";
  big += std::string(kUiBodyBytesMax, 'x') + "\"}";
  refused(big, "over 65536 bytes");
}

TEST_CASE("ui actions: the verb missing, mistyped or unknown", "[ui]") {
  refused(R"({"node": 3})", "missing field \"verb\"");
  refused(R"({"verb": 3, "node": 3})", "\"verb\" must be a string");
  refused(R"({"verb": "rm -rf", "node": 3})", "unknown verb");
  refused(R"({"verb": "down"})", "unknown verb");
  refused(R"({"verb": "KILL", "node": 3})", "unknown verb");
  refused(R"({"verb": "kill", "node": 3, "signal": "TERM"})", "takes no field \"signal\"");
  refused(R"({"verb": "heal", "all": true})", "takes no field \"all\"");
}

TEST_CASE("ui actions: node ids missing, mistyped or not in the cluster", "[ui]") {
  refused(R"({"verb": "kill"})", "missing field \"node\"");
  refused(R"({"verb": "kill", "node": "3"})", "must be a node id");
  refused(R"({"verb": "kill", "node": -1})", "must be a node id");
  refused(R"({"verb": "kill", "node": 2.5})", "must be a node id");
  refused(R"({"verb": "kill", "node": null})", "must be a node id");
  refused(R"({"verb": "kill", "node": 6})", "node 6 is not in the cluster");
  refused(R"({"verb": "kill", "node": 0})", "node 0 is not in the cluster");
  refused(R"({"verb": "freeze", "node": 9})", "node 9 is not in the cluster");
  refused(R"({"verb": "cut", "from": 1})", "missing field \"to\"");
  refused(R"({"verb": "cut", "from": 1, "to": 1})", "the same node");
  refused(R"({"verb": "cut", "from": 1, "to": 7})", "node 7 is not in the cluster");
  refused(R"({"verb": "cut", "from": 1, "to": 2, "one_way": "yes"})", "must be true or false");
  refused(R"({"verb": "heal-link", "from": 2, "to": 2})", "the same node");
  refused(R"({"verb": "heal-link", "to": 2})", "missing field \"from\"");
  refused(R"({"verb": "hold", "from": 8})", "node 8 is not in the cluster");
}

TEST_CASE("ui actions: partition groups", "[ui]") {
  refused(R"({"verb": "partition"})", "missing field \"groups\"");
  refused(R"({"verb": "partition", "groups": []})", "non-empty array");
  refused(R"({"verb": "partition", "groups": "1,2 3"})", "non-empty array");
  refused(R"({"verb": "partition", "groups": [[1, 2], []]})", "non-empty array of node ids");
  refused(R"({"verb": "partition", "groups": [1, 2]})", "non-empty array of node ids");
  refused(R"({"verb": "partition", "groups": [[1, 2], [2, 3]]})", "node 2 is twice");
  refused(R"({"verb": "partition", "groups": [[1, 9]]})", "node 9 is not in the cluster");
  refused(R"({"verb": "partition", "groups": [["1"]]})", "must be a node id");
}

TEST_CASE("ui actions: strings: type, length, control characters", "[ui]") {
  refused(R"({"verb": "put", "key": "k"})", "missing field \"value\"");
  refused(R"({"verb": "put", "value": "v"})", "missing field \"key\"");
  refused(R"({"verb": "put", "key": 1, "value": "v"})", "\"key\" must be a string");
  refused(R"({"verb": "put", "key": "k\n", "value": "v"})", "control character");
  refused(R"({"verb": "put", "key": "k", "value": "a\u0000b"})", "control character");
  refused(R"({"verb": "put", "key": "k", "value": "\u001b[2J"})", "control character");
  refused(R"({"verb": "put", "key": "k", "value": "\u007f"})", "control character");
  refused(R"({"verb": "put", "key": "k\t", "value": "v"})", "control character");
  refused(R"({"verb": "kill\n", "node": 1})", "control character");
  refused(R"({"verb": "put", "key": "k", "value": ")" + std::string(5000, 'v') + "\"}",
          "longer than 4096 bytes");
  refused(R"({"verb": "hold", "type": "Bogus"})", "unknown message type");
  refused(R"({"verb": "hold", "type": 3})", "\"type\" must be a string");
}

TEST_CASE("ui actions: held message ids", "[ui]") {
  refused(R"({"verb": "deliver"})", "missing field \"ids\"");
  refused(R"({"verb": "deliver", "ids": []})", "non-empty array");
  refused(R"({"verb": "deliver", "ids": "1.2"})", "non-empty array");
  refused(R"({"verb": "deliver", "ids": [12]})", "\"ids\" must be a string");
  refused(R"({"verb": "drop", "ids": ["1.2", "x"]})", "\"x\" is not a message id");
  refused(R"({"verb": "drop", "ids": ["1."]})", "is not a message id");
  refused(R"({"verb": "drop", "ids": [".2"]})", "is not a message id");
  refused(R"({"verb": "drop", "ids": ["--all"]})", "is not a message id");
  refused(R"({"verb": "drop", "ids": ["1.2.3"]})", "is not a message id");
  std::string many = R"({"verb": "drop", "ids": [)";
  for (size_t k = 0; k <= kUiActionIdsMax; ++k)
    many += (k ? ",\"1." : "\"1.") + std::to_string(k) + "\"";
  refused(many + "]}", "more than 1024 ids");
}
