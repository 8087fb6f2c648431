// CRC-32C: slice-by-8 tables and the SSE4.2 instruction (see crc32c.h).
#include "persist/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace raftlab::persist {
namespace {

constexpr uint32_t kPolynomialReflected = 0x82F63B78;
constexpr size_t kSlices = 8;

// tables[0] is the classic byte-at-a-time table; tables[k][b] is the CRC of byte b followed by
// k zero bytes, so eight bytes can be folded with eight independent lookups.
using Tables = std::array<std::array<uint32_t, 256>, kSlices>;

constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? kPolynomialReflected : 0);
    t[0][b] = crc;
  }
  for (size_t k = 1; k < kSlices; ++k) {
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}

constexpr Tables kTables = make_tables();

}  // namespace

uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  while (size >= kSlices) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);  // little-endian host (x86-64, arm64)
    word ^= c;
    c = kTables[7][word & 0xff] ^ kTables[6][(word >> 8) & 0xff] ^ kTables[5][(word >> 16) & 0xff] ^
        kTables[4][(word >> 24) & 0xff] ^ kTables[3][(word >> 32) & 0xff] ^
        kTables[2][(word >> 40) & 0xff] ^ kTables[1][(word >> 48) & 0xff] ^ kTables[0][word >> 56];
    p += kSlices;
    size -= kSlices;
  }
  while (size-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
  return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_extend_hardware(uint32_t crc, const void* data,
                                                                  size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t c = ~crc;
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    c = _mm_crc32_u64(c, word);
    p += 8;
    size -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (size-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool crc32c_hardware_available() {
  static const bool kAvailable = __builtin_cpu_supports("sse4.2");
  return kAvailable;
}
#else
uint32_t crc32c_extend_hardware(uint32_t crc, const void* data, size_t size) {
  return crc32c_extend_portable(crc, data, size);
}
bool crc32c_hardware_available() { return false; }
#endif

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size) {
  return crc32c_hardware_available() ? crc32c_extend_hardware(crc, data, size)
                                     : crc32c_extend_portable(crc, data, size);
}

}  // namespace raftlab::persist
