// A small seeded pseudo-random generator (splitmix64 seeding xoshiro256**). The core's only
// randomness comes from here, so every run replays from its seed.
#pragma once

#include <cstdint>

namespace raftlab {

class Prng {
 public:
  explicit Prng(uint64_t seed) {
    for (uint64_t& word : state_) word = splitmix64(seed);
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [lo, hi); returns lo when hi <= lo.
  uint64_t uniform(uint64_t lo, uint64_t hi) {
    if (hi <= lo) return lo;
    return lo + next() % (hi - lo);
  }

  /// True with probability p (0 <= p <= 1).
  bool chance(double p) {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t state_[4];
};

}  // namespace raftlab
