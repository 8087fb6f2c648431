// CRC-32C: known vectors (RFC 3720 appendix B.4) and agreement of both implementations.
#include "persist/crc32c.h"

#include <catch2/catch.hpp>
#include <string>

#include "node/prng.h"

using namespace raftlab::persist;

TEST_CASE("crc32c known vectors", "[crc32c]") {
  CHECK(crc32c(std::string("123456789")) == 0xE3069283u);
  CHECK(crc32c(std::string("")) == 0u);
  std::string zeros(32, '\0');
  std::string ones(32, '\xff');
  std::string up(32, '\0');
  std::string down(32, '\0');
  for (int i = 0; i < 32; ++i) {
    up[static_cast<size_t>(i)] = static_cast<char>(i);
    down[static_cast<size_t>(i)] = static_cast<char>(31 - i);
  }
  for (const auto f : {crc32c_extend_portable, crc32c_extend}) {
    CHECK(f(0, zeros.data(), zeros.size()) == 0x8A9136AAu);
    CHECK(f(0, ones.data(), ones.size()) == 0x62A8AB43u);
    CHECK(f(0, up.data(), up.size()) == 0x46DD794Eu);
    CHECK(f(0, down.data(), down.size()) == 0x113FDB5Cu);
  }
}

TEST_CASE("crc32c implementations agree on every length and split", "[crc32c]") {
  raftlab::Prng prng(7);
  std::string data(1000, '\0');
  for (char& c : data) c = static_cast<char>(prng.uniform(0, 256));
  for (size_t n = 0; n <= data.size(); n += (n < 64 ? 1 : 37)) {
    const uint32_t whole = crc32c_extend_portable(0, data.data(), n);
    if (crc32c_hardware_available()) CHECK(crc32c_extend_hardware(0, data.data(), n) == whole);
    const size_t split = n / 3;
    CHECK(crc32c_extend(crc32c_extend(0, data.data(), split), data.data() + split, n - split) ==
          whole);
  }
}
