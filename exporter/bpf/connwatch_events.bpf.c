/* connwatch's eBPF event source, two programs on BTF-typed tracepoints (tp_btf) that write
 * records into one ring buffer (connwatch_events.h):
 *   inet_sock_set_state  a record when a TCP socket opens and another when it closes; the
 *                        exporter joins the two by socket cookie.
 *   tcp_send_reset       a record when a SYN found no socket and the kernel answered it with
 *                        a reset: an inbound connection attempt to a port nobody listens on,
 *                        which makes no socket and so no state change the first could see.
 * On the kernels connwatch targets only tp_btf and raw_tp attach (kprobes do not attach,
 * fentry is refused, the perf-event tracepoint needs tracefs), and one failing program fails
 * the whole object, so both are tp_btf.
 *
 * The transitions inet_sock_set_state acts on (include/net/tcp_states.h; the tracepoint fires
 * in tcp_set_state and inet_sk_set_state):
 *   CLOSE -> SYN_SENT        inside connect(), in the connecting task: its tgid, comm, cgroup
 *   SYN_RECV -> ESTABLISHED  a passive open (softirq: the owner is the listener's, which the
 *                            exporter knows; the current task is not taken)
 *   any -> CLOSE             the close record, except from LISTEN (a listener) and from CLOSE
 * Every other transition returns at once: the tracepoint fires about five times per socket
 * and doing nothing on most of them is what keeps the cost low. Whether a connect
 * established needs no transition of its own: a connect that never did closes from SYN_SENT
 * (refused, reset, timed out), every other one from a state after ESTABLISHED.
 *
 * Why two records and no map: the program used to keep the open record in a hash map by
 * cookie and join it at close. In a loopback connect/close loop the map's update, lookup and
 * delete were half of the program's cost (150 ns a run as kernel.bpf_stats_enabled counts
 * it; socket-local storage was dearer still, 183 ns, as it allocates per socket); a ring
 * record is a reservation in memory that is already mapped. With the join in the exporter
 * it counts 83 ns, of which 39 is what it counts for a program that returns at once.
 *
 * Needs Linux 5.12 or newer (bpf_get_socket_cookie in tracing programs; BTF tracepoints,
 * ring buffers, bpf_skc_to_tcp_sock and bpf_ktime_get_boot_ns came earlier); the probe
 * records need 6.10, where tcp_send_reset began to fire for segments without a socket
 * (before it the program loads and never sees one). The license string below is what the
 * kernel asks of a program before it reads kernel structures through BTF ("Cannot access
 * kernel 'struct sock' from non-GPL compatible program"). */

// clang-format off
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "connwatch_events.h"
// clang-format on

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, CONNWATCH_RING_BYTES);
} events SEC(".maps");

/* Records that found the ring full: the exporter reads it through the skeleton's .bss. */
__u64 lost_records = 0;

/* A full ring loses the record: counted, so the exporter can say how many it never saw. */
static __always_inline void *reserve(__u64 size) {
  void *record = bpf_ringbuf_reserve(&events, size, 0);

  if (!record) __sync_fetch_and_add(&lost_records, 1);
  return record;
}

static void emit_connect(__u64 cookie) {
  struct connwatch_open *open = reserve(sizeof(*open));

  if (!open) return;
  open->cookie = cookie;
  open->cgroup_id = bpf_get_current_cgroup_id();
  open->start_boot_ns = bpf_ktime_get_boot_ns();
  open->tgid = bpf_get_current_pid_tgid() >> 32;
  open->direction = CONNWATCH_DIRECTION_OUTBOUND;
  __builtin_memset(open->reserved, 0, sizeof(open->reserved));
  bpf_get_current_comm(open->comm, sizeof(open->comm)); /* NUL-pads the rest */
  bpf_ringbuf_submit(open, BPF_RB_NO_WAKEUP);
}

static void emit_passive_open(__u64 cookie) {
  struct connwatch_open *open = reserve(sizeof(*open));

  if (!open) return;
  __builtin_memset(open, 0, sizeof(*open));
  open->cookie = cookie;
  open->start_boot_ns = bpf_ktime_get_boot_ns();
  open->direction = CONNWATCH_DIRECTION_INBOUND;
  bpf_ringbuf_submit(open, BPF_RB_NO_WAKEUP);
}

/* The 4-tuple at close, from inet_sock and sock_common: skc_num is already 0 here, and at
 * CLOSE -> SYN_SENT the local port is not chosen yet, so close is the one place to read it.
 * The tracepoint hands the program a BTF pointer to struct sock that the verifier lets it
 * dereference; bpf_skc_to_tcp_sock turns it into one to the tcp_sock around it (where
 * inet_sock and the byte counters lie), so every field is a plain load relocated against
 * the running kernel, with no bpf_probe_read_kernel call per field. */
static void read_tuple(const struct sock *sk, const struct inet_sock *inet,
                       struct connwatch_close *close) {
  close->family = sk->__sk_common.skc_family;
  close->local_port = bpf_ntohs(inet->inet_sport);
  close->remote_port = bpf_ntohs(sk->__sk_common.skc_dport);
  if (close->family == AF_INET6) {
    __builtin_memcpy(close->local_addr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
    __builtin_memcpy(close->remote_addr, &sk->__sk_common.skc_v6_daddr, 16);
  } else {
    __be32 local = inet->inet_saddr;
    __be32 remote = sk->__sk_common.skc_daddr;

    __builtin_memset(close->local_addr, 0, sizeof(close->local_addr));
    __builtin_memset(close->remote_addr, 0, sizeof(close->remote_addr));
    __builtin_memcpy(close->local_addr, &local, sizeof(local));
    __builtin_memcpy(close->remote_addr, &remote, sizeof(remote));
  }
}

static void emit_close(const struct sock *sk, __u64 cookie, int oldstate) {
  const struct tcp_sock *tcp = bpf_skc_to_tcp_sock((void *)sk);
  struct connwatch_close *close;
  __u64 pending;

  if (!tcp) return; /* a TCP socket is always a tcp_sock: the verifier wants the check */
  close = reserve(sizeof(*close));
  if (!close) return;
  close->cookie = cookie;
  close->netns_inode = sk->__sk_common.skc_net.net->ns.inum;
  close->end_boot_ns = bpf_ktime_get_boot_ns();
  close->bytes_acked = tcp->bytes_acked;
  close->bytes_received = tcp->bytes_received;
  read_tuple(sk, &tcp->inet_conn.icsk_inet, close);
  close->outcome = CONNWATCH_OUTCOME_ESTABLISHED;
  if (oldstate == TCP_SYN_SENT || oldstate == TCP_SYN_RECV)
    close->outcome = CONNWATCH_OUTCOME_FAILED;
  close->old_state = oldstate;
  __builtin_memset(close->reserved, 0, sizeof(close->reserved));
  pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
  bpf_ringbuf_submit(
      close, pending >= CONNWATCH_RING_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(connwatch_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate) {
  __u64 cookie;

  if (sk->sk_protocol != IPPROTO_TCP) return 0;
  if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
    emit_connect(bpf_get_socket_cookie((void *)sk));
  } else if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV) {
    emit_passive_open(bpf_get_socket_cookie((void *)sk));
  } else if (newstate == TCP_CLOSE && oldstate != TCP_LISTEN && oldstate != TCP_CLOSE) {
    cookie = bpf_get_socket_cookie((void *)sk);
    emit_close(sk, cookie, oldstate);
  }
  return 0;
}

/* The TCP header's flags byte (RFC 9293 section 3.1): byte 13, after the ports (0-3), the
 * sequence and acknowledgment numbers and the data offset. */
#define TCP_FLAGS_BYTE 13
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

/* Where the addresses lie in the IP header: IPv4 (RFC 791) source at 12 and destination at
 * 16, IPv6 (RFC 8200) at 8 and 24; the version is the first byte's high nibble of both. */
#define IPV6_HEADER_BYTES 40

static void emit_probe(const struct sk_buff *skb, const unsigned char *ip,
                       const unsigned char *tcp) {
  unsigned char header[IPV6_HEADER_BYTES];
  struct connwatch_probe *probe;
  __u8 version;

  /* An IPv4 SYN is 40 bytes at least (20 of IP, 20 of TCP), all in the linear part the TCP
   * receive path has pulled: one read serves both families. */
  if (bpf_probe_read_kernel(header, sizeof(header), ip) != 0) return;
  version = header[0] >> 4;
  if (version != 4 && version != 6) return;
  probe = reserve(sizeof(*probe));
  if (!probe) return;
  __builtin_memset(probe, 0, sizeof(*probe));
  if (version == 4) {
    probe->family = AF_INET;
    __builtin_memcpy(probe->remote_addr, header + 12, 4);
    __builtin_memcpy(probe->local_addr, header + 16, 4);
  } else {
    probe->family = AF_INET6;
    __builtin_memcpy(probe->remote_addr, header + 8, 16);
    __builtin_memcpy(probe->local_addr, header + 24, 16);
  }
  probe->remote_port = (__u16)(tcp[0] << 8 | tcp[1]);
  probe->local_port = (__u16)(tcp[2] << 8 | tcp[3]);
  probe->netns_inode = skb->dev->nd_net.net->ns.inum;
  probe->boot_ns = bpf_ktime_get_boot_ns();
  bpf_ringbuf_submit(probe, BPF_RB_NO_WAKEUP);
}

/* tcp_send_reset fires for every reset the kernel sends: with a socket for an abort (close
 * with SO_LINGER 0, a full queue...), with none (6.10 and later) for a segment that found no
 * socket, from tcp_v4_send_reset and tcp_v6_send_reset. Only the second kind, and only for a
 * SYN without ACK, is a connection attempt nobody listened for; the check on sk is one
 * comparison, so a reset with a socket costs next to nothing. The tracepoint's third argument
 * (enum sk_rst_reason, 6.10) is not declared: older kernels have two, and the verifier
 * refuses a read past the last one. */
SEC("tp_btf/tcp_send_reset")
int BPF_PROG(connwatch_tcp_send_reset, const struct sock *sk, const struct sk_buff *skb) {
  unsigned char tcp[TCP_FLAGS_BYTE + 1];
  const unsigned char *head;

  if (sk || !skb) return 0;
  head = skb->head;
  if (bpf_probe_read_kernel(tcp, sizeof(tcp), head + skb->transport_header) != 0) return 0;
  if ((tcp[TCP_FLAGS_BYTE] & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN) return 0;
  emit_probe(skb, head + skb->network_header, tcp);
  return 0;
}
