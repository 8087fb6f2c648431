// The write-ahead log: appends, group commit and recovery (contract and policy in wal.h).
#include "persist/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <map>

#include "persist/layout.h"

namespace raftlab::persist {

/// One segment file. Immutable once closed, except for its fd's data being synced.
struct SyncJob::Segment {
  int fd = -1;
  uint64_t seq = 0;
  std::string dir;
  std::string open_name;    // "open-N" while being written
  std::string closed_name;  // set when closed; the job renames the file to it
  uint64_t bytes = 0;       // written to fd (not counting the Wal's buffer)
  uint64_t inode = 0;       // for the durable table (durable.h); set when the fd is opened
  uint64_t head_bytes = 0;  // header + the hard state and snapshot records that begin it
  bool has_entries = false;
  Index first_index;  // first entry record in the file
  Index last_index;   // last entry record in the file
  Index max_index;    // largest entry index in the file (truncations can lower last_index)

  Segment() = default;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
  std::string path() const { return join_path(dir, closed_name.empty() ? open_name : closed_name); }
};

namespace {

constexpr const char* kOpenPrefix = "open-";
constexpr size_t kSegmentsCountMax = 1'000'000;  // more files than this in wal/ is damage

// A WAL file's name in the durable table: relative to the node directory.
std::string durable_name(const std::string& name) { return std::string(kWalDir) + "/" + name; }

uint64_t inode_of(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw IoError(path, "fstat failed");
  return static_cast<uint64_t>(st.st_ino);
}

std::string digits20(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(v));
  return buf;
}

bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

enum class NameKind { kOther, kOpen, kClosed };

NameKind classify(const std::string& name) {
  uint64_t v = 0;
  if (name.rfind(kOpenPrefix, 0) == 0) {
    return parse_u64(name.substr(5), &v) ? NameKind::kOpen : NameKind::kOther;
  }
  // FIRST-LAST, optionally .SEQ when FIRST-LAST was already taken.
  const size_t dash = name.find('-');
  if (dash == std::string::npos) return NameKind::kOther;
  const size_t dot = name.find('.', dash);
  if (!parse_u64(name.substr(0, dash), &v)) return NameKind::kOther;
  if (!parse_u64(
          name.substr(dash + 1, dot == std::string::npos ? std::string::npos : dot - dash - 1),
          &v)) {
    return NameKind::kOther;
  }
  if (dot != std::string::npos && !parse_u64(name.substr(dot + 1), &v)) return NameKind::kOther;
  return NameKind::kClosed;
}

}  // namespace

// The in-memory log while records are replayed.
struct Replay {
  std::vector<Entry> entries;       // consecutive
  std::vector<uint64_t> positions;  // of entries[k] (Wal::positions_)
  std::optional<SnapshotMark> mark;
  HardState hard_state;

  Index last() const {
    if (!entries.empty()) return entries.back().index;
    return mark ? mark->index : Index();
  }

  // Returns an error text, or empty.
  std::string add_entry(Entry e, uint64_t position) {
    if (!entries.empty() || mark) {
      const Index first = entries.empty() ? mark->index + 1 : entries.front().index;
      if (e.index > last() + 1) {
        return "entry " + std::to_string(e.index.get()) + " leaves a gap after " +
               std::to_string(last().get());
      }
      if (e.index < first) {
        return "entry " + std::to_string(e.index.get()) + " is before the log start " +
               std::to_string(first.get());
      }
      entries.resize(e.index - first);  // an entry at index i discards every entry >= i
      positions.resize(entries.size());
    }
    entries.push_back(std::move(e));
    positions.push_back(position);
    return {};
  }

  // §7: entries up to the snapshot are gone; later ones stay only if the log agrees with the
  // snapshot at its index.
  void apply_mark(const SnapshotMark& m) {
    bool keep_suffix = false;
    for (const Entry& e : entries) {
      if (e.index == m.index) keep_suffix = e.term == m.term;
    }
    if (entries.empty() || entries.front().index > m.index) keep_suffix = true;
    if (!keep_suffix) {
      entries.clear();
      positions.clear();
    } else {
      const auto it = std::find_if(entries.begin(), entries.end(),
                                   [&](const Entry& e) { return e.index > m.index; });
      positions.erase(positions.begin(), positions.begin() + (it - entries.begin()));
      entries.erase(entries.begin(), it);
    }
    if (!mark || mark->index < m.index) mark = m;
  }
};

// A segment file as recovery found it.
struct FoundSegment {
  std::string name;
  bool open = false;
  uint64_t seq = 0;
  std::string bytes;  // empty: the header was never written (an `open-N` only)
};

std::string closed_segment_name(Index first, Index last) {
  return digits20(first.get()) + "-" + digits20(last.get());
}

std::string open_segment_name(uint64_t segment_seq) { return kOpenPrefix + digits20(segment_seq); }

// ---------------------------------------------------------------------------------------------
// SyncJob

SyncJob::~SyncJob() = default;

void SyncJob::run() noexcept {
  assert(!ran_);
  ran_ = true;
  try {
    // A closed segment is renamed only once its data is durable: recovery treats any damage in
    // a closed segment as fatal, so it must never see one with a torn tail.
    for (const auto& seg : closed_) {
      if (fsync_) sync_file(seg->fd, join_path(dir_, seg->open_name));
    }
    for (const auto& seg : closed_) {
      rename_file(join_path(dir_, seg->open_name), join_path(dir_, seg->closed_name));
    }
    if (!list_current_) {
      if (fsync_ && (sync_directory_ || !closed_.empty())) sync_directory(dir_);
      publish_renames();
      if (fsync_ && current_ != nullptr)
        sync_file(current_->fd, join_path(dir_, current_->open_name));
      publish_current();
      return;
    }
    // A new segment: its header and its name are durable before the manifest lists it, so a
    // listed segment is never missing or headerless after a crash (manifest.h). Everything
    // up to seq() was written before the job began, so this fdatasync covers it.
    if (fsync_) {
      sync_file(current_->fd, join_path(dir_, current_->open_name));
      sync_directory(dir_);
    }
    // Published before the manifest that lists it is written (durable.h keeps a MANIFEST
    // renamed over the published one).
    publish_renames();
    publish_current();
    manifest_->update([this](Manifest& m) {
      m.last_seq = current_->seq;
      for (const auto& seg : closed_) {
        if (seg->seq == m.first_seq) m.first_name = seg->closed_name;
      }
    });
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

// Closed segments are synced whole; published under their new names only after the directory
// fsync that made the renames durable (durable.h).
void SyncJob::publish_renames() {
  if (durable_ == nullptr || !fsync_) return;
  for (const auto& seg : closed_) {
    durable_->publish(durable_name(seg->closed_name), seg->inode, seg->bytes);
    durable_->forget(durable_name(seg->open_name));
  }
}

// Only after the fdatasync (and a new segment's directory fsync) returned.
void SyncJob::publish_current() {
  if (durable_ == nullptr || !fsync_ || current_ == nullptr) return;
  durable_->publish(durable_name(current_->open_name), current_->inode, current_bytes_);
}

// ---------------------------------------------------------------------------------------------
// Wal: writing

Wal::Wal(std::string dir, const WalOptions& options) : dir_(std::move(dir)), options_(options) {
  options_.segment_bytes_max =
      std::clamp<uint64_t>(options_.segment_bytes_max, 4096, kSegmentBytesMaxLimit);
  options_.write_buffer_bytes_max =
      std::clamp<uint64_t>(options_.write_buffer_bytes_max, 4096, 64ull << 20);
}

Wal::~Wal() = default;

size_t Wal::segments_count() const {
  return closed_durable_.size() + closed_in_flight_.size() + closed_unsynced_.size() +
         (current_ ? 1 : 0);
}

void Wal::start_segment() {
  auto seg = std::make_shared<Segment>();
  seg->seq = next_segment_seq_++;
  seg->dir = dir_;
  seg->open_name = open_segment_name(seg->seq);
  seg->fd = open_file(seg->path(), O_RDWR | O_CREAT | O_EXCL | O_APPEND);  // read_entry reads
  seg->inode = inode_of(seg->fd, seg->path());
  directory_dirty_ = true;  // the next sync fsyncs the directory so the file's name is durable
  assert(buffer_.empty());
  buffer_ = encode_segment_header(seg->seq);
  encode_hard_state(buffer_, hard_state_);
  if (snapshot_) encode_snapshot_mark(buffer_, *snapshot_);
  seg->head_bytes = buffer_.size();
  current_ = std::move(seg);
}

void Wal::flush() {
  if (buffer_.empty()) return;
  write_all(current_->fd, buffer_.data(), buffer_.size(), current_->path());
  current_->bytes += buffer_.size();
  buffer_.clear();
}

void Wal::roll_if_full(size_t next_record_bytes) {
  const uint64_t size = current_->bytes + buffer_.size();
  if (size + next_record_bytes <= options_.segment_bytes_max || size <= current_->head_bytes) {
    return;
  }
  flush();
  Segment& s = *current_;
  std::string name = s.has_entries ? closed_segment_name(s.first_index, s.last_index)
                                   : closed_segment_name(last_index_ + 1, last_index_);
  // Truncations can make two segments span the same indices; a name is never reused.
  if (!closed_names_.insert(name).second) {
    name += "." + std::to_string(s.seq);
    closed_names_.insert(name);
  }
  s.closed_name = std::move(name);
  closed_unsynced_.push_back(std::move(current_));
  start_segment();
}

void Wal::note_entry(Index index) {
  Segment& s = *current_;
  if (!s.has_entries) s.first_index = index;
  s.has_entries = true;
  s.last_index = index;
  s.max_index = std::max(s.max_index, index);
  last_index_ = index;
}

uint64_t Wal::write(const std::optional<HardState>& hard_state, const std::vector<Entry>& entries) {
  // Check everything before writing anything, so a refused write leaves no partial records.
  if (!entries.empty()) {
    const Index first = entries.front().index;
    const Index floor = snapshot_ ? snapshot_->index + 1 : Index(1);
    if (first.get() == 0 || first > last_index_ + 1 || first < floor) {
      throw std::invalid_argument("wal: entry " + std::to_string(first.get()) +
                                  " does not follow the log (last " +
                                  std::to_string(last_index_.get()) + ")");
    }
    for (size_t k = 0; k < entries.size(); ++k) {
      if (entries[k].index != first + k) {
        throw std::invalid_argument("wal: entries are not consecutive at " +
                                    std::to_string(entries[k].index.get()));
      }
      if (entries[k].data.size() > kEntryDataBytesMax) {
        throw std::invalid_argument("wal: entry " + std::to_string(entries[k].index.get()) +
                                    " data exceeds kEntryDataBytesMax");
      }
    }
  }
  if (!current_) start_segment();
  for (const Entry& e : entries) {
    roll_if_full(kRecordHeaderBytes + kEntryPayloadFixedBytes + e.data.size());
    note_position(e.index, current_->seq, current_->bytes + buffer_.size());
    encode_entry(buffer_, e);
    note_entry(e.index);
    if (buffer_.size() >= options_.write_buffer_bytes_max) flush();
  }
  if (hard_state) {
    roll_if_full(kRecordHeaderBytes + kHardStatePayloadBytes);
    encode_hard_state(buffer_, *hard_state);
    hard_state_ = *hard_state;
  }
  if (buffer_.size() >= options_.write_buffer_bytes_max) flush();
  return ++written_seq_;
}

uint64_t Wal::append_snapshot_mark(const SnapshotMark& mark) {
  if (!current_) start_segment();
  roll_if_full(kRecordHeaderBytes + kSnapshotPayloadBytes);
  encode_snapshot_mark(buffer_, mark);
  if (!snapshot_ || snapshot_->index < mark.index) snapshot_ = mark;
  last_index_ = std::max(last_index_, mark.index);
  return ++written_seq_;
}

SyncJob Wal::begin_sync() {
  if (sync_in_flight_) throw std::logic_error("wal: begin_sync while a sync is in flight");
  if (!current_) start_segment();
  flush();
  SyncJob job;
  job.seq_ = written_seq_;
  job.fsync_ = options_.fsync;
  job.dir_ = dir_;
  job.sync_directory_ = directory_dirty_;
  directory_dirty_ = false;
  job.manifest_ = manifest_;
  job.durable_ = durable_;
  job.current_bytes_ = current_->bytes;  // flushed above: every write up to job.seq_
  job.list_current_ = current_->seq > listed_last_seq_;
  listed_last_seq_ = std::max(listed_last_seq_, current_->seq);
  job.closed_ = closed_unsynced_;
  closed_in_flight_ = std::move(closed_unsynced_);
  closed_unsynced_.clear();
  job.current_ = current_;
  in_flight_seq_ = job.seq_;
  sync_in_flight_ = true;
  return job;
}

uint64_t Wal::finish_sync(SyncJob job) {
  if (!sync_in_flight_ || job.seq_ != in_flight_seq_ || !job.ran_) {
    throw std::logic_error("wal: finish_sync without a matching job that ran");
  }
  sync_in_flight_ = false;
  if (!job.error_.empty()) throw IoError(dir_, "sync failed: " + job.error_);
  for (auto& seg : closed_in_flight_) closed_durable_.push_back(std::move(seg));
  closed_in_flight_.clear();
  assert(job.seq_ >= durable_seq_);  // durability never goes backwards
  durable_seq_ = job.seq_;
  return durable_seq_;
}

uint64_t Wal::sync() {
  SyncJob job = begin_sync();
  job.run();
  return finish_sync(std::move(job));
}

size_t Wal::remove_segments_below(Index index) {
  SegmentRemoval removal = detach_segments_below(index);
  const size_t removed = removal.count();
  removal.run();
  return removed;
}

SegmentRemoval Wal::detach_segments_below(Index index) {
  SegmentRemoval r;
  size_t removed = 0;
  while (removed < closed_durable_.size()) {
    const Segment& s = *closed_durable_[removed];
    if (s.has_entries && s.max_index > index) break;
    ++removed;
  }
  if (removed == 0) return r;
  // Every durable closed segment is older than the manifest's newest (the job that closed it
  // listed its successor).
  r.first_seq_ = closed_durable_[removed - 1]->seq + 1;
  assert(r.first_seq_ <= manifest_->get().last_seq);
  r.first_name_ = name_of_segment(r.first_seq_);
  const auto end = closed_durable_.begin() + static_cast<std::ptrdiff_t>(removed);
  r.segments_.assign(closed_durable_.begin(), end);
  closed_durable_.erase(closed_durable_.begin(), end);
  r.manifest_ = manifest_;
  r.durable_ = durable_;
  r.dir_ = dir_;
  r.fsync_ = options_.fsync;
  forget_positions_before(r.first_seq_);
  return r;
}

SegmentRemoval::~SegmentRemoval() = default;

void SegmentRemoval::run() {
  if (segments_.empty()) return;
  // The manifest moves first: a crash before the unlinks leaves older segments than it lists,
  // which recovery removes, never a listed segment missing.
  manifest_->update([&](Manifest& m) {
    m.first_seq = first_seq_;
    m.first_name = first_name_;
  });
  for (const auto& seg : segments_) remove_file(seg->path());
  if (fsync_) sync_directory(dir_);
  for (const auto& seg : segments_) {
    if (durable_) durable_->forget(durable_name(seg->closed_name));
  }
  segments_.clear();  // the last descriptors: the blocks are freed here
}

// ---------------------------------------------------------------------------------------------
// Wal: reading entries back

void Wal::note_position(Index index, uint64_t segment_seq, uint64_t offset) {
  assert(offset <= UINT32_MAX);  // segments are at most kSegmentFileBytesMax
  if (positions_.empty() || index < positions_first_ ||
      index - positions_first_ > positions_.size()) {
    positions_.clear();
    positions_first_ = index;
  }
  positions_.resize(index - positions_first_);  // an entry at i replaces every entry >= i
  positions_.push_back(segment_seq << 32 | offset);
}

void Wal::forget_positions_before(uint64_t segment_seq) {
  while (!positions_.empty() && (positions_.front() >> 32) < segment_seq) {
    positions_.pop_front();
    positions_first_ = positions_first_ + 1;
  }
}

SyncJob::Segment* Wal::find_segment(uint64_t seq) const {
  if (current_ && current_->seq == seq) return current_.get();
  for (const auto* list : {&closed_unsynced_, &closed_in_flight_, &closed_durable_}) {
    for (const auto& seg : *list) {
      if (seg->seq == seq) return seg.get();
    }
  }
  return nullptr;
}

std::optional<Payload> Wal::read_entry(Index index, Term term) {
  if (positions_.empty() || index < positions_first_ ||
      index - positions_first_ >= positions_.size()) {
    return std::nullopt;
  }
  const uint64_t position = positions_[index - positions_first_];
  Segment* seg = find_segment(position >> 32);
  if (seg == nullptr) return std::nullopt;
  const uint64_t offset = position & UINT32_MAX;
  ParseResult r;
  if (seg == current_.get() && offset >= seg->bytes) {  // not flushed yet
    r = parse_record(buffer_, offset - seg->bytes);
  } else {
    if (seg->fd < 0) seg->fd = open_file(seg->path(), O_RDONLY);  // recovered, closed
    std::string record(kRecordHeaderBytes, '\0');
    read_all_at(seg->fd, record.data(), record.size(), offset, seg->path());
    const uint32_t length = get_u32(record.data() + 4);
    if (length > kRecordPayloadBytesMax) throw CorruptionError(seg->path(), offset, "bad length");
    record.resize(kRecordHeaderBytes + length);
    read_all_at(seg->fd, record.data() + kRecordHeaderBytes, length, offset + kRecordHeaderBytes,
                seg->path());
    r = parse_record(record, 0);
  }
  if (r.damage != Damage::kNone || r.record.type != RecordType::kEntry ||
      r.record.entry.index != index) {
    throw CorruptionError(seg->path(), offset,
                          "reading entry " + std::to_string(index.get()) + " back: " +
                              (r.damage != Damage::kNone ? to_string(r.damage) : "another record"));
  }
  if (r.record.entry.term != term) return std::nullopt;
  return std::move(r.record.entry.data);
}

void Wal::publish_durable_to(std::shared_ptr<DurableTable> table) {
  if (!options_.fsync) return;  // nothing is ever durable: publish nothing (durable.h)
  durable_ = table;
  manifest_->publish_durable_to(std::move(table), durable_name(kManifestName));
}

std::string Wal::name_of_segment(uint64_t seq) const {
  for (const auto* list : {&closed_durable_, &closed_in_flight_, &closed_unsynced_}) {
    for (const auto& seg : *list) {
      if (seg->seq == seq) return seg->closed_name;
    }
  }
  assert(current_ != nullptr && current_->seq == seq);
  return current_->open_name;
}

// ---------------------------------------------------------------------------------------------
// Wal: recovery

namespace {

using Segment = SyncJob::Segment;

// Reads every segment file of `dir`, ordered by segment_seq. A damaged header is fatal except
// in an `open-N` that is truncated or zeroed there (its seq is then taken from the name).
std::vector<FoundSegment> find_segments(const std::string& dir, Recovered* recovered) {
  std::vector<FoundSegment> found;
  for (const std::string& name : list_directory(dir)) {
    if (name == kManifestName) continue;
    const NameKind kind = classify(name);
    if (kind == NameKind::kOther) {
      const std::string path = join_path(dir, name);
      if (name == kManifestTmpName) {
        recovered->warnings.push_back(
            {path, 0, path + ": removing the leftover of an interrupted manifest write"});
        remove_file(path);
        continue;
      }
      recovered->warnings.push_back({path, 0, path + ": not a WAL segment, ignored"});
      continue;
    }
    if (found.size() >= kSegmentsCountMax) {
      throw CorruptionError(dir, 0, "more than " + std::to_string(kSegmentsCountMax) + " segments");
    }
    FoundSegment f;
    f.name = name;
    f.open = kind == NameKind::kOpen;
    f.bytes = read_file(join_path(dir, name), kSegmentFileBytesMax);
    SegmentHeader header;
    const Damage d = parse_segment_header(f.bytes, &header);
    uint64_t n = 0;
    if (d != Damage::kNone) {
      // A crash right after creating the newest open segment can leave its header unwritten.
      if (!f.open || (d != Damage::kTruncated && d != Damage::kZeroed) ||
          !parse_u64(name.substr(5), &n)) {
        throw CorruptionError(join_path(dir, name), 0, to_string(d));
      }
      f.seq = n;
      f.bytes.clear();  // marks "no header"
    } else {
      f.seq = header.segment_seq;
      if (f.open && (!parse_u64(name.substr(5), &n) || n != f.seq)) {
        throw CorruptionError(join_path(dir, name), 12,
                              "segment_seq " + std::to_string(f.seq) + " does not match the name");
      }
    }
    found.push_back(std::move(f));
  }
  std::sort(found.begin(), found.end(),
            [](const FoundSegment& a, const FoundSegment& b) { return a.seq < b.seq; });
  return found;
}

std::string describe(const FoundSegment& f) {
  return f.name + " (segment_seq " + std::to_string(f.seq) + ")";
}

// Every segment the manifest lists is there, with a header, and none is missing in between.
void check_listed(const std::string& dir, const std::optional<Manifest>& manifest,
                  const std::vector<FoundSegment>& found) {
  if (manifest) {
    const Manifest& m = *manifest;
    if (found.empty() || found.front().seq > m.first_seq) {
      throw CorruptionError(
          join_path(dir, m.first_name), 0,
          "missing: the manifest lists it as the first segment (segment_seq " +
              std::to_string(m.first_seq) + ")" +
              (found.empty() ? ", and no segment is left"
                             : "; the oldest present is " + describe(found.front())));
    }
    if (found.back().seq < m.last_seq) {
      throw CorruptionError(join_path(dir, open_segment_name(m.last_seq)), 0,
                            "missing: the manifest lists it as the newest segment (segment_seq " +
                                std::to_string(m.last_seq) + "); the newest present is " +
                                describe(found.back()) +
                                ", so every entry written after it would be lost");
    }
    for (const FoundSegment& f : found) {
      if (f.bytes.empty() && f.seq <= m.last_seq) {
        throw CorruptionError(join_path(dir, f.name), 0,
                              "segment header missing, but the manifest lists the segment, so "
                              "its header was durable");
      }
    }
  }
  for (size_t k = 1; k < found.size(); ++k) {
    if (found[k].seq != found[k - 1].seq + 1) {
      throw CorruptionError(join_path(dir, found[k].name), 0,
                            "segment_seq " + std::to_string(found[k - 1].seq + 1) +
                                " is missing: " + describe(found[k]) + " follows " +
                                describe(found[k - 1]));
    }
  }
}

// Replays the records of one segment into `replay` and `seg`. Damage is fatal except a torn
// tail of the newest open segment, which is truncated with a warning.
void replay_records(const std::string& path, FoundSegment& f, bool newest, Segment& seg,
                    Replay& replay, Recovered* recovered) {
  uint64_t offset = kSegmentHeaderBytes;
  // Bounded by the file size: every iteration consumes at least one record header.
  while (offset < f.bytes.size()) {
    ParseResult r = parse_record(f.bytes, offset);
    if (r.damage != Damage::kNone) {
      const bool tail = newest && f.open && !find_valid_record_after(f.bytes, offset);
      if (!tail) {
        throw CorruptionError(
            path, offset,
            std::string(to_string(r.damage)) +
                (newest && f.open ? " (valid records follow)" : " (in a closed segment)"));
      }
      recovered->warnings.push_back(
          {path, offset,
           path + ": truncating a torn tail at offset " + std::to_string(offset) + " (" +
               to_string(r.damage) + ", " + std::to_string(f.bytes.size() - offset) +
               " bytes dropped); last good index " + std::to_string(replay.last().get())});
      truncate_file(path, offset);
      f.bytes.resize(offset);
      return;
    }
    Record& rec = r.record;
    switch (rec.type) {
      case RecordType::kEntry: {
        const Index index = rec.entry.index;
        std::string error = replay.add_entry(std::move(rec.entry), seg.seq << 32 | offset);
        if (!error.empty()) throw CorruptionError(path, offset, error);
        if (!seg.has_entries) seg.first_index = index;
        seg.has_entries = true;
        seg.last_index = index;
        seg.max_index = std::max(seg.max_index, index);
        break;
      }
      case RecordType::kHardState:
        replay.hard_state = rec.hard_state;
        break;
      case RecordType::kSnapshot:
        replay.apply_mark(rec.snapshot);
        break;
      case RecordType::kReserved:
        break;
    }
    if (offset == kSegmentHeaderBytes || seg.head_bytes == offset) {
      if (rec.type != RecordType::kEntry) seg.head_bytes = offset + rec.size_bytes;
    }
    offset += rec.size_bytes;
  }
}

}  // namespace

std::unique_ptr<Wal> Wal::open(const std::string& dir, const WalOptions& options,
                               const std::optional<SnapshotMeta>& snapshot, Recovered* recovered) {
  std::unique_ptr<Wal> wal(new Wal(dir, options));
  *recovered = Recovered{};
  wal->recover(snapshot, recovered);
  return wal;
}

// Segments the manifest does not list and a crash explains: older ones whose removal was under
// way, and a newest one whose header was never written (it holds nothing). Checks the rest
// against the manifest before removing anything.
void Wal::drop_unlisted(const std::optional<Manifest>& manifest, std::vector<FoundSegment>& found,
                        Recovered* recovered) {
  size_t older = 0;
  while (manifest && older < found.size() && found[older].seq < manifest->first_seq) ++older;
  std::vector<FoundSegment> leftovers(found.begin(),
                                      found.begin() + static_cast<std::ptrdiff_t>(older));
  found.erase(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(older));
  bool headerless = !found.empty() && found.back().bytes.empty() &&
                    (!manifest || found.back().seq > manifest->last_seq);
  if (headerless) {
    const std::string path = join_path(dir_, found.back().name);
    recovered->warnings.push_back(
        {path, 0, path + ": removing a segment whose header was never written"});
    remove_file(path);
    next_segment_seq_ = found.back().seq;
    found.pop_back();
  }
  check_listed(dir_, manifest, found);
  for (const FoundSegment& f : leftovers) {
    const std::string path = join_path(dir_, f.name);
    recovered->warnings.push_back(
        {path, 0,
         path + ": removing a segment older than the manifest's first (segment_seq " +
             std::to_string(manifest->first_seq) + "): a snapshot covers it"});
    remove_file(path);
  }
  if (options_.fsync && (headerless || !leftovers.empty())) sync_directory(dir_);
}

std::shared_ptr<SyncJob::Segment> Wal::replay_segments(std::vector<FoundSegment>& found,
                                                       Replay& replay, Recovered* recovered) {
  std::shared_ptr<Segment> last_open;
  for (size_t k = 0; k < found.size(); ++k) {
    FoundSegment& f = found[k];
    const std::string path = join_path(dir_, f.name);
    const bool newest = k + 1 == found.size();
    auto seg = std::make_shared<Segment>();
    seg->seq = f.seq;
    seg->dir = dir_;
    if (f.bytes.empty()) throw CorruptionError(path, 0, "segment header missing");
    const size_t warnings_before = recovered->warnings.size();
    replay_records(path, f, newest, *seg, replay, recovered);
    seg->bytes = f.bytes.size();
    next_segment_seq_ = f.seq + 1;
    if (newest && f.open) {
      seg->open_name = f.name;
      last_open = seg;
      if (options_.fsync && recovered->warnings.size() > warnings_before) {
        const int fd = open_file(path, O_WRONLY);
        sync_file(fd, path);  // the truncation itself must be durable before we append
        close_file(fd, path);
      }
      continue;
    }
    if (f.open) {  // closed but not yet renamed when the node stopped: it is whole, rename
      seg->open_name = f.name;
      seg->closed_name = seg->has_entries ? closed_segment_name(seg->first_index, seg->last_index)
                                          : closed_segment_name(replay.last() + 1, replay.last());
      if (path_exists(join_path(dir_, seg->closed_name))) {
        seg->closed_name += "." + std::to_string(seg->seq);
      }
      rename_file(path, join_path(dir_, seg->closed_name));
      if (options_.fsync) sync_directory(dir_);
    } else {
      seg->closed_name = f.name;
    }
    closed_names_.insert(seg->closed_name);
    closed_durable_.push_back(std::move(seg));
  }
  return last_open;
}

void Wal::recover(const std::optional<SnapshotMeta>& snapshot, Recovered* recovered) {
  make_directory(dir_);
  const std::optional<Manifest> manifest = read_manifest(dir_);
  std::vector<FoundSegment> found = find_segments(dir_, recovered);
  const bool found_any = !found.empty();
  drop_unlisted(manifest, found, recovered);
  Replay replay;
  std::shared_ptr<Segment> last_open = replay_segments(found, replay, recovered);

  // The snapshot the log starts after: the one in snap/, which must cover every mark.
  if (replay.mark && (!snapshot || snapshot->index < replay.mark->index)) {
    throw CorruptionError(dir_, 0,
                          "the log starts after snapshot " +
                              std::to_string(replay.mark->index.get()) +
                              " but no valid snapshot that new was found");
  }
  if (snapshot) replay.apply_mark(SnapshotMark{snapshot->index, snapshot->term});
  const Index expected_first = snapshot ? snapshot->index + 1 : Index(1);
  if (!replay.entries.empty() && replay.entries.front().index != expected_first) {
    throw CorruptionError(found.empty() ? dir_ : join_path(dir_, found.front().name), 0,
                          "entries " + std::to_string(expected_first.get()) + " to " +
                              std::to_string(replay.entries.front().index.get() - 1) +
                              " are missing (segments deleted?)");
  }

  hard_state_ = replay.hard_state;
  if (snapshot) snapshot_ = SnapshotMark{snapshot->index, snapshot->term};
  last_index_ =
      replay.entries.empty() ? (snapshot ? snapshot->index : Index()) : replay.entries.back().index;
  recovered->hard_state = replay.hard_state;
  recovered->snapshot = snapshot;
  recovered->entries = std::move(replay.entries);
  positions_.assign(replay.positions.begin(), replay.positions.end());
  if (!recovered->entries.empty()) positions_first_ = recovered->entries.front().index;

  if (last_open) {
    last_open->fd = open_file(last_open->path(), O_RDWR | O_APPEND);
    last_open->inode = inode_of(last_open->fd, last_open->path());
    if (last_open->head_bytes == 0) last_open->head_bytes = kSegmentHeaderBytes;
    current_ = std::move(last_open);
  } else {
    start_segment();
  }
  adopt_manifest(manifest, found_any, recovered);
}

// Brings the manifest up to date with the segments recovery kept (the oldest closed one, or
// the current one, through the current one).
void Wal::adopt_manifest(const std::optional<Manifest>& on_disk, bool found_any,
                         Recovered* recovered) {
  Manifest m;
  m.first_seq = closed_durable_.empty() ? current_->seq : closed_durable_.front()->seq;
  m.first_name = name_of_segment(m.first_seq);
  m.last_seq = current_->seq;
  listed_last_seq_ = m.last_seq;
  if (on_disk != m) {
    const std::string path = join_path(dir_, kManifestName);
    if (!on_disk && found_any) {
      recovered->warnings.push_back(
          {path, 0,
           path + ": no manifest (a WAL written before manifests existed): recording segments " +
               std::to_string(m.first_seq) + " to " + std::to_string(m.last_seq) + " as found"});
    } else if (on_disk && on_disk->last_seq < m.last_seq) {
      recovered->warnings.push_back(
          {path, 0,
           path + ": listing segments " + std::to_string(on_disk->last_seq + 1) + " to " +
               std::to_string(m.last_seq) + ", created before a crash that came before the " +
               "manifest listed them"});
    }
    // As in a sync job: the newest segment's header and name are durable before it is listed.
    flush();
    if (options_.fsync) {
      sync_file(current_->fd, current_->path());
      sync_directory(dir_);
    }
    write_manifest(dir_, m, options_.fsync);
  }
  manifest_ = std::make_shared<ManifestKeeper>(dir_, options_.fsync, m);
}

}  // namespace raftlab::persist
