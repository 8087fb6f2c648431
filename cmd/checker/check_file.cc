// `raftlab check --history FILE` (see check_file.h).
#include "cmd/checker/check_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "cmd/checker/cluster_lanes.h"
#include "cmd/checker/html.h"
#include "cmd/checker/report.h"

namespace raftlab::check {

int exit_code(Verdict verdict) {
  switch (verdict) {
    case Verdict::kLinearizable:
      return kExitLinearizable;
    case Verdict::kNotLinearizable:
      return kExitNotLinearizable;
    case Verdict::kUnknown:
      return kExitUnknown;
  }
  return kExitUnknown;
}

namespace {

// Writes `text` to `path` through a temporary file and a rename, so a reader never sees half.
bool write_file(const std::string& path, const std::string& text, std::string& error) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    error = "cannot create " + tmp + ": " + std::strerror(errno);
    return false;
  }
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int saved = errno;
  if (std::fclose(f) != 0 || !written) {
    error = "cannot write " + tmp + ": " + std::strerror(written ? errno : saved);
    std::remove(tmp.c_str());
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + tmp + " to " + path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

// The lanes of the cluster in options.lanes_dir, or none (said on stderr) if it cannot be read:
// the page is still worth writing without them.
std::vector<Lane> lanes_for(const History& history, const CheckFileOptions& options) {
  if (options.lanes_dir.empty()) return {};
  try {
    return load_lanes(options.lanes_dir, history);
  } catch (const HistoryFileError& e) {
    std::cerr << "raftlab check: no cluster lanes on the page: " << e.what() << "\n";
    return {};
  }
}

}  // namespace

int check_history(const History& history, const CheckFileOptions& options) {
  CheckOptions co;
  co.time_limit_ms = options.time_limit_ms;
  co.memory_limit_bytes = options.memory_limit_bytes;
  const CheckResult result = check(history, co);
  if (options.json) {
    // Values are the history's bytes, which need not be UTF-8: replace what is not.
    std::cout << report_json(history, result)
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << report_text(history, result);
  }
  std::cout.flush();
  int code = exit_code(result.verdict);
  if (!options.html_path.empty()) {
    std::string error;
    if (!write_file(options.html_path, render_html(history, result, lanes_for(history, options)),
                    error)) {
      std::cerr << "raftlab check: " << error << "\n";
      // The verdict stands; a missing timeline is an environment problem only if all is well.
      if (code == kExitLinearizable) code = kExitFile;
    }
  }
  return code;
}

int check_history_file(const CheckFileOptions& options) {
  History history;
  try {
    history = load_history(options.history_path);
  } catch (const HistoryFileError& e) {
    std::cerr << "raftlab check: " << e.what() << "\n";
    return kExitFile;
  } catch (const HistoryError& e) {
    std::cerr << "raftlab check: " << options.history_path << " " << e.what() << "\n";
    return kExitMalformed;
  }
  return check_history(history, options);
}

}  // namespace raftlab::check
