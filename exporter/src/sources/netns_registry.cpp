#include "sources/netns_registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <thread>

#include "base/log.h"
#include "base/read_file.h"
#include "sources/cgroup_path.h"
#include "sources/netns.h"

namespace connwatch {
namespace {

// statfs(2)'s f_type of nsfs, the file system of /proc/<pid>/ns/* and of their bind mounts.
constexpr long kNsfsMagic = 0x6e736673;
// Where namespaces are pinned without processes, under --path.rootfs: `ip netns add` and CNI
// plugins (/run/netns), Docker (/run/docker/netns; /var/run is a link to /run on the hosts
// we know, but under a rootfs mounted elsewhere an absolute link would point outside it).
constexpr const char* kPinDirectories[] = {"run/netns", "var/run/netns", "run/docker/netns",
                                           "var/run/docker/netns"};
// Samples a namespace stays held after its last process and pin are gone.
constexpr uint32_t kReleaseAfterMissedSamples = 2;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

uint64_t InodeOf(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 ? static_cast<uint64_t>(info.st_ino) : 0;
}

// The whole of a small proc file read again from its start; "" when unreadable.
std::string ReadAgain(const Fd& fd) {
  std::string text;
  if (!fd) return text;
  char buffer[4096];
  off_t offset = 0;
  for (;;) {
    ssize_t n = pread(fd.get(), buffer, sizeof(buffer), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || text.size() > kMaxSmallProcFileBytes) break;
    text.append(buffer, static_cast<size_t>(n));
    offset += n;
  }
  return text;
}

std::string ReadSmall(const std::string& path) {
  std::string text;
  return ReadFileCapped(path, kMaxSmallProcFileBytes, text) == 0 ? text : std::string();
}

bool IsPid(const char* name) {
  if (*name == '\0') return false;
  for (const char* c = name; *c; ++c) {
    if (*c < '0' || *c > '9') return false;
  }
  return true;
}

}  // namespace

const char* NetnsErrorName(NetnsError error) {
  constexpr const char* kNames[] = {"open",   "setns",     "socket",         "dump",
                                    "procfs", "no_member", "not_a_namespace"};
  static_assert(std::size(kNames) == kNetnsErrorKinds);
  return kNames[static_cast<size_t>(error)];
}

struct NetnsRegistry::Found {
  pid_t member = 0;  // the lowest pid inside; 0 when only pinned
  std::string pin_name;
  std::string pin_path;
};

struct NetnsRegistry::Entry {
  uint64_t inode = 0;
  std::string name;
  Found found;
  MnlSocketPtr socket;  // made inside the namespace; null until made, or after a failure
  Fd sockstat, sockstat6, snmp;
  // The last read's TCP counters and the sockets they stood for (sources/netns.h), and how
  // many samples reused them since a read of every state.
  std::optional<TcpSignature> last_signature;
  std::vector<Socket> last_connections;
  uint32_t since_full = 0;
  bool read_once = false;
  bool setns_refused = false;  // never tried again: capabilities do not come back
  uint32_t missed = 0;         // samples in a row it was not found in
};

NetnsRegistry::NetnsRegistry() = default;
NetnsRegistry::~NetnsRegistry() = default;

std::map<uint64_t, NetnsRegistry::Found> NetnsRegistry::Discover(const Options& options) {
  std::map<uint64_t, Found> found;
  if (DIR* dir = opendir(options.procfs.c_str())) {
    while (dirent* entry = readdir(dir)) {
      if (!IsPid(entry->d_name)) continue;
      pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
      uint64_t inode = InodeOf(options.procfs + "/" + entry->d_name + "/ns/net");
      if (inode == 0 || inode == own_inode_) continue;  // exited, a kernel thread's, or ours
      Found& netns = found[inode];
      if (netns.member == 0 || pid < netns.member) netns.member = pid;
    }
    closedir(dir);
  }
  std::string root = options.rootfs == "/" ? "" : options.rootfs;
  for (const char* directory : kPinDirectories) {
    std::string path = root + "/" + directory;
    DIR* dir = opendir(path.c_str());
    if (!dir) continue;
    while (dirent* entry = readdir(dir)) {
      std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      std::string pin = path + "/" + entry->d_name;
      struct statfs fs;
      uint64_t inode = InodeOf(pin);
      if (!IsPinName(name) || statfs(pin.c_str(), &fs) != 0 || fs.f_type != kNsfsMagic ||
          inode == 0) {
        Count(NetnsError::kNotANamespace);
        continue;
      }
      if (inode == own_inode_) continue;
      Found& netns = found[inode];
      if (netns.pin_name.empty()) {
        netns.pin_name = std::string(name);
        netns.pin_path = pin;
      }
    }
    closedir(dir);
  }
  return found;
}

// Makes each fresh namespace's sock_diag socket and opens its sockstat files, from inside
// it, on a thread of its own: setns() changes only the calling thread, and a thread that
// failed to come back ends here instead of sampling from the wrong namespace.
void NetnsRegistry::OpenSockets(const Options& options, std::vector<Entry*>& fresh) {
  auto open_inside = [&] {
    Fd home(open((options.procfs + "/thread-self/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
    if (!home) return;
    for (Entry* entry : fresh) {
      const Found& found = entry->found;
      std::string path = !found.pin_path.empty()
                             ? found.pin_path
                             : options.procfs + "/" + std::to_string(found.member) + "/ns/net";
      Fd ns(open(path.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat info;
      // A pid reused since the stat, or a pin replaced, is another namespace by now.
      if (!ns || fstat(ns.get(), &info) != 0 ||
          static_cast<uint64_t>(info.st_ino) != entry->inode) {
        Count(NetnsError::kOpen);
        continue;
      }
      if (setns(ns.get(), CLONE_NEWNET) != 0) {
        Count(NetnsError::kSetns);
        entry->setns_refused = true;
        continue;
      }
      std::string error;
      entry->socket = OpenNetlinkSocket(NETLINK_SOCK_DIAG, kNetlinkReceiveTimeoutSeconds, error);
      if (!entry->socket) Count(NetnsError::kSocket);
      std::string net = options.procfs + "/thread-self/net/";
      entry->sockstat = Fd(open((net + "sockstat").c_str(), O_RDONLY | O_CLOEXEC));
      entry->sockstat6 = Fd(open((net + "sockstat6").c_str(), O_RDONLY | O_CLOEXEC));
      entry->snmp = Fd(open((net + "snmp").c_str(), O_RDONLY | O_CLOEXEC));
      if (options.opened_inside) options.opened_inside(entry->inode);
      if (setns(home.get(), CLONE_NEWNET) != 0) {
        Log(LogLevel::kError, "setns back to connwatch's namespace failed",
            {{"err", ErrnoText(errno)}});
        return;
      }
    }
  };
  try {
    std::thread(open_inside).join();
  } catch (const std::system_error& error) {
    // No thread to be had (a tight RLIMIT_NPROC or address space): read through procfs
    // this sample, and try again next.
    // Counted, and said once: every sample retries, and the metric shows whether it lasts.
    for (size_t i = 0; i < fresh.size(); ++i) Count(NetnsError::kSocket);
    if (!said_no_thread_) {
      Log(LogLevel::kInfo, "no thread to open network namespaces with; read through procfs",
          {{"err", error.what()}});
      said_no_thread_ = true;
    }
  }
}

void NetnsRegistry::Update(const Options& options, const std::map<uint64_t, Found>& found) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (found.count(it->first) == 0 && ++it->second.missed >= kReleaseAfterMissedSamples) {
      if (options.released) options.released(it->first);
      it = entries_.erase(it);  // closes its socket: the namespace may go
    } else {
      ++it;
    }
  }
  std::vector<Entry*> fresh;
  for (const auto& [inode, netns] : found) {
    auto [it, inserted] = entries_.try_emplace(inode);
    Entry& entry = it->second;
    entry.missed = 0;
    entry.found = netns;
    if (inserted) {
      entry.inode = inode;
      std::string container_id;
      if (netns.member != 0) {
        std::string cgroup =
            ReadSmall(options.procfs + "/" + std::to_string(netns.member) + "/cgroup");
        container_id = ParseCgroupWorkload(ParseProcCgroup(cgroup)).container_id;
      }
      entry.name = NetnsLabel(netns.pin_name, container_id, inode);
    }
    if (!entry.socket && !entry.setns_refused && options.use_setns) fresh.push_back(&entry);
  }
  if (!fresh.empty()) OpenSockets(options, fresh);
}

namespace {

// The non-listening TCP sockets of out[from...]: what a later sample may reuse.
std::vector<Socket> ConnectionsIn(const std::vector<Socket>& out, size_t from) {
  std::vector<Socket> connections;
  for (size_t i = from; i < out.size(); ++i) {
    if (out[i].transport == Transport::kTcp && out[i].state != SocketState::kListen) {
      connections.push_back(out[i]);
    }
  }
  return connections;
}

std::optional<TcpSignature> SignatureOf(const std::optional<SockstatCounts>& counts,
                                        const std::string& snmp) {
  std::optional<TcpCounters> tcp = ParseSnmpTcp(snmp);
  if (!counts || !tcp) return std::nullopt;
  return TcpSignature{*counts, *tcp};
}

}  // namespace

// Samples since a full read, as counted from now on. The first full read of each namespace
// counts as an older one by an amount of its own, so that namespaces found together (all of
// them at start) do not all read in full in the same later sample.
uint32_t NetnsRegistry::FullReadDone(Entry& entry, uint32_t full_every) {
  if (entry.read_once || full_every <= 2) return 0;
  entry.read_once = true;
  return static_cast<uint32_t>(entry.inode % (full_every - 1));  // the next one still reuses
}

// What the namespace's counters allow: no TCP dump at all, listeners only (and the last
// connections again when nothing moved), or every state.
bool NetnsRegistry::DumpInside(const Options& options, Entry& entry, std::vector<Socket>& out,
                               SockDiagStats& stats, std::string& error) {
  const size_t start = out.size();
  std::optional<SockstatCounts> counts =
      ParseSockstat(ReadAgain(entry.sockstat), ReadAgain(entry.sockstat6));
  std::optional<TcpSignature> signature = SignatureOf(counts, ReadAgain(entry.snmp));
  TcpDumpPlan plan = PlanTcpDump(counts);
  uint32_t states = plan == TcpDumpPlan::kNone             ? 0
                    : plan == TcpDumpPlan::kListenersFirst ? kListenTcpState
                                                           : kAllTcpStates;
  if (!DumpSockDiagOn(*entry.socket, states, out, stats, error, options.tcp_info)) return false;
  bool reused = false;
  if (states == kListenTcpState) {
    if (CanReuseConnections(entry.last_signature, signature, entry.since_full,
                            options.full_dump_every)) {
      out.insert(out.end(), entry.last_connections.begin(), entry.last_connections.end());
      reused = true;
    } else if (!ListenersAreAll(*counts, CountTcpListeners(out, start))) {
      out.resize(start);
      if (!DumpSockDiagOn(*entry.socket, kAllTcpStates, out, stats, error, options.tcp_info)) {
        return false;
      }
    }
  }
  if (reused) {
    ++entry.since_full;
    ++reused_dumps_;
  } else {
    entry.last_connections = ConnectionsIn(out, start);
    entry.since_full = FullReadDone(entry, options.full_dump_every);
  }
  entry.last_signature = signature;
  return true;
}

// The same through /proc/<pid>/net of one process inside, which has no listeners-only read:
// when nothing moved, the last TCP sockets stand for this sample's, listeners included.
bool NetnsRegistry::ReadThroughProcfs(const Options& options, Entry& entry,
                                      const std::string& member_dir, std::vector<Socket>& out,
                                      ProcNetStats& stats) {
  const size_t start = out.size();
  std::optional<SockstatCounts> counts = ParseSockstat(ReadSmall(member_dir + "/net/sockstat"),
                                                       ReadSmall(member_dir + "/net/sockstat6"));
  std::optional<TcpSignature> signature = SignatureOf(counts, ReadSmall(member_dir + "/net/snmp"));
  bool reuse = PlanTcpDump(counts) != TcpDumpPlan::kNone &&
               CanReuseConnections(entry.last_signature, signature, entry.since_full,
                                   options.full_dump_every);
  std::string error;
  bool tcp = PlanTcpDump(counts) != TcpDumpPlan::kNone && !reuse;
  if (!ReadProcNetSockets(member_dir, out, stats, error, tcp)) {
    out.resize(start);
    return false;
  }
  if (reuse) {
    out.insert(out.end(), entry.last_connections.begin(), entry.last_connections.end());
    ++entry.since_full;
    ++reused_dumps_;
  } else {
    entry.last_connections.clear();
    for (size_t i = start; i < out.size(); ++i) {
      if (out[i].transport == Transport::kTcp) entry.last_connections.push_back(out[i]);
    }
    entry.since_full = FullReadDone(entry, options.full_dump_every);
  }
  entry.last_signature = signature;
  return true;
}

NetnsMode NetnsRegistry::Read(const Options& options, Entry& entry, uint32_t index,
                              std::vector<Socket>& out, SockDiagStats& diag_stats,
                              ProcNetStats& proc_stats) {
  const size_t start = out.size();
  auto finish = [&](NetnsMode mode) {
    for (size_t i = start; i < out.size(); ++i) out[i].netns = index;
    return mode;
  };
  if (entry.socket) {
    std::string error;
    if (DumpInside(options, entry, out, diag_stats, error)) return finish(NetnsMode::kSockDiag);
    out.resize(start);
    Count(NetnsError::kDump);
    entry.socket.reset();  // made again next sample
    entry.last_signature.reset();
    Log(LogLevel::kWarn, "sock_diag dump of a namespace failed",
        {{"netns", entry.name}, {"err", error}});
  }
  if (entry.found.member == 0) {
    Count(NetnsError::kNoMember);
    return NetnsMode::kFailed;
  }
  std::string member_dir = options.procfs + "/" + std::to_string(entry.found.member);
  if (!ReadThroughProcfs(options, entry, member_dir, out, proc_stats)) {
    Count(NetnsError::kProcfs);
    entry.last_signature.reset();
    return NetnsMode::kFailed;
  }
  return finish(NetnsMode::kProcfs);
}

bool NetnsRegistry::Sample(const Options& options, std::vector<NetworkNamespace>& namespaces,
                           std::vector<Socket>& out, SockDiagStats& diag_stats,
                           ProcNetStats& proc_stats) {
  by_index_.clear();
  own_inode_ = InodeOf(options.procfs + "/thread-self/ns/net");
  if (own_inode_ == 0) return false;
  namespaces.clear();
  namespaces.push_back({own_inode_, "", NetnsMode::kOwn, 0});
  by_index_.push_back(nullptr);
  Update(options, Discover(options));
  for (auto& [inode, entry] : entries_) {
    if (entry.missed > 0) continue;  // gone this sample, released after the next
    uint32_t index = static_cast<uint32_t>(namespaces.size());
    NetnsMode mode = Read(options, entry, index, out, diag_stats, proc_stats);
    namespaces.push_back({inode, entry.name, mode, entry.found.member});
    by_index_.push_back(&entry);
  }
  return true;
}

SocketLookup NetnsRegistry::LookUp(const Socket& socket, uint64_t& inode) {
  if (socket.netns == 0 || socket.netns >= by_index_.size()) return SocketLookup::kUnknown;
  Entry* entry = by_index_[socket.netns];
  if (entry == nullptr || !entry->socket) return SocketLookup::kUnknown;
  return LookUpSockDiagOn(*entry->socket, socket, inode);
}

}  // namespace connwatch
