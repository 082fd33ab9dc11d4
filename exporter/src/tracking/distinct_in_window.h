// How many distinct 64-bit keys were added in the last `window` seconds, in a fixed ~2 KiB
// whatever the input: the scan estimators (tracking/scan_tracker.h) keep one per actor or
// peer, and a scanner chooses how many keys it sends.
//
// The window is 5 sub-windows ("slices") of window/5 seconds, ring-allocated; a key counts
// while the slice it was last added in is one of the 5 newest, so from 4/5 of the window to
// the whole window after its last addition. Two representations share one buffer:
//
// - exact (sparse): up to kExactLimit keys held as 32-bit fingerprints with the slice each
//   was last seen in, the table rebuilt without the keys that left the window. Exact for as
//   long as the window never held more than kExactLimit keys (fingerprints of different keys
//   collide with probability about n^2 / 2^33: 5e-6 at 200).
// - sketch (dense): past kExactLimit, one HyperLogLog per slice (768 4-bit registers), the
//   window's union taken by register-wise max and estimated with Ertl's improved estimator
//   (arXiv:1702.01284, "New cardinality estimation algorithms for HyperLogLog sketches"),
//   which needs no switch between linear counting and the raw estimate and stays unbiased
//   from a few hundred keys to ~10^7. Relative standard error 1.04/sqrt(768) = 3.8%; the unit
//   tests hold it within 12% (about 3 sigma) at 300, 1000, 10^4, 10^5, 10^6 and 10^7 keys.
//   It is exact again once a whole window passes without a key.
//
// Time is passed in (`now`, seconds, any epoch); a `now` older than the newest seen counts as
// the newest (clocks step back; nothing is unlearned). Not thread-safe.
#pragma once

#include <array>
#include <cstdint>

namespace connwatch {

// MurmurHash3's 64-bit finalizer (fmix64): every input bit reaches every output bit, so
// structured keys (consecutive ports, an address range) spread over registers and ranks.
// base/hash_combine.h's std::hash of an integer is the identity and would not.
uint64_t Mix64(uint64_t x);

class DistinctInWindow {
 public:
  static constexpr int kSlices = 5;
  static constexpr int kRegisters = 768;  // per slice; 4 bits each
  static constexpr int kExactSlots = 240;
  static constexpr int kExactLimit = 208;  // of kExactSlots: probing stays short
  static constexpr int kBufferBytes = kSlices * kRegisters / 2;  // 1920 = kExactSlots * 8

  // `window_seconds` > 0.
  explicit DistinctInWindow(double window_seconds);

  // `key` is mixed here (Mix64): any injective encoding of what is counted will do.
  void Add(uint64_t key, double now);
  // Distinct keys in the window at `now` (exact while exact(), else estimated).
  double Estimate(double now) const;
  // Add() calls in the window at `now` (exact, per slice like the keys).
  uint64_t Additions(double now) const;
  // Nothing added in the window at `now`.
  bool Empty(double now) const;
  // Back to the state of a new estimator (same window).
  void Clear();

  bool exact() const { return exact_; }
  double window_seconds() const { return window_seconds_; }

 private:
  int64_t SliceOf(double now) const;
  bool Live(int64_t slice, int64_t current) const {
    return slice <= current && current - slice < kSlices;
  }
  void Advance(int64_t slice);
  void AddExact(uint64_t hash, int64_t slice);
  void AddSketch(uint64_t hash, int ring);
  void ToSketch();
  void RebuildExact();
  double EstimateSketch(int64_t current) const;

  double slice_seconds_;
  double window_seconds_;
  int64_t current_ = INT64_MIN;                // the newest slice seen; INT64_MIN: none yet
  std::array<int64_t, kSlices> ring_slice_{};  // the slice each ring position holds
  std::array<uint32_t, kSlices> ring_adds_{};  // Add() calls in it
  bool exact_ = true;
  int exact_count_ = 0;
  // exact: kExactSlots uint64 entries (fingerprint << 32 | rank << 28 | slice mod 2^28),
  // 0 empty; sketch: kSlices x kRegisters nibbles, ring position-major.
  alignas(8) std::array<uint8_t, kBufferBytes> buffer_{};
};

}  // namespace connwatch
