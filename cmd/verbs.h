// The verbs of the lab CLI, one `setup_<name>(CLI::App&)` each, wired by main.cc. Every verb's
// file (cmd/up.cc, down.cc, status.cc, kill.cc, partition.cc, wait.cc, logs.cc, ...) has an
// options struct, its setup function and a `run_<name>(options)` that returns an exit code.
// Errors are thrown as LabError(exit code) (cmd/cluster/exit_codes.h) and turned into a message
// on stderr and that exit code by run_command() (cmd/lab/command.h). The command-line contract
// (flags, JSON fields, exit codes) is docs/cli.md.
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace raftlab::lab {

void setup_up(CLI::App& app);
void setup_down(CLI::App& app);
void setup_status(CLI::App& app);
void setup_process_commands(CLI::App& app);  // kill, start, restart, pause, resume: kill.cc
void setup_crash(CLI::App& app);             // crash --lose-unsynced [--tear]: crash.cc
void setup_fault_commands(CLI::App& app);    // partition, isolate, cut, net, heal, faults
void setup_hold_commands(CLI::App& app);     // net hold, net release, msgs, deliver, drop
void setup_admin_commands(CLI::App& app);    // transfer, member, snapshot
void setup_wait(CLI::App& app);
void setup_logs(CLI::App& app);
void setup_log_diff(CLI::App& log);     // `log diff`, under `log` (added by cmd/log_dump.cc)
void setup_kv_commands(CLI::App& app);  // put, get, append, delete, cas
void setup_bench(CLI::App& app);        // cmd/drive/bench.cc
void setup_check(CLI::App& app);        // cmd/drive/check_run.cc
void setup_timeline(CLI::App& app);     // cmd/timeline.cc
void setup_ui(CLI::App& app);           // cmd/ui.cc: the page, live
// timers freeze|thaw, campaign: cmd/timers.cc
void setup_timer_commands(CLI::App& app);

}  // namespace raftlab::lab
