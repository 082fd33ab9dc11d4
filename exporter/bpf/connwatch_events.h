/* The record the eBPF program (connwatch_events.bpf.c) writes into its ring buffer when a TCP
 * socket closes, and sources/bpf_events.cpp parses. Shared by both sides, so it uses only the
 * kernel's fixed-width UAPI types and has no implicit padding (the static assertion on each
 * side checks its size): the program and the exporter are always built together, and the
 * parser still refuses a record of another size. */
#ifndef CONNWATCH_BPF_CONNWATCH_EVENTS_H_
#define CONNWATCH_BPF_CONNWATCH_EVENTS_H_

#include <linux/types.h>

/* direction */
#define CONNWATCH_DIRECTION_UNKNOWN 0 /* no entry: the socket opened before the program ran */
#define CONNWATCH_DIRECTION_OUTBOUND 1
#define CONNWATCH_DIRECTION_INBOUND 2

/* outcome */
#define CONNWATCH_OUTCOME_ESTABLISHED 0
#define CONNWATCH_OUTCOME_FAILED 1 /* closed from SYN_SENT or SYN_RECV */

#define CONNWATCH_COMM_LEN 16 /* TASK_COMM_LEN */

/* The ring buffer's size: 16 MiB holds 131072 records, over half a second of 100k connections
 * per second with both ends on this host. A 1 MiB ring drained every 100 ms lost about 80% at
 * that rate. */
#define CONNWATCH_RING_BYTES (16u << 20)
/* The program asks for a wakeup only once this much waits in the ring: one wakeup per record
 * tripled the cost of a connect/close loop, so the reader polls on a timer and is woken early
 * only when the ring fills. */
#define CONNWATCH_RING_WAKEUP_BYTES (CONNWATCH_RING_BYTES / 4)

struct connwatch_event {
  __u64 cookie;        /* bpf_get_socket_cookie(): SO_COOKIE, sock_diag's idiag_cookie */
  __u64 netns_inode;   /* sk->sk_net->ns.inum */
  __u64 cgroup_id;     /* cgroup v2 id of the task that connect()ed; 0 for inbound or unknown */
  __u64 start_boot_ns; /* bpf_ktime_get_boot_ns() at connect() or ESTABLISHED; 0 unknown */
  __u64 end_boot_ns;   /* at close */
  __u64 bytes_acked;   /* tcp_sock.bytes_acked at close */
  __u64 bytes_received;
  __u8 local_addr[16]; /* network byte order; IPv4 in the first 4 bytes */
  __u8 remote_addr[16];
  __u32 tgid;        /* the task that connect()ed; 0 for inbound or unknown */
  __u16 local_port;  /* host byte order */
  __u16 remote_port; /* host byte order */
  __u16 family;      /* AF_INET or AF_INET6 */
  __u8 direction;    /* CONNWATCH_DIRECTION_* */
  __u8 outcome;      /* CONNWATCH_OUTCOME_* */
  __u8 old_state;    /* the TCP state the socket closed from (TCP_* of include/net/tcp_states.h) */
  __u8 reserved[3];  /* zero */
  char comm[CONNWATCH_COMM_LEN]; /* NUL-padded */
};

#endif /* CONNWATCH_BPF_CONNWATCH_EVENTS_H_ */
