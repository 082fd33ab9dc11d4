/* The records the eBPF programs (connwatch_events.bpf.c) write into their ring buffer and
 * sources/bpf_events.cpp parses: one when a TCP socket opens, one when it closes (the
 * exporter joins them by cookie), and one when a SYN found no socket and was answered with a
 * reset (an inbound connection attempt to a closed port). Shared by both sides, so they use
 * only the kernel's fixed-width UAPI types and have no implicit padding (the static
 * assertions on each side check the sizes, which also tell the three kinds apart): the
 * program and the exporter are always built together, and the parser refuses a record of
 * any other size. */
#ifndef CONNWATCH_BPF_CONNWATCH_EVENTS_H_
#define CONNWATCH_BPF_CONNWATCH_EVENTS_H_

#include <linux/types.h>

/* direction */
#define CONNWATCH_DIRECTION_UNKNOWN 0 /* no open record: the socket opened before the program */
#define CONNWATCH_DIRECTION_OUTBOUND 1
#define CONNWATCH_DIRECTION_INBOUND 2

/* outcome */
#define CONNWATCH_OUTCOME_ESTABLISHED 0
#define CONNWATCH_OUTCOME_FAILED 1 /* closed from SYN_SENT or SYN_RECV */

#define CONNWATCH_COMM_LEN 16 /* TASK_COMM_LEN */

/* The ring buffer's size: 16 MiB holds about 55,000 connections whose both ends are on this
 * host (an open and a close record for each end), over half a second at 100k connections per
 * second. A 1 MiB ring drained every 100 ms lost about 80% at that rate. */
#define CONNWATCH_RING_BYTES (16u << 20)
/* The program asks for a wakeup only once this much waits in the ring: one wakeup per record
 * tripled the cost of a connect/close loop, so the reader polls on a timer and is woken early
 * only when the ring fills. */
#define CONNWATCH_RING_WAKEUP_BYTES (CONNWATCH_RING_BYTES / 4)

/* Written inside connect() (CLOSE -> SYN_SENT, in the connecting task) or at a passive open
 * (SYN_RECV -> ESTABLISHED, in softirq: no task is taken). 48 bytes. */
struct connwatch_open {
  __u64 cookie;                  /* bpf_get_socket_cookie(): SO_COOKIE, sock_diag's idiag_cookie */
  __u64 cgroup_id;               /* cgroup v2 id of the task that connect()ed; 0 for inbound */
  __u64 start_boot_ns;           /* bpf_ktime_get_boot_ns() at connect() or ESTABLISHED */
  __u32 tgid;                    /* the task that connect()ed; 0 for inbound */
  __u8 direction;                /* CONNWATCH_DIRECTION_OUTBOUND or _INBOUND */
  __u8 reserved[3];              /* zero */
  char comm[CONNWATCH_COMM_LEN]; /* NUL-padded; empty for inbound */
};

/* Written when the socket reaches CLOSE from any state but LISTEN. 88 bytes. */
struct connwatch_close {
  __u64 cookie;
  __u64 netns_inode; /* sk->sk_net->ns.inum */
  __u64 end_boot_ns; /* at close */
  __u64 bytes_acked; /* tcp_sock.bytes_acked at close */
  __u64 bytes_received;
  __u8 local_addr[16]; /* network byte order; IPv4 in the first 4 bytes */
  __u8 remote_addr[16];
  __u16 local_port;  /* host byte order */
  __u16 remote_port; /* host byte order */
  __u16 family;      /* AF_INET or AF_INET6 */
  __u8 outcome;      /* CONNWATCH_OUTCOME_* */
  __u8 old_state;    /* the TCP state the socket closed from (TCP_* of include/net/tcp_states.h) */
  __u8 reserved[8];  /* zero */
};

/* Written when the kernel answers a SYN (without ACK) that found no socket, listening or
 * otherwise, with a reset: tcp_v4_send_reset and tcp_v6_send_reset with no socket. Nothing
 * of a process: none was involved. 56 bytes. */
struct connwatch_probe {
  __u64 netns_inode;    /* the receiving device's namespace: skb->dev->nd_net->ns.inum */
  __u64 boot_ns;        /* bpf_ktime_get_boot_ns() when the reset was sent */
  __u8 local_addr[16];  /* the SYN's destination; network byte order, IPv4 in the first 4 */
  __u8 remote_addr[16]; /* the SYN's source */
  __u16 local_port;     /* host byte order: the SYN's destination port */
  __u16 remote_port;    /* the SYN's source port */
  __u16 family;         /* AF_INET or AF_INET6 */
  __u8 reserved[2];     /* zero */
};

#endif /* CONNWATCH_BPF_CONNWATCH_EVENTS_H_ */
