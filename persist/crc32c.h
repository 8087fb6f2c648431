// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every WAL record and
// snapshot file. Two implementations that must agree: slice-by-8 tables in portable C++, and
// the SSE4.2 crc32 instruction, picked at run time when the CPU has it (about 10x faster, which
// matters because recovery checksums every byte of the log).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace raftlab::persist {

/// Continues a CRC-32C over more bytes: crc32c_extend(crc32c(a), b) == crc32c(a + b).
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size);
inline uint32_t crc32c(const void* data, size_t size) { return crc32c_extend(0, data, size); }
inline uint32_t crc32c(std::string_view bytes) { return crc32c(bytes.data(), bytes.size()); }

// The two implementations, for tests and the benchmark.
uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t size);
/// Only valid when crc32c_hardware_available().
uint32_t crc32c_extend_hardware(uint32_t crc, const void* data, size_t size);
bool crc32c_hardware_available();

}  // namespace raftlab::persist
