// The bytes of a WAL segment, written by persist/wal.cc and read by recovery and `log dump`.
//
// A segment file:
//
//   +--------------------------------------------------------------+
//   | segment header (24 bytes)                                    |
//   |   magic "RLABWAL\0" (8) | version u32 (4) | segment_seq u64 (8) |
//   |   header_crc u32 (4): CRC-32C of the 20 bytes before it      |
//   +--------------------------------------------------------------+
//   | record | record | ...                                        |
//   +--------------------------------------------------------------+
//
// A record (9 bytes of header, then the payload):
//
//   +-----------+-------------+----------+-------------------------+
//   | crc u32   | length u32  | type u8  | payload (length bytes)  |
//   +-----------+-------------+----------+-------------------------+
//   crc = CRC-32C over length, type and payload (bytes 4 .. 9 + length), so a record whose
//   length field was damaged fails its checksum instead of swallowing its neighbours.
//
// Payloads, by type (type 0 is reserved: zero-filled space never parses as a record):
//   1 entry:       index u64 | term u64 | entry_type u8 | data (length - 17 bytes)
//   2 hard state:  term u64 | vote u64 | commit u64
//   3 snapshot:    index u64 | term u64  (the log now starts after this snapshot: entries at
//                  or below index are gone, and all of them if the entry at index has another
//                  term, as InstallSnapshot rules in §7)
//
// Integers are little-endian. Records never span segments. Every segment begins with a hard
// state record and, once a snapshot exists, a snapshot record, so any suffix of the segments
// is enough to recover (segments wholly below a snapshot can be deleted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "node/types.h"

namespace raftlab::persist {

constexpr char kSegmentMagic[8] = {'R', 'L', 'A', 'B', 'W', 'A', 'L', '\0'};
constexpr uint32_t kSegmentVersion = 1;
constexpr size_t kSegmentHeaderBytes = 8 + 4 + 8 + 4;  // magic, version, segment_seq, crc
static_assert(kSegmentHeaderBytes == 24);

constexpr size_t kRecordHeaderBytes = 4 + 4 + 1;  // crc, length, type
static_assert(kRecordHeaderBytes == 9);
constexpr size_t kEntryPayloadFixedBytes = 8 + 8 + 1;  // index, term, entry_type
constexpr size_t kHardStatePayloadBytes = 8 + 8 + 8;   // term, vote, commit
constexpr size_t kSnapshotPayloadBytes = 8 + 8;        // index, term
static_assert(kEntryPayloadFixedBytes == 17 && kHardStatePayloadBytes == 24 &&
              kSnapshotPayloadBytes == 16);

/// The largest record payload; larger lengths are damage. An entry's data is at most
/// entry_data_bytes_max; the WAL refuses to write more.
constexpr size_t kRecordPayloadBytesMax = 16u << 20;
constexpr size_t kEntryDataBytesMax = kRecordPayloadBytesMax - kEntryPayloadFixedBytes;
/// Segment files are at most this large (a full segment is renamed and a new one started).
constexpr uint64_t kSegmentBytesMaxLimit = 1ull << 30;
/// The largest segment recovery will read; larger files are damage.
constexpr uint64_t kSegmentFileBytesMax =
    kSegmentBytesMaxLimit + kRecordHeaderBytes + kRecordPayloadBytesMax;

enum class RecordType : uint8_t {
  kReserved = 0,  // never written: zeroed space
  kEntry = 1,
  kHardState = 2,
  kSnapshot = 3,
};
constexpr uint8_t kRecordTypeMax = 3;

const char* to_string(RecordType type);

struct SnapshotMark {
  Index index;
  Term term;
  friend bool operator==(const SnapshotMark&, const SnapshotMark&) = default;
};

// Little-endian integers, as every persist/ file stores them.
void put_u32(std::string& out, uint32_t v);
void put_u64(std::string& out, uint64_t v);
uint32_t get_u32(const char* p);  // reads 4 bytes at p
uint64_t get_u64(const char* p);  // reads 8 bytes at p

// Encoding: each appends one complete record to `out`.
void encode_entry(std::string& out, const Entry& e);
void encode_hard_state(std::string& out, const HardState& hs);
void encode_snapshot_mark(std::string& out, const SnapshotMark& mark);
std::string encode_segment_header(uint64_t segment_seq);

/// Why the bytes at an offset are not a valid record (or segment header).
enum class Damage : uint8_t {
  kNone = 0,
  kTruncated,     // the file ends inside the record header or payload
  kZeroed,        // the record header is all zero bytes (type 0)
  kBadType,       // type not one we write
  kBadLength,     // length too large, or wrong for the type
  kBadChecksum,   // crc does not match
  kBadPayload,    // checksum fine but the payload is not valid (e.g. entry_type unknown)
  kBadMagic,      // segment header: magic or version
  kBadHeaderCrc,  // segment header: crc
};
const char* to_string(Damage d);

/// One decoded record.
struct Record {
  RecordType type = RecordType::kReserved;
  uint64_t offset = 0;    // of the record header in the file
  size_t size_bytes = 0;  // header + payload
  Entry entry;            // kEntry
  HardState hard_state;   // kHardState
  SnapshotMark snapshot;  // kSnapshot
};

struct ParseResult {
  Damage damage = Damage::kNone;
  Record record;  // valid when damage == kNone
};

/// Parses the record at `offset` of `bytes` (offset < bytes.size()).
ParseResult parse_record(std::string_view bytes, uint64_t offset);

/// The offset of the first valid record starting after `offset`, if any: used to tell a torn
/// tail (nothing valid follows) from damage in the middle (something valid follows).
std::optional<uint64_t> find_valid_record_after(std::string_view bytes, uint64_t offset);

struct SegmentHeader {
  uint32_t version = 0;
  uint64_t segment_seq = 0;
};
/// Checks and decodes the first kSegmentHeaderBytes of a segment.
Damage parse_segment_header(std::string_view bytes, SegmentHeader* out);

}  // namespace raftlab::persist
