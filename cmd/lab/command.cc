// Running a verb (see command.h).
#include "cmd/lab/command.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "cmd/cluster/exit_codes.h"

namespace raftlab::lab {

void add_dir_option(CLI::App* app, std::string& dir) {
  app->add_option("--dir", dir,
                  "The cluster directory (default: $RAFTLAB_DIR, else ./raftlab-data)");
}

CLI::App* add_verb(CLI::App& parent, const std::string& name, const std::string& description,
                   std::string& dir) {
  CLI::App* verb = parent.add_subcommand(name, description);
  add_dir_option(verb, dir);
  return verb;
}

CLI::Option* add_json_flag(CLI::App* verb, bool& json) {
  return verb->add_flag("--json", json, "Print one JSON document");
}

void run_on_parse(CLI::App* verb, std::function<int()> body) {
  verb->callback([body = std::move(body)] { run_command(body); });
}

void run_command(const std::function<int()>& body) {
  int code = 0;
  try {
    code = body();
  } catch (const LabError& e) {
    std::cerr << "raftlab: " << e.what() << "\n";
    code = e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "raftlab: " << e.what() << "\n";
    code = kExitEnvironment;
  }
  if (code != 0) throw CLI::RuntimeError(code);
}

}  // namespace raftlab::lab
