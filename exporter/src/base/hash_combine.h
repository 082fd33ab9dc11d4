// Hash mixing for tuple keys (boost::hash_combine's recipe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace connwatch {

inline void HashCombine(size_t& seed, uint64_t value) {
  seed ^= std::hash<uint64_t>{}(value) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
}

}  // namespace connwatch
