/*
 * destroy_subscriber - the least a sock_diag destroy-notification subscriber can do: it joins
 * the TCP destroy groups (IPv4 and IPv6) of its network namespace with a 64 MiB receive buffer
 * and reads and discards every notification every 100 ms, for -d SECONDS (default 10, 1..600).
 * The connections-per-second benchmark (tests/bench/events_bench.py) runs it beside a
 * connect/close loop: what the loop loses then is the kernel's own cost of building and
 * broadcasting a notification per closed socket, which no subscriber can avoid.
 *
 * Usage: destroy_subscriber [-d SECONDS]   (needs CAP_NET_ADMIN only for the large buffer)
 * Prints one JSON line at the end: {"notifications": N, "overruns": E}. Dies with its parent
 * (PR_SET_PDEATHSIG) and stops on SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../support/loadgen.h"

static volatile sig_atomic_t g_stop = 0;

static void on_stop_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

int main(int argc, char **argv) {
  long seconds = 10;
  int c;
  while ((c = getopt(argc, argv, "d:")) != -1) {
    if (c != 'd' || parse_long(optarg, 1, 600, &seconds) != 0) {
      fprintf(stderr, "usage: destroy_subscriber [-d SECONDS]\n");
      return 2;
    }
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGTERM, on_stop_signal);
  signal(SIGINT, on_stop_signal);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  struct sockaddr_nl address = {.nl_family = AF_NETLINK};
  address.nl_groups =
      (1u << (SKNLGRP_INET_TCP_DESTROY - 1)) | (1u << (SKNLGRP_INET6_TCP_DESTROY - 1));
  if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
    perror("destroy_subscriber: netlink");
    return 1;
  }
  int bytes = 64 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  static char buffer[1 << 16];
  unsigned long long notifications = 0, overruns = 0;
  double end = now_seconds() + (double)seconds;
  while (!g_stop && now_seconds() < end) {
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    for (;;) {
      ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
      if (got < 0 && errno == ENOBUFS) {
        ++overruns;
        continue;
      }
      if (got <= 0) break;
      for (struct nlmsghdr *m = (struct nlmsghdr *)buffer; NLMSG_OK(m, (unsigned)got);
           m = NLMSG_NEXT(m, got))
        ++notifications;
    }
  }
  printf("{\"notifications\": %llu, \"overruns\": %llu}\n", notifications, overruns);
  return 0;
}
