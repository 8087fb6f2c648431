// Encoding and decoding of WAL records (layout in format.h).
#include "persist/format.h"

#include <cstring>

#include "persist/crc32c.h"

namespace raftlab::persist {
void put_u32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}

void put_u64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}

uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

namespace {

// Starts a record: reserves the crc, writes length and type. finish_record fills the crc.
size_t begin_record(std::string& out, RecordType type, size_t payload_bytes) {
  const size_t start = out.size();
  put_u32(out, 0);
  put_u32(out, static_cast<uint32_t>(payload_bytes));
  out.push_back(static_cast<char>(type));
  return start;
}

void finish_record(std::string& out, size_t start) {
  const uint32_t crc = crc32c(out.data() + start + 4, out.size() - start - 4);
  for (int i = 0; i < 4; ++i)
    out[start + static_cast<size_t>(i)] = static_cast<char>(crc >> (8 * i));
}

bool valid_entry_type(uint8_t t) { return t >= 1 && t <= 3; }

// The payload length each type allows.
bool length_fits_type(uint8_t type, uint64_t length) {
  switch (type) {
    case 1:
      return length >= kEntryPayloadFixedBytes && length <= kRecordPayloadBytesMax;
    case 2:
      return length == kHardStatePayloadBytes;
    case 3:
      return length == kSnapshotPayloadBytes;
    default:
      return false;
  }
}

}  // namespace

const char* to_string(RecordType type) {
  switch (type) {
    case RecordType::kReserved:
      return "reserved";
    case RecordType::kEntry:
      return "entry";
    case RecordType::kHardState:
      return "hard_state";
    case RecordType::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

const char* to_string(Damage d) {
  switch (d) {
    case Damage::kNone:
      return "ok";
    case Damage::kTruncated:
      return "truncated record (file ends inside it)";
    case Damage::kZeroed:
      return "zeroed bytes";
    case Damage::kBadType:
      return "unknown record type";
    case Damage::kBadLength:
      return "record length invalid for its type";
    case Damage::kBadChecksum:
      return "checksum mismatch";
    case Damage::kBadPayload:
      return "invalid payload";
    case Damage::kBadMagic:
      return "bad segment magic or version";
    case Damage::kBadHeaderCrc:
      return "segment header checksum mismatch";
  }
  return "unknown damage";
}

void encode_entry(std::string& out, const Entry& e) {
  const std::string& data = e.data.str();
  const size_t start = begin_record(out, RecordType::kEntry, kEntryPayloadFixedBytes + data.size());
  put_u64(out, e.index.get());
  put_u64(out, e.term.get());
  out.push_back(static_cast<char>(e.type));
  out.append(data);
  finish_record(out, start);
}

void encode_hard_state(std::string& out, const HardState& hs) {
  const size_t start = begin_record(out, RecordType::kHardState, kHardStatePayloadBytes);
  put_u64(out, hs.term.get());
  put_u64(out, hs.vote.get());
  put_u64(out, hs.commit.get());
  finish_record(out, start);
}

void encode_snapshot_mark(std::string& out, const SnapshotMark& mark) {
  const size_t start = begin_record(out, RecordType::kSnapshot, kSnapshotPayloadBytes);
  put_u64(out, mark.index.get());
  put_u64(out, mark.term.get());
  finish_record(out, start);
}

std::string encode_segment_header(uint64_t segment_seq) {
  std::string out(kSegmentMagic, sizeof kSegmentMagic);
  put_u32(out, kSegmentVersion);
  put_u64(out, segment_seq);
  put_u32(out, crc32c(out.data(), out.size()));
  return out;
}

Damage parse_segment_header(std::string_view bytes, SegmentHeader* out) {
  if (bytes.size() < kSegmentHeaderBytes) return Damage::kTruncated;
  if (bytes.substr(0, kSegmentHeaderBytes).find_first_not_of('\0') == std::string_view::npos) {
    return Damage::kZeroed;
  }
  if (get_u32(bytes.data() + 20) != crc32c(bytes.data(), 20)) return Damage::kBadHeaderCrc;
  if (std::memcmp(bytes.data(), kSegmentMagic, sizeof kSegmentMagic) != 0 ||
      get_u32(bytes.data() + 8) != kSegmentVersion) {
    return Damage::kBadMagic;
  }
  out->version = get_u32(bytes.data() + 8);
  out->segment_seq = get_u64(bytes.data() + 12);
  return Damage::kNone;
}

ParseResult parse_record(std::string_view bytes, uint64_t offset) {
  ParseResult r;
  const uint64_t available = bytes.size() - offset;
  const char* p = bytes.data() + offset;
  if (available < kRecordHeaderBytes) {
    // A zeroed tail shorter than a header is still zeroes, not a partial record.
    r.damage = std::string_view(p, available).find_first_not_of('\0') == std::string_view::npos
                   ? Damage::kZeroed
                   : Damage::kTruncated;
    return r;
  }
  const uint32_t crc = get_u32(p);
  const uint32_t length = get_u32(p + 4);
  const auto type = static_cast<uint8_t>(p[8]);
  if (type == 0) {
    r.damage = crc == 0 && length == 0 ? Damage::kZeroed : Damage::kBadType;
    return r;
  }
  if (type > kRecordTypeMax) {
    r.damage = Damage::kBadType;
    return r;
  }
  if (!length_fits_type(type, length)) {
    r.damage = Damage::kBadLength;
    return r;
  }
  if (available - kRecordHeaderBytes < length) {
    r.damage = Damage::kTruncated;
    return r;
  }
  if (crc32c(p + 4, 5 + static_cast<size_t>(length)) != crc) {
    r.damage = Damage::kBadChecksum;
    return r;
  }
  const char* payload = p + kRecordHeaderBytes;
  Record& rec = r.record;
  rec.type = static_cast<RecordType>(type);
  rec.offset = offset;
  rec.size_bytes = kRecordHeaderBytes + length;
  switch (rec.type) {
    case RecordType::kEntry: {
      const auto entry_type = static_cast<uint8_t>(payload[16]);
      const uint64_t index = get_u64(payload);
      if (!valid_entry_type(entry_type) || index == 0) {
        r.damage = Damage::kBadPayload;
        return r;
      }
      rec.entry.index = Index(index);
      rec.entry.term = Term(get_u64(payload + 8));
      rec.entry.type = static_cast<EntryType>(entry_type);
      rec.entry.data =
          std::string(payload + kEntryPayloadFixedBytes, length - kEntryPayloadFixedBytes);
      break;
    }
    case RecordType::kHardState:
      rec.hard_state.term = Term(get_u64(payload));
      rec.hard_state.vote = NodeId(get_u64(payload + 8));
      rec.hard_state.commit = Index(get_u64(payload + 16));
      break;
    case RecordType::kSnapshot:
      rec.snapshot.index = Index(get_u64(payload));
      rec.snapshot.term = Term(get_u64(payload + 8));
      break;
    case RecordType::kReserved:
      r.damage = Damage::kBadType;
      break;
  }
  return r;
}

std::optional<uint64_t> find_valid_record_after(std::string_view bytes, uint64_t offset) {
  // Every later byte offset is a candidate; the type and length checks reject almost all of
  // them before any checksum is computed, and a record is at most kRecordPayloadBytesMax.
  for (uint64_t p = offset + 1; p + kRecordHeaderBytes <= bytes.size(); ++p) {
    const auto type = static_cast<uint8_t>(bytes[p + 8]);
    if (type == 0 || type > kRecordTypeMax) continue;
    if (!length_fits_type(type, get_u32(bytes.data() + p + 4))) continue;
    if (parse_record(bytes, p).damage == Damage::kNone) return p;
  }
  return std::nullopt;
}

}  // namespace raftlab::persist
