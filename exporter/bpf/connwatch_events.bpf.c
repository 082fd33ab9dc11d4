/* connwatch's eBPF event source: one program on the inet_sock_set_state tracepoint (BTF-typed,
 * tp_btf) that remembers who opened each TCP socket and emits one record (connwatch_events.h)
 * into a ring buffer when it closes. On the kernels connwatch targets only tp_btf and raw_tp
 * attach (kprobes do not attach, fentry is refused, the perf-event tracepoint needs tracefs),
 * and one failing program fails the whole object, so this is the only program.
 *
 * The transitions it acts on (include/net/tcp_states.h; the tracepoint fires in tcp_set_state
 * and inet_sk_set_state):
 *   CLOSE -> SYN_SENT        inside connect(), in the connecting task: its tgid, comm, cgroup
 *   SYN_RECV -> ESTABLISHED  a passive open (softirq: the owner is the listener's, which the
 *                            exporter knows; the current task is not taken)
 *   any -> CLOSE             one record, except from LISTEN (a listener) and from CLOSE
 * Every other transition returns at once: the tracepoint fires about five times per socket
 * and doing nothing on most of them is what keeps the cost low. Whether a connect
 * established needs no transition of its own: a connect that never did closes from SYN_SENT
 * (refused, reset, timed out), every other one from a state after ESTABLISHED.
 *
 * Needs Linux 5.12 or newer (bpf_get_socket_cookie in tracing programs; BTF tracepoints,
 * ring buffers and bpf_ktime_get_boot_ns came earlier). The license string below is what
 * the kernel asks of a program before it reads kernel structures through BTF ("Cannot
 * access kernel 'struct sock' from non-GPL compatible program") or calls
 * bpf_probe_read_kernel. */

// clang-format off
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "connwatch_events.h"
// clang-format on

char LICENSE[] SEC("license") = "GPL";

#define FLAG_OUTBOUND 1
#define FLAG_INBOUND 2

struct open_info {
  __u64 start_boot_ns;
  __u64 cgroup_id;
  __u32 tgid;
  __u32 flags;
  char comm[CONNWATCH_COMM_LEN];
};

/* Sockets seen opening, by cookie, until they close. LRU: a socket whose close is never seen
 * cannot leak an entry, and on a host with more open connections than this the oldest lose
 * their attribution (their records say direction unknown), never the new ones. 65536 entries
 * are 7 MB of kernel memory. Socket-local storage (BPF_MAP_TYPE_SK_STORAGE) has no such limit
 * and loads here too, but cost 183 ns a run against 125 for this map in a connect/close loop
 * (it allocates and frees per socket). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct open_info);
} opens SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, CONNWATCH_RING_BYTES);
} events SEC(".maps");

/* Records that found the ring full: the exporter reads it through the skeleton's .bss. */
__u64 lost_records = 0;

static void remember_connect(__u64 cookie) {
  struct open_info info = {};

  info.start_boot_ns = bpf_ktime_get_boot_ns();
  info.cgroup_id = bpf_get_current_cgroup_id();
  info.tgid = bpf_get_current_pid_tgid() >> 32;
  info.flags = FLAG_OUTBOUND;
  bpf_get_current_comm(info.comm, sizeof(info.comm));
  bpf_map_update_elem(&opens, &cookie, &info, BPF_ANY);
}

static void remember_passive_open(__u64 cookie) {
  struct open_info info = {};

  info.start_boot_ns = bpf_ktime_get_boot_ns();
  info.flags = FLAG_INBOUND;
  /* NOEXIST: a simultaneous open (SYN_SENT -> SYN_RECV -> ESTABLISHED) keeps its connect. */
  bpf_map_update_elem(&opens, &cookie, &info, BPF_NOEXIST);
}

/* The 4-tuple at close, from inet_sock and sock_common: skc_num is already 0 here, and at
 * CLOSE -> SYN_SENT the local port is not chosen yet, so close is the one place to read it.
 * struct sock's own fields are read directly: the tracepoint hands the program a BTF pointer
 * the verifier lets it dereference, cheaper than a helper call. inet_sock and tcp_sock lie
 * beyond struct sock, where that type ends, so they are read with bpf_probe_read_kernel
 * (BPF_CORE_READ); both ways are relocated against the running kernel. */
static void read_tuple(const struct sock *sk, struct connwatch_event *event) {
  const struct inet_sock *inet = (const struct inet_sock *)sk;

  event->family = sk->__sk_common.skc_family;
  event->local_port = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
  event->remote_port = bpf_ntohs(sk->__sk_common.skc_dport);
  if (event->family == AF_INET6) {
    __builtin_memcpy(event->local_addr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
    __builtin_memcpy(event->remote_addr, &sk->__sk_common.skc_v6_daddr, 16);
  } else {
    __be32 local = BPF_CORE_READ(inet, inet_saddr);
    __be32 remote = sk->__sk_common.skc_daddr;

    __builtin_memcpy(event->local_addr, &local, sizeof(local));
    __builtin_memcpy(event->remote_addr, &remote, sizeof(remote));
  }
}

static void emit_close(const struct sock *sk, __u64 cookie, int oldstate) {
  struct open_info *info = bpf_map_lookup_elem(&opens, &cookie);
  const struct tcp_sock *tcp = (const struct tcp_sock *)sk;
  struct connwatch_event *event;
  __u64 pending;

  event = bpf_ringbuf_reserve(&events, sizeof(*event), 0);
  if (!event) {
    __sync_fetch_and_add(&lost_records, 1);
    if (info) bpf_map_delete_elem(&opens, &cookie);
    return;
  }
  __builtin_memset(event, 0, sizeof(*event));
  event->cookie = cookie;
  event->netns_inode = sk->__sk_common.skc_net.net->ns.inum;
  event->end_boot_ns = bpf_ktime_get_boot_ns();
  event->bytes_acked = BPF_CORE_READ(tcp, bytes_acked);
  event->bytes_received = BPF_CORE_READ(tcp, bytes_received);
  event->old_state = oldstate;
  read_tuple(sk, event);
  event->outcome = CONNWATCH_OUTCOME_ESTABLISHED;
  if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
    event->outcome = CONNWATCH_OUTCOME_FAILED;
  event->direction = CONNWATCH_DIRECTION_UNKNOWN;
  if (oldstate == TCP_SYN_RECV) event->direction = CONNWATCH_DIRECTION_INBOUND;
  if (info) {
    event->start_boot_ns = info->start_boot_ns;
    event->cgroup_id = info->cgroup_id;
    event->tgid = info->tgid;
    __builtin_memcpy(event->comm, info->comm, sizeof(event->comm));
    if (info->flags & FLAG_OUTBOUND) event->direction = CONNWATCH_DIRECTION_OUTBOUND;
    if (info->flags & FLAG_INBOUND) event->direction = CONNWATCH_DIRECTION_INBOUND;
    bpf_map_delete_elem(&opens, &cookie);
  }
  pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
  bpf_ringbuf_submit(
      event, pending >= CONNWATCH_RING_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(connwatch_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate) {
  __u64 cookie;

  if (sk->sk_protocol != IPPROTO_TCP) return 0;
  if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
    remember_connect(bpf_get_socket_cookie((void *)sk));
  } else if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV) {
    remember_passive_open(bpf_get_socket_cookie((void *)sk));
  } else if (newstate == TCP_CLOSE && oldstate != TCP_LISTEN && oldstate != TCP_CLOSE) {
    cookie = bpf_get_socket_cookie((void *)sk);
    emit_close(sk, cookie, oldstate);
  }
  return 0;
}
