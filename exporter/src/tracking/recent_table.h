// A table of at most `capacity` entries by key that forgets the least recently touched when
// full, and counts what it forgot: the scan estimators' actors and peers
// (tracking/scan_tracker.h), whose keys a remote host or a local process chooses. A forgotten
// entry's node is reused for the new key, so a flood of new keys allocates nothing once the
// table is full (beyond what copying a longer key needs). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <list>
#include <map>
#include <utility>

namespace connwatch {

template <typename Key, typename Value>
class RecentTable {
 public:
  // New entries start as copies of `initial`. `capacity` >= 1.
  RecentTable(size_t capacity, Value initial)
      : capacity_(capacity < 1 ? 1 : capacity), initial_(std::move(initial)) {}
  // The index points into the list's nodes: a copy would point into the original's.
  RecentTable(const RecentTable&) = delete;
  RecentTable& operator=(const RecentTable&) = delete;
  RecentTable(RecentTable&&) = default;
  RecentTable& operator=(RecentTable&&) = default;

  // The value of `key`, made the most recent. Absent, it is made from `initial`; when the
  // table is full the least recent entry makes room: dropped uncounted if `stale(value)`
  // (it would have expired anyway), else counted in evicted().
  template <typename Stale>
  Value& Touch(const Key& key, Stale stale) {
    auto found = index_.find(&key);
    if (found != index_.end()) {
      order_.splice(order_.begin(), order_, found->second);
      return found->second->value;
    }
    if (order_.size() < capacity_) {
      order_.push_front({key, initial_});
      index_.emplace(&order_.front().key, order_.begin());
      return order_.front().value;
    }
    auto victim = std::prev(order_.end());
    if (!stale(victim->value)) ++evicted_;
    auto handle = index_.extract(&victim->key);
    victim->key = key;
    victim->value = initial_;
    order_.splice(order_.begin(), order_, victim);
    handle.key() = &victim->key;
    index_.insert(std::move(handle));
    return victim->value;
  }

  // Drops every entry whose value is `stale` (uncounted).
  template <typename Stale>
  void Drop(Stale stale) {
    for (auto it = order_.begin(); it != order_.end();) {
      if (!stale(it->value)) {
        ++it;
        continue;
      }
      index_.erase(&it->key);
      it = order_.erase(it);
    }
  }

  // Calls f(key, value) for every entry, in key order.
  template <typename F>
  void ForEach(F f) const {
    for (const auto& [key, entry] : index_) f(*key, entry->value);
  }

  size_t size() const { return order_.size(); }
  size_t capacity() const { return capacity_; }
  // Entries forgotten for room, not stale, since construction.
  uint64_t evicted() const { return evicted_; }

 private:
  struct Entry {
    Key key;
    Value value;
  };
  using Order = std::list<Entry>;  // most recent first; nodes never move in memory
  struct ByKey {
    bool operator()(const Key* a, const Key* b) const { return *a < *b; }
  };

  size_t capacity_;
  Value initial_;
  uint64_t evicted_ = 0;
  Order order_;
  std::map<const Key*, typename Order::iterator, ByKey> index_;  // keys point into order_
};

}  // namespace connwatch
