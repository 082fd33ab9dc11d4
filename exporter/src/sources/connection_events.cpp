#include "sources/connection_events.h"

#include <libmnl/libmnl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <new>
#include <system_error>

#include "base/clock.h"
#include "base/log.h"
#include "base/read_file.h"
#include "sources/bpf_events.h"

namespace connwatch {
namespace {

// How often the thread reads: the eBPF ring buffer is written without wakeups (a wakeup per
// record tripled the cost of a connect/close loop), so it is polled on this timer. 100 ms of
// 20,000 closes a second is ~2 MB of a 16 MiB ring.
constexpr int kReadEveryMs = 100;

uint64_t OwnNetnsInode(const std::string& procfs) {
  struct stat info;
  return stat((procfs + "/thread-self/ns/net").c_str(), &info) == 0
             ? static_cast<uint64_t>(info.st_ino)
             : 0;
}

}  // namespace

bool ParseEventsMode(std::string_view text, EventsMode& mode) {
  if (text == "auto")
    mode = EventsMode::kAuto;
  else if (text == "ebpf")
    mode = EventsMode::kEbpf;
  else if (text == "sock_diag")
    mode = EventsMode::kSockDiag;
  else if (text == "off")
    mode = EventsMode::kOff;
  else
    return false;
  return true;
}

const char* EventSourceName(EventSource source) {
  switch (source) {
    case EventSource::kEbpf:
      return "ebpf";
    case EventSource::kSockDiag:
      return "sock_diag";
    case EventSource::kOff:
      break;
  }
  return "off";
}

ConnectionEvents::ConnectionEvents(EventsMode mode, std::string procfs)
    : procfs_(std::move(procfs)), own_inode_(OwnNetnsInode(procfs_)) {
  if (mode == EventsMode::kOff) {
    Log(LogLevel::kInfo, "connection events off: connections are seen only in samples");
    return;
  }
  std::string why_not_ebpf;
  if (mode == EventsMode::kAuto || mode == EventsMode::kEbpf) {
    bpf_ = BpfEvents::Open(why_not_ebpf);
    if (bpf_) source_ = EventSource::kEbpf;
  }
  if (!bpf_) {
    source_ = EventSource::kSockDiag;
    SubscribeHere(own_inode_);
    if (subscribers_.empty()) source_ = EventSource::kOff;
  }
  LogLevel level = source_ == EventSource::kOff || (mode == EventsMode::kEbpf && !bpf_)
                       ? LogLevel::kWarn
                       : LogLevel::kInfo;
  if (why_not_ebpf.empty()) {
    Log(level, "connection events", {{"source", EventSourceName(source_)}});
  } else {
    Log(level, "connection events", {{"source", EventSourceName(source_)}, {"ebpf", why_not_ebpf}});
  }
  if (source_ == EventSource::kOff) return;
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  // No thread means no memory or tasks left (RLIMIT_AS, RLIMIT_NPROC): serve fails as a
  // whole, with one line, as when any other of its threads cannot start.
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (...) {
    close(stop_fd_);
    throw;
  }
}

ConnectionEvents::~ConnectionEvents() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof(one)) < 0) {
      // An eventfd write fails only on overflow; the thread still sees its timer.
    }
    thread_.join();
  }
  if (stop_fd_ >= 0) close(stop_fd_);
}

void ConnectionEvents::SubscribeHere(uint64_t netns_inode) {
  if (source_ != EventSource::kSockDiag || netns_inode == 0) return;
  std::string error;
  MnlSocketPtr socket = OpenDestroySubscriber(error);
  if (!socket) {
    Log(LogLevel::kWarn, "cannot subscribe to socket destroy notifications",
        {{"netns", std::to_string(netns_inode)}, {"err", error}});
    return;
  }
  uint32_t port_id = mnl_socket_get_portid(socket.get());
  std::lock_guard<std::mutex> lock(subscribers_mutex_);
  subscribers_[netns_inode] = {std::move(socket), port_id};
}

void ConnectionEvents::Unsubscribe(uint64_t netns_inode) {
  std::lock_guard<std::mutex> lock(subscribers_mutex_);
  subscribers_.erase(netns_inode);
}

void ConnectionEvents::ReadSubscribers(std::vector<ConnectionEvent>& batch) {
  std::lock_guard<std::mutex> lock(subscribers_mutex_);
  double now = BootClockSeconds();
  for (auto& [inode, subscriber] : subscribers_) {
    ReadDestroyNotifications(*subscriber.socket, inode, now, batch, destroy_stats_);
  }
}

void ConnectionEvents::Enqueue(std::vector<ConnectionEvent>& batch,
                               std::vector<InboundProbe>& probes) {
  if (batch.empty() && probes.empty()) return;
  std::lock_guard<std::mutex> lock(queue_mutex_);
  size_t room = kMaxQueuedEvents > queued_ ? kMaxQueuedEvents - queued_ : 0;
  size_t taken = 0;
  try {
    for (; taken < std::min(room, batch.size()); ++taken) {
      if (queue_.empty() || queue_.back().size() >= kEventsPerBlock) queue_.emplace_back();
      queue_.back().push_back(std::move(batch[taken]));
    }
  } catch (const std::bad_alloc&) {
    // No memory for more: what is not queued is lost, and counted.
  }
  queued_ += taken;
  overflowed_ += batch.size() - taken;
  batch.clear();

  size_t probe_room = kMaxQueuedProbes > probes_.size() ? kMaxQueuedProbes - probes_.size() : 0;
  size_t probes_taken = 0;
  try {
    for (; probes_taken < std::min(probe_room, probes.size()); ++probes_taken) {
      probes_.push_back(probes[probes_taken]);
    }
  } catch (const std::bad_alloc&) {
    // As above.
  }
  overflowed_ += probes.size() - probes_taken;
  probes.clear();
}

void ConnectionEvents::Run() {
  std::vector<ConnectionEvent> batch;
  std::vector<InboundProbe> probes;
  while (true) {
    pollfd stop{stop_fd_, POLLIN, 0};
    // The destroy subscribers are read on the same timer: at 20,000 closes a second their
    // 8 MiB buffers hold 0.4 s, and a wakeup per notification would cost more than it saves.
    if (poll(&stop, 1, kReadEveryMs) > 0) return;
    try {
      if (bpf_) bpf_->Drain(batch, &probes);
      if (source_ == EventSource::kSockDiag) ReadSubscribers(batch);
    } catch (const std::bad_alloc&) {
      // No memory for the records read (a tight RLIMIT_AS, an exhausted host): an exception
      // out of this thread would abort the exporter. What was read is dropped and counted,
      // with the record that found no room; the rest stays in the kernel for the next read.
      std::lock_guard<std::mutex> lock(queue_mutex_);
      overflowed_ += batch.size() + probes.size() + 1;
      batch.clear();
      batch.shrink_to_fit();
      probes.clear();
      probes.shrink_to_fit();
    }
    Enqueue(batch, probes);
  }
}

void ConnectionEvents::TakeBlocks(EventBlocks& out) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  for (std::vector<ConnectionEvent>& block : queue_) out.push_back(std::move(block));
  queue_.clear();
  queued_ = 0;
}

void ConnectionEvents::Take(std::vector<ConnectionEvent>& out) {
  EventBlocks blocks;
  TakeBlocks(blocks);
  for (std::vector<ConnectionEvent>& block : blocks) {
    out.insert(out.end(), std::make_move_iterator(block.begin()),
               std::make_move_iterator(block.end()));
  }
}

void ConnectionEvents::TakeProbes(std::vector<InboundProbe>& out) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  if (out.empty()) {
    out.swap(probes_);
  } else {
    out.insert(out.end(), probes_.begin(), probes_.end());
  }
  probes_.clear();
}

// The kernel counts what it could not deliver to a netlink socket in sk_drops, which
// /proc/net/netlink prints per socket ("Drops", by port id): the exact loss, where ENOBUFS
// only says that some were lost. Only the own namespace's table is at hand.
uint64_t ConnectionEvents::OwnSubscriberDrops() const {
  std::string text;
  // A line per netlink socket of the namespace, ~100 bytes each.
  if (ReadFileCapped(procfs_ + "/net/netlink", 4u << 20, text) != 0) return 0;
  uint32_t own_port = 0;
  {
    auto* self = const_cast<ConnectionEvents*>(this);
    std::lock_guard<std::mutex> lock(self->subscribers_mutex_);
    auto it = subscribers_.find(own_inode_);
    if (it == subscribers_.end()) return 0;
    own_port = it->second.port_id;
  }
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    unsigned long long sk = 0, drops = 0;
    int protocol = 0;
    unsigned port = 0, groups = 0, rmem = 0, wmem = 0, dump = 0, locks = 0;
    if (std::sscanf(line.c_str(), "%llx %d %u %x %u %u %u %u %llu", &sk, &protocol, &port, &groups,
                    &rmem, &wmem, &dump, &locks, &drops) == 9 &&
        protocol == NETLINK_SOCK_DIAG && port == own_port) {
      return drops;
    }
  }
  return 0;
}

uint64_t ConnectionEvents::lost() const {
  uint64_t lost = 0;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    lost += overflowed_;
  }
  if (bpf_) lost += bpf_->lost();
  if (source_ == EventSource::kSockDiag) lost += OwnSubscriberDrops();
  return lost;
}

}  // namespace connwatch
