// The forensic dump (see dump.h).
#include "persist/dump.h"

#include <algorithm>

#include "persist/io.h"
#include "persist/snapshot.h"
#include "persist/wal.h"

namespace raftlab::persist {
namespace {

constexpr uint64_t kDumpSegmentsMax = 1'000'000;

bool is_segment_name(const std::string& name) {
  return name.rfind("open-", 0) == 0 || (!name.empty() && name[0] >= '0' && name[0] <= '9');
}

}  // namespace

DumpReport dump_wal(const std::string& path, Index from, Index to) {
  DumpReport report;
  if (is_directory(join_path(path, "wal"))) {
    report.wal_dir = join_path(path, "wal");
    report.snap_dir = join_path(path, "snap");
  } else if (is_directory(path)) {
    report.wal_dir = path;
  } else {
    throw IoError(path, "not a directory");
  }

  std::vector<DumpSegment> segments;
  for (const std::string& name : list_directory(report.wal_dir)) {
    if (!is_segment_name(name) || segments.size() >= kDumpSegmentsMax) continue;
    DumpSegment s;
    s.name = name;
    s.path = join_path(report.wal_dir, name);
    s.open = name.rfind("open-", 0) == 0;
    segments.push_back(std::move(s));
  }
  std::vector<std::string> bytes_of(segments.size());
  for (size_t k = 0; k < segments.size(); ++k) {
    DumpSegment& s = segments[k];
    bytes_of[k] = read_file(s.path, kSegmentFileBytesMax);
    s.size_bytes = bytes_of[k].size();
    SegmentHeader h;
    const Damage d = parse_segment_header(bytes_of[k], &h);
    if (d != Damage::kNone) {
      s.header_problem = to_string(d);
      s.segment_seq = UINT64_MAX;
    } else {
      s.segment_seq = h.segment_seq;
    }
  }
  // Segment order is the segment_seq of the headers (damaged headers last).
  std::vector<size_t> order(segments.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return segments[a].segment_seq < segments[b].segment_seq;
  });

  Index last;  // log end so far, to name gaps
  bool have_log = false;
  for (size_t pos = 0; pos < order.size(); ++pos) {
    DumpSegment& s = segments[order[pos]];
    const std::string& bytes = bytes_of[order[pos]];
    const bool newest = pos + 1 == order.size();
    if (pos > 0 && s.segment_seq != UINT64_MAX &&
        s.segment_seq != segments[order[pos - 1]].segment_seq + 1) {
      report.problems.push_back(
          s.path + ": segment_seq " + std::to_string(s.segment_seq) + " does not follow " +
          std::to_string(segments[order[pos - 1]].segment_seq) + ": a segment is missing");
      report.corrupt = true;
    }
    uint64_t offset = kSegmentHeaderBytes;
    if (!s.header_problem.empty()) {
      const bool fresh = newest && s.open && bytes.find_first_not_of('\0') == std::string::npos;
      if (!fresh) report.corrupt = true;
      // Look for records anyway: a damaged header does not make the records unreadable.
      offset = bytes.size() > kSegmentHeaderBytes ? kSegmentHeaderBytes : bytes.size();
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
      Record& rec = r.record;
      DumpRecord d;
      d.offset = offset;
      d.size_bytes = rec.size_bytes;
      d.type = rec.type;
      bool show = true;
      if (rec.type == RecordType::kEntry) {
        const Index i = rec.entry.index;
        if (have_log && i > last + 1) {
          d.problem = "gap: follows index " + std::to_string(last.get());
          report.corrupt = true;
        }
        last = i;
        have_log = true;
        show = i >= from && i <= to;
        if (show) ++report.entries_count;
        d.entry = std::move(rec.entry);
      } else if (rec.type == RecordType::kHardState) {
        d.hard_state = rec.hard_state;
        report.hard_state = rec.hard_state;
      } else if (rec.type == RecordType::kSnapshot) {
        d.snapshot = rec.snapshot;
        if (!have_log || last < rec.snapshot.index) last = rec.snapshot.index;
        have_log = true;
      }
      if (show) s.records.push_back(std::move(d));
      offset += rec.size_bytes;
    }
  }
  for (const size_t k : order) report.segments.push_back(std::move(segments[k]));

  if (!report.snap_dir.empty() && is_directory(report.snap_dir)) {
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
      } else {
        ds.meta = snap.meta;
        ds.data_bytes = snap.data.size();
      }
      report.snapshots.push_back(std::move(ds));
    }
  }
  return report;
}

}  // namespace raftlab::persist
