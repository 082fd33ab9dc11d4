// Hash mixing for the connection tables' tuple keys (boost::hash_combine's recipe).
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>

#include "model.h"

namespace connwatch {

inline void HashCombine(size_t& seed, uint64_t value) {
  seed ^= std::hash<uint64_t>{}(value) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

inline void HashCombineAddress(size_t& seed, const IpAddress& address) {
  uint64_t halves[2];
  static_assert(sizeof(halves) == sizeof(address.bytes));
  std::memcpy(halves, address.bytes.data(), sizeof(halves));
  HashCombine(seed, static_cast<uint64_t>(address.family));
  HashCombine(seed, halves[0]);
  HashCombine(seed, halves[1]);
}

}  // namespace connwatch
