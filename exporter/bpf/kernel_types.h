/* The few kernel structures and fields connwatch_events.bpf.c reads, written by hand instead of
 * a vmlinux.h generated on the build machine: each is marked preserve_access_index, so clang
 * records every field access as a CO-RE relocation and libbpf resolves the real offsets
 * against the running kernel's BTF (/sys/kernel/btf/vmlinux) at load. Only the names and
 * types of the fields matter; their order and the kernel's anonymous unions do not. A field
 * renamed or removed by a future kernel fails the load with its name in libbpf's message. */
#ifndef CONNWATCH_BPF_KERNEL_TYPES_H_
#define CONNWATCH_BPF_KERNEL_TYPES_H_

#include <linux/bpf.h>
#include <linux/types.h>

/* Kernel ABI constants: include/linux/socket.h, include/uapi/linux/in.h and
 * include/net/tcp_states.h. */
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

enum {
  TCP_ESTABLISHED = 1,
  TCP_SYN_SENT = 2,
  TCP_SYN_RECV = 3,
  TCP_CLOSE = 7,
  TCP_LISTEN = 10,
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct in6_addr {
  __u8 s6_addr[16];
};

struct ns_common {
  unsigned int inum;
};

struct net {
  struct ns_common ns;
};

typedef struct {
  struct net *net;
} possible_net_t;

/* include/net/sock.h */
struct sock_common {
  __be32 skc_daddr;
  __be32 skc_rcv_saddr;
  __be16 skc_dport;
  __u16 skc_num;
  unsigned short skc_family;
  possible_net_t skc_net;
  struct in6_addr skc_v6_daddr;
  struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
  struct sock_common __sk_common;
  __u16 sk_protocol;
};

/* include/net/inet_sock.h: the local port and address stay here after the port is released
 * (skc_num is 0 by the time the socket closes). */
struct inet_sock {
  __be32 inet_saddr;
  __be16 inet_sport;
};

/* include/net/inet_connection_sock.h and include/linux/tcp.h (RFC 4898
 * tcpEStatsAppHCThruOctetsAcked and ...Received): the tcp_sock bpf_skc_to_tcp_sock returns
 * holds the inet_sock at its start. */
struct inet_connection_sock {
  struct inet_sock icsk_inet;
};

struct tcp_sock {
  struct inet_connection_sock inet_conn;
  __u64 bytes_received;
  __u64 bytes_acked;
};

/* include/linux/netdevice.h: the namespace a device, and so a segment it received, is in. */
struct net_device {
  possible_net_t nd_net;
};

/* include/linux/skbuff.h: the headers are offsets from head (network_header to the IP
 * header, transport_header to the TCP header), and head points at bytes that have no BTF
 * type, so they are read with bpf_probe_read_kernel. */
struct sk_buff {
  struct net_device *dev;
  unsigned char *head;
  __u16 transport_header;
  __u16 network_header;
};

#pragma clang attribute pop

#endif /* CONNWATCH_BPF_KERNEL_TYPES_H_ */
