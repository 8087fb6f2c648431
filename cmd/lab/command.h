// Running a verb: adding it with the --dir option every verb takes (and --json), and its
// body's errors turned into a message on stderr and an exit code (cmd/cluster/exit_codes.h)
// for main.
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace raftlab::lab {

/// Adds --dir (and $RAFTLAB_DIR) to a subcommand.
void add_dir_option(CLI::App* app, std::string& dir);
/// Adds the verb `name` under `parent`, with --dir bound to `dir` as its first option.
CLI::App* add_verb(CLI::App& parent, const std::string& name, const std::string& description,
                   std::string& dir);
/// Adds --json: "Print one JSON document".
CLI::Option* add_json_flag(CLI::App* verb, bool& json);
/// Runs a subcommand body from a CLI11 callback: LabError and other exceptions become a message
/// on stderr and their exit code, reported to main through CLI::RuntimeError.
void run_command(const std::function<int()>& body);

/// When the verb is parsed, runs `body` through run_command.
void run_on_parse(CLI::App* verb, std::function<int()> body);

}  // namespace raftlab::lab
