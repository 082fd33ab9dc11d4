#include "tracking/distinct_in_window.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace connwatch {
namespace {

constexpr int64_t kNoSlice = std::numeric_limits<int64_t>::min();
constexpr uint64_t kSliceMask = (uint64_t{1} << 28) - 1;
// Register values are 1 + the leading zeros of 14 hash bits, 15 when all 14 are zero: Ertl's
// q = 14, enough for ~10^7 keys per 768 registers.
constexpr int kQ = 14;

uint32_t Fingerprint(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }
int Rank(uint64_t hash) { return std::min(std::countl_zero(static_cast<uint32_t>(hash)), kQ) + 1; }
// Multiply-high maps 32 bits onto a range that is not a power of two without a division.
int RegisterOf(uint32_t fingerprint) {
  return static_cast<int>((uint64_t{fingerprint} * DistinctInWindow::kRegisters) >> 32);
}
int SlotOf(uint32_t fingerprint) {
  // The low half: the register index already took the high one.
  return static_cast<int>(((fingerprint & 0xffffu) * DistinctInWindow::kExactSlots) >> 16);
}
int RingOf(int64_t slice) {
  int64_t ring = slice % DistinctInWindow::kSlices;
  return static_cast<int>(ring < 0 ? ring + DistinctInWindow::kSlices : ring);
}

// How many slices before `current` an entry's slice (mod 2^28) is.
int64_t AgeOf(uint64_t entry, int64_t current) {
  return static_cast<int64_t>((static_cast<uint64_t>(current) - entry) & kSliceMask);
}
uint64_t MakeEntry(uint32_t fingerprint, int rank, int64_t slice) {
  return (uint64_t{fingerprint} << 32) | (static_cast<uint64_t>(rank) << 28) |
         (static_cast<uint64_t>(slice) & kSliceMask);
}

// Sketch registers are nibbles, two to a byte; a register only grows.
using Buffer = std::array<uint8_t, DistinctInWindow::kBufferBytes>;
int Register(const Buffer& buffer, int index) {
  return (buffer[index / 2] >> ((index % 2) * 4)) & 0xf;
}
void Raise(Buffer& buffer, int index, int rank) {
  if (Register(buffer, index) >= rank) return;
  int shift = (index % 2) * 4;
  buffer[index / 2] = static_cast<uint8_t>((buffer[index / 2] & ~(0xf << shift)) | (rank << shift));
}

// Ertl's sigma and tau (arXiv:1702.01284, algorithm 6), series summed until they stop moving.
double Sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0, z = x, previous;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (previous != z);
  return z;
}

double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0, z = 1.0 - x, previous;
  do {
    x = std::sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
  } while (previous != z);
  return z / 3.0;
}

}  // namespace

uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

DistinctInWindow::DistinctInWindow(double window_seconds)
    : slice_seconds_(window_seconds / kSlices), window_seconds_(window_seconds) {
  Clear();
}

void DistinctInWindow::Clear() {
  current_ = kNoSlice;
  ring_slice_.fill(kNoSlice);
  ring_adds_.fill(0);
  exact_ = true;
  exact_count_ = 0;
  buffer_.fill(0);
}

int64_t DistinctInWindow::SliceOf(double now) const {
  double slice = std::floor(now / slice_seconds_);
  // NaN, or a clock so far out that it cannot be a slice number: the newest seen.
  if (!(std::fabs(slice) < 9e18)) return current_ == kNoSlice ? 0 : current_;
  return std::max(static_cast<int64_t>(slice), current_);
}

// Moves the window to `slice`: ring positions that fall out are emptied and restamped.
void DistinctInWindow::Advance(int64_t slice) {
  if (slice <= current_) return;
  if (current_ == kNoSlice || slice - current_ >= kSlices) {
    Clear();  // everything left the window: exact again
  } else {
    for (int64_t step = current_ + 1; step <= slice; ++step) {
      int ring = RingOf(step);
      ring_adds_[ring] = 0;
      if (!exact_) std::memset(buffer_.data() + ring * (kRegisters / 2), 0, kRegisters / 2);
    }
  }
  for (int64_t step = std::max(current_ + 1, slice - kSlices + 1); step <= slice; ++step) {
    ring_slice_[RingOf(step)] = step;
  }
  current_ = slice;
  if (exact_ && exact_count_ > 0) RebuildExact();
}

void DistinctInWindow::Add(uint64_t key, double now) {
  int64_t slice = SliceOf(now);
  Advance(slice);
  int ring = RingOf(slice);
  if (ring_adds_[ring] < std::numeric_limits<uint32_t>::max()) ++ring_adds_[ring];
  uint64_t hash = Mix64(key);
  if (exact_) {
    AddExact(hash, slice);
  } else {
    AddSketch(hash, ring);
  }
}

void DistinctInWindow::AddExact(uint64_t hash, int64_t slice) {
  uint32_t fingerprint = Fingerprint(hash);
  for (int slot = SlotOf(fingerprint);; slot = (slot + 1) % kExactSlots) {
    uint64_t entry;
    std::memcpy(&entry, buffer_.data() + slot * 8, 8);
    if (entry != 0 && (entry >> 32) != fingerprint) continue;
    if (entry == 0) {
      if (exact_count_ == kExactLimit) {
        ToSketch();
        AddSketch(hash, RingOf(slice));
        return;
      }
      ++exact_count_;
    }
    entry = MakeEntry(fingerprint, Rank(hash), slice);
    std::memcpy(buffer_.data() + slot * 8, &entry, 8);
    return;
  }
}

void DistinctInWindow::AddSketch(uint64_t hash, int ring) {
  Raise(buffer_, ring * kRegisters + RegisterOf(Fingerprint(hash)), Rank(hash));
}

void DistinctInWindow::ToSketch() {
  std::array<uint64_t, kExactSlots> entries;
  std::memcpy(entries.data(), buffer_.data(), sizeof(entries));
  buffer_.fill(0);
  exact_ = false;
  exact_count_ = 0;
  for (uint64_t entry : entries) {
    if (entry == 0) continue;
    int64_t slice = current_ - AgeOf(entry, current_);
    Raise(buffer_, RingOf(slice) * kRegisters + RegisterOf(static_cast<uint32_t>(entry >> 32)),
          static_cast<int>((entry >> 28) & 0xf));
  }
}

// Drops the entries of slices that left the window; the table is rebuilt rather than holed,
// so that probing never has to step over deleted slots. Once per slice at most.
void DistinctInWindow::RebuildExact() {
  std::array<uint64_t, kExactSlots> entries;
  std::memcpy(entries.data(), buffer_.data(), sizeof(entries));
  buffer_.fill(0);
  exact_count_ = 0;
  for (uint64_t entry : entries) {
    if (entry == 0 || AgeOf(entry, current_) >= kSlices) continue;
    uint32_t fingerprint = static_cast<uint32_t>(entry >> 32);
    int slot = SlotOf(fingerprint);
    uint64_t held;
    for (;; slot = (slot + 1) % kExactSlots) {
      std::memcpy(&held, buffer_.data() + slot * 8, 8);
      if (held == 0) break;
    }
    std::memcpy(buffer_.data() + slot * 8, &entry, 8);
    ++exact_count_;
  }
}

bool DistinctInWindow::Empty(double now) const { return Additions(now) == 0; }

uint64_t DistinctInWindow::Additions(double now) const {
  if (current_ == kNoSlice) return 0;
  int64_t current = SliceOf(now);
  uint64_t total = 0;
  for (int ring = 0; ring < kSlices; ++ring) {
    if (ring_slice_[ring] != kNoSlice && Live(ring_slice_[ring], current)) {
      total += ring_adds_[ring];
    }
  }
  return total;
}

double DistinctInWindow::Estimate(double now) const {
  if (current_ == kNoSlice) return 0.0;
  int64_t current = SliceOf(now);
  if (current - current_ >= kSlices) return 0.0;
  if (!exact_) return EstimateSketch(current);
  int count = 0;
  for (int slot = 0; slot < kExactSlots; ++slot) {
    uint64_t entry;
    std::memcpy(&entry, buffer_.data() + slot * 8, 8);
    // Entries are never newer than current_, so an age past the window is a real age.
    if (entry != 0 && AgeOf(entry, current) < kSlices) ++count;
  }
  return count;
}

double DistinctInWindow::EstimateSketch(int64_t current) const {
  std::array<bool, kSlices> live{};
  for (int ring = 0; ring < kSlices; ++ring) {
    live[ring] = ring_slice_[ring] != kNoSlice && Live(ring_slice_[ring], current);
  }
  std::array<int, kQ + 2> histogram{};  // registers of the union by value
  for (int index = 0; index < kRegisters; ++index) {
    int value = 0;
    for (int ring = 0; ring < kSlices; ++ring) {
      if (!live[ring]) continue;
      value = std::max(value, Register(buffer_, ring * kRegisters + index));
    }
    ++histogram[value];
  }
  const double m = kRegisters;
  double z = m * Tau(1.0 - histogram[kQ + 1] / m);
  for (int k = kQ; k >= 1; --k) z = 0.5 * (z + histogram[k]);
  z += m * Sigma(histogram[0] / m);
  return m * m / (2.0 * std::log(2.0)) / z;
}

}  // namespace connwatch
