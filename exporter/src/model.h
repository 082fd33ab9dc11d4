// The data model shared by every source, the classifier, the metrics and the CLI.
// Sources fill Socket and Process; the snapshot builder joins them. Addresses and
// transports are the network vocabulary (net/ip_address.h).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "net/ip_address.h"

namespace connwatch {

// Kernel socket states (include/net/tcp_states.h). UDP sockets use kEstablished when
// connected and kClose when not, in sock_diag and /proc/net/udp alike.
// 0 is no state; 1-12 in the kernel's order: established, syn_sent, syn_recv, fin_wait1,
// fin_wait2, time_wait, close, close_wait, last_ack, listen, closing, new_syn_recv.
enum class SocketState : uint8_t {
  kUnknown,
  kEstablished,
  kSynSent,
  kSynRecv,
  kFinWait1,
  kFinWait2,
  kTimeWait,
  kClose,
  kCloseWait,
  kLastAck,
  kListen,
  kClosing,
  kNewSynRecv,
};
static_assert(static_cast<int>(SocketState::kListen) == 10 &&
              static_cast<int>(SocketState::kNewSynRecv) == 12);
inline constexpr int kMaxSocketState = 12;

struct Socket {
  Transport transport = Transport::kTcp;
  Family family = Family::kIpv4;
  SocketState state = SocketState::kUnknown;
  IpAddress local;
  uint16_t local_port = 0;
  IpAddress remote;
  uint16_t remote_port = 0;
  // 0 for sockets no file refers to: TIME_WAIT, request sockets, orphans.
  uint64_t inode = 0;
  uint32_t uid = 0;
  // sock_diag's socket cookie, unique per boot; 0 when the source has none (/proc/net).
  uint64_t cookie = 0;
  // The network namespace the socket lives in, as an index into Snapshot::namespaces: 0 is
  // connwatch's own (and every socket of a snapshot that knows no other).
  uint32_t netns = 0;
  // The cgroup v2 id of the socket's creator (INET_DIAG_CGROUP_ID, which sock_diag sends
  // unasked); 0 when the source has none (/proc/net, kernels without cgroup2).
  uint64_t cgroup_id = 0;
  // tcp_info's bytes_acked and bytes_received (INET_DIAG_INFO), when the dump asked for them
  // (TCP only: the kernel keeps no byte counters for UDP sockets). Each counts the SYN or
  // FIN as one byte; TIME_WAIT and request sockets never carry them.
  bool has_bytes = false;
  uint64_t bytes_acked = 0;
  uint64_t bytes_received = 0;

  bool operator==(const Socket&) const = default;
};

struct Process {
  pid_t pid = 0;
  // Basename of the executable; comm when the exe link is unreadable (kernel threads,
  // other users' processes without CAP_SYS_PTRACE). Attacker-controlled bytes.
  std::string name;
  std::string comm;
  std::string exe;                // readlink of /proc/<pid>/exe, "" when unreadable
  bool exe_deleted = false;       // the link ended in " (deleted)" (stripped from exe)
  uint32_t uid = 0;               // real uid from /proc/<pid>/status
  std::string user;               // uid resolved through the passwd database, else the number
  double start_time_seconds = 0;  // Unix time the process started (stat field 22 + btime)
  // Seconds after boot the process started (stat field 22 alone): on the boot clock, so
  // comparable with CLOCK_BOOTTIME whatever the wall clock does.
  double start_since_boot_seconds = 0;
  std::string cmdline;  // NULs as spaces, truncated
  pid_t ppid = 0;       // stat field 4 when read; the parent may have exited since
  // argv[0] as the process left it (NUL-separated first field of /proc/<pid>/cmdline); ""
  // when empty or cut off by the read cap. Policies match its basename too: it is the name
  // the process was started by (Debian's redis-server is a symlink to redis-check-rdb).
  std::string argv0;
  // The inode of /proc/<pid>/ns/net: which network namespace the process lives in; 0 when
  // unreadable (read with the process).
  uint64_t netns_inode = 0;
  // The process's cgroup v2 path (the "0::" line of /proc/<pid>/cgroup), "" when unread.
  std::string cgroup;
};

// How the sockets of one network namespace were read (connwatch_netns{mode}).
enum class NetnsMode : uint8_t {
  kOwn,       // connwatch's own namespace: the host path, exactly as without namespaces
  kSockDiag,  // a sock_diag socket created inside it (setns, CAP_SYS_ADMIN)
  kProcfs,    // /proc/<pid>/net/{tcp,tcp6,udp,udp6} of one member process
  kFailed,    // neither worked this sample
};

struct NetworkNamespace {
  uint64_t inode = 0;  // of ns/net; what identifies it while it lives
  // The `netns` label value: "" for connwatch's own, else the pinned name (`ip netns add
  // NAME`), else the first 12 characters of a container id of one of its processes, else
  // "inode:<N>".
  std::string name;
  NetnsMode mode = NetnsMode::kOwn;
  pid_t member = 0;  // one process inside it; 0 when only pinned
};

// Which container, and which Kubernetes pod, a socket or process belongs to, resolved from
// the cgroup path and the node's files (sources/containers.h). Every field empty: the host
// (host services, sessions, anything outside a container).
struct Workload {
  std::string runtime;       // "containerd", "cri-o", "docker", "podman"; "" on the host
  std::string container_id;  // as in the cgroup path (usually 64 hex digits)
  // Kubernetes names (cAdvisor's label convention); "" for containers outside Kubernetes
  // and when no metadata file names them.
  std::string k8s_namespace;
  std::string pod;
  std::string container;
  std::string pod_uid;  // never a label of a high-volume family

  bool IsHost() const { return container_id.empty() && pod_uid.empty(); }
  bool operator==(const Workload&) const = default;
};

// How old a connection is and how connwatch knows (tracking/connection_ages.h).
enum class AgeSource : uint8_t { kConntrack, kFirstSeen, kProcessStart };

struct ConnectionAge {
  double age_seconds = 0;
  AgeSource source = AgeSource::kFirstSeen;
  // kProcessStart only: how long connwatch itself has seen the connection open, what is
  // certain of an age that is otherwise an upper bound (CertainAgeSeconds).
  double watched_seconds = 0;
};

}  // namespace connwatch
