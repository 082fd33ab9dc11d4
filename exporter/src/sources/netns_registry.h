// Every network namespace of the host other than connwatch's own, found each sample and read
// without switching the sampler's namespace.
//
// Found: the ns/net of every process under procfs (one stat each) and the namespaces pinned
// without processes under the rootfs (/run/netns for `ip netns`, /run/docker/netns).
// Read: with CAP_SYS_ADMIN, through a sock_diag socket that a short-lived thread creates
// inside the namespace (setns in, socket, setns back) and that later samples reuse from any
// thread; else through /proc/<pid>/net/{tcp,tcp6,udp,udp6} of one process inside. Either way
// the namespace's sockstat is read first and decides how much TCP to dump (sources/netns.h).
// Released: a namespace with no process and no pin for two samples in a row loses its
// socket, which would otherwise keep the namespace alive.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model.h"
#include "sources/netlink_socket.h"
#include "sources/netns.h"
#include "sources/proc_net.h"
#include "sources/sock_diag.h"

namespace connwatch {

// connwatch_netns_errors_total{kind}.
enum class NetnsError : uint8_t {
  kOpen,           // its ns/net (or pin) could not be opened or was another namespace by then
  kSetns,          // setns() refused (no CAP_SYS_ADMIN): read through procfs instead
  kSocket,         // the sock_diag socket could not be made inside it
  kDump,           // a sock_diag dump failed (the socket is made again next sample)
  kProcfs,         // /proc/<pid>/net of its process could not be read
  kNoMember,       // pinned, no process inside, and no socket of its own: unreadable
  kNotANamespace,  // a file under a pin directory that is no namespace
};
inline constexpr size_t kNetnsErrorKinds = 7;
const char* NetnsErrorName(NetnsError error);

class NetnsRegistry {
 public:
  struct Options {
    std::string procfs = "/proc";
    std::string rootfs = "/";
    // false: never setns (tests of the procfs path); setns also fails without CAP_SYS_ADMIN.
    bool use_setns = true;
    // Every this many samples a namespace's TCP table is read in full even when its counters
    // say nothing moved (CanReuseConnections): what they miss is cosmetic (an ESTABLISHED
    // socket turned CLOSE_WAIT, an accepted socket's inode), and a full read of a namespace
    // walks the kernel's whole TCP hash.
    uint32_t full_dump_every = 120;
    // Ask for tcp_info (Socket::bytes_*) in the TCP dumps. Reused connections keep the bytes
    // of the read they come from.
    bool tcp_info = false;
    // Called from inside each namespace as it is opened (on the opener thread, with the
    // namespace entered), and when a namespace is released: the sock_diag destroy
    // subscribers of sources/connection_events.h live and end with the namespace.
    std::function<void(uint64_t inode)> opened_inside;
    std::function<void(uint64_t inode)> released;
  };

  NetnsRegistry();
  ~NetnsRegistry();
  NetnsRegistry(const NetnsRegistry&) = delete;
  NetnsRegistry& operator=(const NetnsRegistry&) = delete;

  // One sample: finds the namespaces, opens what is new, releases what is gone, and appends
  // the sockets of every namespace but connwatch's own to `out`, each with `netns` its index
  // in `namespaces` ([0], connwatch's own, is filled in too). False when connwatch's own
  // namespace could not be told (then nothing is added).
  bool Sample(const Options& options, std::vector<NetworkNamespace>& namespaces,
              std::vector<Socket>& out, SockDiagStats& diag_stats, ProcNetStats& proc_stats);

  // Whether a socket of the last sample's namespace `netns` still exists (LookUpSockDiag in
  // that namespace); kUnknown for namespaces read through procfs.
  SocketLookup LookUp(const Socket& socket, uint64_t& inode);

  // Since start-up, by kind.
  const std::array<uint64_t, kNetnsErrorKinds>& errors() const { return errors_; }
  // Namespaces held open now (each keeps its namespace alive).
  size_t held() const { return entries_.size(); }
  // Reads since start that reused a namespace's last connections instead of walking the
  // kernel's TCP hash (the counters said nothing moved).
  uint64_t reused_dumps() const { return reused_dumps_; }

 private:
  struct Entry;
  struct Found;
  std::map<uint64_t, Found> Discover(const Options& options);
  void Update(const Options& options, const std::map<uint64_t, Found>& found);
  void OpenSockets(const Options& options, std::vector<Entry*>& fresh);
  NetnsMode Read(const Options& options, Entry& entry, uint32_t index, std::vector<Socket>& out,
                 SockDiagStats& diag_stats, ProcNetStats& proc_stats);
  bool DumpInside(const Options& options, Entry& entry, std::vector<Socket>& out,
                  SockDiagStats& stats, std::string& error);
  static uint32_t FullReadDone(Entry& entry, uint32_t full_every);
  bool ReadThroughProcfs(const Options& options, Entry& entry, const std::string& member_dir,
                         std::vector<Socket>& out, ProcNetStats& stats);
  void Count(NetnsError error) { ++errors_[static_cast<size_t>(error)]; }

  std::map<uint64_t, Entry> entries_;  // by ns/net inode
  // The last sample's namespace index -> entry, for LookUp.
  std::vector<Entry*> by_index_;
  uint64_t own_inode_ = 0;
  bool said_no_thread_ = false;
  uint64_t reused_dumps_ = 0;
  std::array<uint64_t, kNetnsErrorKinds> errors_ = {};
};

}  // namespace connwatch
