// `raftlab ui [--dir DIR] [--port P] [--open]`: the live cluster in a browser (cmd/ui/server.h).
// Serves 127.0.0.1 only, prints `raftlab ui: http://127.0.0.1:PORT/` and runs until SIGINT or
// SIGTERM (exit 0); 4 when the port is in use or DIR has no cluster.json.
#include <CLI/CLI.hpp>

#include <memory>

#include "cmd/cluster/cluster_dir.h"
#include "cmd/lab/command.h"
#include "cmd/lab/process.h"
#include "cmd/ui/server.h"
#include "cmd/verbs.h"

namespace raftlab::lab {

void setup_ui(CLI::App& app) {
  auto o = std::make_shared<ui::UiOptions>();
  CLI::App* cmd = add_verb(app, "ui", "The live cluster in a browser, with buttons", o->dir);
  cmd->add_option("--port", o->port, "Port on 127.0.0.1 (default 0: a free one)")
      ->check(CLI::Range(0, 65535));
  cmd->add_flag("--open", o->open, "Open the page with xdg-open");
  run_on_parse(cmd, [o] {
    ui::UiOptions options = *o;
    options.dir = absolute_dir(resolve_dir(o->dir));
    return ui::run_ui_server(options);
  });
}

}  // namespace raftlab::lab
