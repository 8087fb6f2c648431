// The forensic dump (see dump.h).
#include "persist/dump.h"

#include <algorithm>

#include "persist/io.h"
#include "persist/snapshot.h"
#include "persist/wal.h"

namespace raftlab::persist {
namespace {

constexpr uint64_t kDumpSegmentsMax = 1'000'000;
constexpr const char* kOpenPrefix = "open-";

bool is_segment_name(const std::string& name) {
  return name.rfind(kOpenPrefix, 0) == 0 || (!name.empty() && name[0] >= '0' && name[0] <= '9');
}

// The segment_seq an `open-N` name gives, or UINT64_MAX.
uint64_t seq_from_name(const std::string& name) {
  if (name.rfind(kOpenPrefix, 0) != 0 || name.size() <= 5 || name.size() > 25) return UINT64_MAX;
  uint64_t v = 0;
  for (size_t k = 5; k < name.size(); ++k) {
    if (name[k] < '0' || name[k] > '9') return UINT64_MAX;
    v = v * 10 + static_cast<uint64_t>(name[k] - '0');
  }
  return v;
}

// The segment files with their bytes, in segment_seq order (damaged headers last, unless an
// `open-N` name tells where they belong).
std::vector<std::pair<DumpSegment, std::string>> read_segments(const std::string& wal_dir) {
  std::vector<std::pair<DumpSegment, std::string>> out;
  for (const std::string& name : list_directory(wal_dir)) {
    if (!is_segment_name(name) || out.size() >= kDumpSegmentsMax) continue;
    DumpSegment s;
    s.name = name;
    s.path = join_path(wal_dir, name);
    s.open = name.rfind(kOpenPrefix, 0) == 0;
    std::string bytes = read_file(s.path, kSegmentFileBytesMax);
    s.size_bytes = bytes.size();
    SegmentHeader h;
    const Damage d = parse_segment_header(bytes, &h);
    if (d != Damage::kNone) {
      s.header_problem = to_string(d);
      s.segment_seq = seq_from_name(name);
    } else {
      s.segment_seq = h.segment_seq;
      if (s.open && seq_from_name(name) != h.segment_seq) {
        s.header_problem = "segment_seq " + std::to_string(h.segment_seq) +
                           " does not match the name";  // recovery refuses it too
      }
    }
    out.emplace_back(std::move(s), std::move(bytes));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.first.segment_seq < b.first.segment_seq;
  });
  return out;
}

// The snapshots in snap/; returns the index of the newest valid one (0: none).
Index read_snapshots(DumpReport& report) {
  Index newest;
  if (report.snap_dir.empty() || !is_directory(report.snap_dir)) return newest;
  for (const std::string& name : list_directory(report.snap_dir)) {
    DumpSnapshot ds;
    ds.path = join_path(report.snap_dir, name);
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".snap") != 0) {
      ds.problem = "not a snapshot file (leftover temporary?)";
      report.snapshots.push_back(std::move(ds));
      continue;
    }
    Snapshot snap;
    if (auto error = decode_snapshot(read_file(ds.path, kSnapshotBytesMax), &snap)) {
      ds.problem = *error;
    } else if (name != snapshot_file_name(snap.meta.index)) {
      ds.problem =
          "its index " + std::to_string(snap.meta.index.get()) + " does not match the name";
    } else {
      ds.meta = snap.meta;
      ds.data_bytes = snap.data.size();
      newest = std::max(newest, snap.meta.index);
    }
    // Saving renames a complete, synced file into place: a .snap that does not check out is
    // damage, and recovery falls back past it or refuses.
    ds.damaged = !ds.problem.empty();
    if (ds.damaged) report.corrupt = true;
    report.snapshots.push_back(std::move(ds));
  }
  return newest;
}

// The manifest against the segments found: listed ones missing or without a header.
void check_manifest(DumpReport& report, const std::vector<DumpSegment>& segments) {
  const std::string path = join_path(report.wal_dir, kManifestName);
  try {
    report.manifest = read_manifest(report.wal_dir);
  } catch (const CorruptionError& e) {
    report.manifest_problem = e.what();
    report.problems.push_back(e.what());
    report.corrupt = true;
    return;
  }
  if (!report.manifest) {
    if (!segments.empty()) {
      report.notes.push_back(path + ": none (a WAL written before manifests; recovery adds it)");
    }
    return;
  }
  const Manifest& m = *report.manifest;
  uint64_t oldest = UINT64_MAX;
  uint64_t newest = 0;
  for (const DumpSegment& s : segments) {
    if (s.segment_seq == UINT64_MAX || s.segment_seq < m.first_seq) continue;
    oldest = std::min(oldest, s.segment_seq);
    newest = std::max(newest, s.segment_seq);
    if (!s.header_problem.empty() && s.segment_seq <= m.last_seq) {
      report.problems.push_back(s.path + ": damaged header (" + s.header_problem +
                                ") in a segment the manifest lists as durable");
      report.corrupt = true;
    }
  }
  if (oldest == UINT64_MAX || oldest > m.first_seq) {
    report.problems.push_back(
        join_path(report.wal_dir, m.first_name) +
        ": missing: the manifest lists it as the first segment (segment_seq " +
        std::to_string(m.first_seq) + ")");
    report.corrupt = true;
  }
  if (oldest == UINT64_MAX || newest < m.last_seq) {
    report.problems.push_back(join_path(report.wal_dir, open_segment_name(m.last_seq)) +
                              ": missing: the manifest lists it as the newest segment "
                              "(segment_seq " +
                              std::to_string(m.last_seq) + ")");
    report.corrupt = true;
  }
  for (const DumpSegment& s : segments) {
    if (s.segment_seq < m.first_seq) {
      report.notes.push_back(s.path + ": older than the manifest's first segment (a removal was " +
                             "interrupted): recovery removes it");
    }
  }
}

// Where the log must start: after the newest valid snapshot (or at 1); a node directory only.
struct LogCursor {
  Index last;             // log end so far, to name gaps
  bool have_log = false;  // false: nothing known yet, the first entry may be anything
  bool first_entry = true;
  std::optional<Index> snapshot_index;  // the newest valid snapshot's (node directory only)
};

void scan_record(Record& rec, DumpRecord& d, LogCursor& cur, DumpReport& report, Index from,
                 Index to, bool* show) {
  if (rec.type == RecordType::kEntry) {
    const Index i = rec.entry.index;
    if (cur.have_log && i > cur.last + 1) {
      d.problem = cur.first_entry
                      ? "entries " + std::to_string(cur.last.get() + 1) + " to " +
                            std::to_string(i.get() - 1) + " are missing (segments deleted?)"
                      : "gap: follows index " + std::to_string(cur.last.get());
      report.corrupt = true;
    }
    cur.last = i;
    cur.have_log = true;
    cur.first_entry = false;
    *show = i >= from && i <= to;
    if (*show) ++report.entries_count;
    d.entry = std::move(rec.entry);
  } else if (rec.type == RecordType::kHardState) {
    d.hard_state = rec.hard_state;
    report.hard_state = rec.hard_state;
  } else if (rec.type == RecordType::kSnapshot) {
    d.snapshot = rec.snapshot;
    if (cur.snapshot_index && *cur.snapshot_index < rec.snapshot.index) {
      d.problem = "the log starts after snapshot " + std::to_string(rec.snapshot.index.get()) +
                  " but no valid snapshot that new is in " + report.snap_dir;
      report.corrupt = true;
    }
    if (!cur.have_log || cur.last < rec.snapshot.index) cur.last = rec.snapshot.index;
    cur.have_log = true;
  }
}

void scan_segment(DumpSegment& s, const std::string& bytes, bool newest, LogCursor& cur,
                  DumpReport& report, Index from, Index to) {
  uint64_t offset = kSegmentHeaderBytes;
  if (!s.header_problem.empty()) {
    // A newest `open-N` whose header was never written is what a crash at its creation leaves;
    // recovery removes it unless the manifest lists it (check_manifest says so then).
    const bool fresh = newest && s.open && bytes.find_first_not_of('\0') == std::string::npos;
    if (!fresh) report.corrupt = true;
    // Look for records anyway: a damaged header does not make the records unreadable.
    offset = std::min<uint64_t>(bytes.size(), kSegmentHeaderBytes);
  }
  while (offset < bytes.size()) {
    ParseResult r = parse_record(bytes, offset);
    if (r.damage != Damage::kNone) {
      const std::optional<uint64_t> next = find_valid_record_after(bytes, offset);
      DumpRecord d;
      d.offset = offset;
      d.damage = r.damage;
      d.size_bytes = (next ? *next : bytes.size()) - offset;
      d.torn_tail = newest && s.open && !next;
      d.problem = std::string(to_string(r.damage)) +
                  (d.torn_tail ? " (torn tail: recovery truncates it)" : "");
      if (!d.torn_tail) report.corrupt = true;
      s.records.push_back(std::move(d));
      if (!next) break;
      offset = *next;
      continue;
    }
    const uint64_t size_bytes = r.record.size_bytes;
    DumpRecord d;
    d.offset = offset;
    d.size_bytes = size_bytes;
    d.type = r.record.type;
    bool show = true;
    scan_record(r.record, d, cur, report, from, to, &show);
    if (show) s.records.push_back(std::move(d));
    offset += size_bytes;
  }
}

}  // namespace

DumpReport dump_wal(const std::string& path, Index from, Index to) {
  DumpReport report;
  if (is_directory(join_path(path, std::string(kWalDir)))) {
    report.wal_dir = join_path(path, std::string(kWalDir));
    report.snap_dir = join_path(path, std::string(kSnapDir));
  } else if (is_directory(path)) {
    report.wal_dir = path;
  } else {
    throw IoError(path, "not a directory");
  }
  LogCursor cur;
  const Index snapshot_index = read_snapshots(report);
  if (!report.snap_dir.empty()) {
    // Recovery wants the log to go on from the snapshot, or from 1 without one.
    cur.snapshot_index = snapshot_index;
    cur.last = snapshot_index;
    cur.have_log = true;
  }
  auto segments = read_segments(report.wal_dir);
  for (size_t pos = 0; pos < segments.size(); ++pos) {
    DumpSegment& s = segments[pos].first;
    const DumpSegment* prev = pos > 0 ? &segments[pos - 1].first : nullptr;
    if (prev != nullptr && s.segment_seq != UINT64_MAX && s.segment_seq != prev->segment_seq + 1) {
      report.problems.push_back(s.path + ": segment_seq " + std::to_string(prev->segment_seq + 1) +
                                " is missing: segment_seq " + std::to_string(s.segment_seq) +
                                " follows " + std::to_string(prev->segment_seq));
      report.corrupt = true;
    }
    scan_segment(s, segments[pos].second, pos + 1 == segments.size(), cur, report, from, to);
  }
  for (auto& [s, bytes] : segments) report.segments.push_back(std::move(s));
  check_manifest(report, report.segments);
  return report;
}

}  // namespace raftlab::persist
