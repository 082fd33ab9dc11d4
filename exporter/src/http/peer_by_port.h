// Whose request arrives on each of the front's loopback connections to civetweb: the front
// registers the real peer under the connection's source port before it connects, civetweb's
// handler looks it up (basic auth's per-peer budget, logs). A connection to civetweb that is
// not the front's (anyone on the host can reach 127.0.0.1) finds nothing and is 127.0.0.1.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace connwatch {

class PeerByPort {
 public:
  void Add(uint16_t port, std::string peer) {
    std::lock_guard<std::mutex> lock(mutex_);
    peers_[port] = std::move(peer);
  }
  void Remove(uint16_t port) {
    std::lock_guard<std::mutex> lock(mutex_);
    peers_.erase(port);
  }
  // "" when the port is not the front's.
  std::string Find(uint16_t port) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = peers_.find(port);
    return found == peers_.end() ? "" : found->second;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<uint16_t, std::string> peers_;
};

}  // namespace connwatch
