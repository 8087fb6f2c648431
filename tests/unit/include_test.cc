// Keeps the Raft core pure: every file in node/ may include only C++ standard library headers
// and other node/ headers (docs/design.md §1). Anything else (libuv, msgpack, net/, persist/)
// would let I/O or a dependency in the wrong direction creep into the core.
#include <catch2/catch.hpp>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

// The C++20 standard library headers ([headers] tables 24 and 25), without the C headers
// that C++20 removed (<ccomplex>, <ciso646>, <cstdalign>, <cstdbool>, <ctgmath>) and without
// the C-style <name.h> forms.
const std::set<std::string, std::less<>> kStandardHeaders = {
    // C++ library headers.
    "algorithm", "any", "array", "atomic", "barrier", "bit", "bitset", "charconv", "chrono",
    "codecvt", "compare", "complex", "concepts", "condition_variable", "coroutine", "deque",
    "exception", "execution", "filesystem", "format", "forward_list", "fstream", "functional",
    "future", "initializer_list", "iomanip", "ios", "iosfwd", "iostream", "istream", "iterator",
    "latch", "limits", "list", "locale", "map", "memory", "memory_resource", "mutex", "new",
    "numbers", "numeric", "optional", "ostream", "queue", "random", "ranges", "ratio", "regex",
    "scoped_allocator", "semaphore", "set", "shared_mutex", "source_location", "span", "sstream",
    "stack", "stdexcept", "stop_token", "streambuf", "string", "string_view", "strstream",
    "syncstream", "system_error", "thread", "tuple", "type_traits", "typeindex", "typeinfo",
    "unordered_map", "unordered_set", "utility", "valarray", "variant", "vector", "version",
    // C++ headers for C library facilities.
    "cassert", "cctype", "cerrno", "cfenv", "cfloat", "cinttypes", "climits", "clocale", "cmath",
    "csetjmp", "csignal", "cstdarg", "cstddef", "cstdint", "cstdio", "cstdlib", "cstring", "ctime",
    "cuchar", "cwchar", "cwctype"};

// Every include directive in `text` that is neither <standard> nor "node/...", one message
// per violation naming the file and line.
std::vector<std::string> check_includes(std::string_view file_name, std::string_view text) {
  static const std::regex kInclude(R"(^\s*#\s*include(?:_next)?\b\s*(.*?)\s*(//.*|/\*.*)?$)");
  static const std::regex kStandard(R"(^<([a-z_]+)>$)");
  static const std::regex kNode(R"(^"node/[A-Za-z0-9_./-]+\.h"$)");
  std::vector<std::string> violations;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (size_t line_number = 1; std::getline(lines, line); ++line_number) {
    std::smatch include;
    if (!std::regex_match(line, include, kInclude)) continue;
    const std::string target = include[1];
    std::smatch standard;
    const bool is_standard = std::regex_match(target, standard, kStandard) &&
                             kStandardHeaders.contains(standard[1].str());
    const bool is_node = std::regex_match(target, kNode) && target.find("..") == std::string::npos;
    if (!is_standard && !is_node) {
      violations.push_back(std::string(file_name) + ":" + std::to_string(line_number) +
                           ": #include " + target +
                           " is neither a C++ standard header nor a node/ header");
    }
  }
  return violations;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("node/ includes only standard headers and node/ headers") {
  const std::filesystem::path root(RAFTLAB_SOURCE_DIR);
  const std::filesystem::path node_dir = root / "node";
  REQUIRE(std::filesystem::is_directory(node_dir));
  std::vector<std::string> violations;
  size_t files_checked = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(node_dir)) {
    const auto extension = entry.path().extension();
    if (!entry.is_regular_file() || (extension != ".h" && extension != ".cc")) continue;
    const std::string name = entry.path().lexically_relative(root).generic_string();
    for (std::string& violation : check_includes(name, read_file(entry.path()))) {
      violations.push_back(std::move(violation));
    }
    ++files_checked;
  }
  CHECK(files_checked > 0);
  for (const std::string& violation : violations) FAIL_CHECK(violation);
  CHECK(violations.empty());
}

TEST_CASE("the include checker catches what it must and passes what it may") {
  const std::string planted =
      "// A file with two forbidden includes.\n"
      "#include <vector>\n"
      "#include <uv.h>\n"
      "#include \"node/types.h\"\n"
      "  #  include \"net/fault_filter.h\"  // one-line comment\n";
  const std::vector<std::string> violations = check_includes("node/planted.h", planted);
  REQUIRE(violations.size() == 2);
  CHECK(violations[0].starts_with("node/planted.h:3: #include <uv.h>"));
  CHECK(violations[1].starts_with("node/planted.h:5: #include \"net/fault_filter.h\""));

  CHECK(check_includes("x", "#include <cstdint>\n#include \"node/prng.h\"\n").empty());
  // Look-alikes: C headers, non-standard names, relative or escaping paths, macros.
  for (const char* line :
       {"#include <stdint.h>", "#include <boost/optional.hpp>", "#include <ctgmath>",
        "#include \"types.h\"", "#include \"node/../net/fault_filter.h\"", "#include <node/core.h>",
        "#include HEADER_MACRO", "#include <msgpack.hpp>"}) {
    INFO(line);
    CHECK(check_includes("x", line).size() == 1);
  }
}

}  // namespace
