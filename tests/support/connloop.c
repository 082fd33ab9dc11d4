/*
 * connloop - opens and closes loopback TCP connections at a steady rate, for the event-loss
 * test (tests/e2e/test_events_load.py) and the connections-per-second benchmark.
 *
 * Usage: connloop [-r RATE] [-d SECONDS] [-n COUNT] [-w SECONDS]
 *   -r RATE     connections per second (default 1000, max 1000000; 0 = as fast as it can, a
 *               tight loop that never reads the clock between connections more than once)
 *   -d SECONDS  how long the load runs (default 10, 1..60); it then stops by itself
 *   -n COUNT    stop after COUNT connections (default: no limit but -d)
 *   -w SECONDS  after the load, keep the listener open until standard input reaches end of
 *               file or SECONDS pass (default 0, max 600): an exporter attributes the inbound
 *               ends closed since its last sample to the listener's owner, which it must
 *               still see then
 *
 * It opens its own listener on 127.0.0.1 (a kernel-chosen port), then for each connection:
 * a blocking connect to it (loopback completes the handshake inside the call), accept of the
 * server end, close of the server end, close of the client end. The listener carries
 * SO_LINGER {1,0}, which accepted sockets inherit, so closing the server end sends a reset:
 * the server end goes ESTABLISHED -> CLOSE at its close, the client end ESTABLISHED -> CLOSE
 * when the reset arrives (or, if its close came first, FIN_WAIT1 -> CLOSE then). Both ends
 * reach TCP_CLOSE, so a connection-event source sees two closed sockets per connection, and
 * neither end lingers in TIME_WAIT whatever the rate. No setsockopt per connection: five
 * system calls each.
 *
 * Pacing is by CLOCK_MONOTONIC against an absolute schedule (connection i is due at
 * start + i / RATE): it sleeps when ahead, and catches up without sleeping when a sleep
 * overshot, so the rate holds over the run.
 *
 * When the load ends it writes one JSON line to stdout (before any -w wait):
 *   {"connections": N, "failed": F, "seconds": T, "per_second": R}
 * N counts connections whose both ends were opened and closed; F the connects or accepts
 * that failed (each waits at most 1 s). The process dies with its parent (PR_SET_PDEATHSIG
 * SIGKILL), stops on SIGTERM/SIGINT/SIGHUP (still printing the line), and is killed by
 * SIGALRM 30 s after its longest possible run. Exit status 0, 1 when a connection failed
 * or the listener could not be set up, 2 on bad usage. Its comm is its file name: connloop.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

struct options {
  long rate, seconds, count, wait_seconds;
};

static volatile sig_atomic_t g_stop = 0;

static void on_stop_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void sleep_until(double when) {
  struct timespec ts;
  ts.tv_sec = (time_t)when;
  ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
  if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); /* EINTR: g_stop is checked */
}

static int parse_options(int argc, char **argv, struct options *o) {
  *o = (struct options){1000, 10, 0, 0};
  int c;
  while ((c = getopt(argc, argv, "r:d:n:w:")) != -1) {
    int bad = 0;
    switch (c) {
      case 'r':
        bad = parse_long(optarg, 0, 1000000, &o->rate);
        break;
      case 'd':
        bad = parse_long(optarg, 1, 60, &o->seconds);
        break;
      case 'n':
        bad = parse_long(optarg, 1, 1000000000L, &o->count);
        break;
      case 'w':
        bad = parse_long(optarg, 0, 600, &o->wait_seconds);
        break;
      default:
        return -1;
    }
    if (bad) {
      fprintf(stderr, "connloop: -%c: bad value '%s'\n", c, optarg);
      return -1;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "connloop: unexpected argument '%s'\n", argv[optind]);
    return -1;
  }
  return 0;
}

/* The listener: 127.0.0.1, kernel-chosen port, resets on close inherited by accepted ends,
 * accept bounded to 1 s. */
static int open_listener(struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = 0};
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*addr);
  struct linger lg = {1, 0};
  struct timeval accept_timeout = {1, 0};
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &accept_timeout, sizeof(accept_timeout)) != 0 ||
      bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 || listen(fd, 1024) != 0 ||
      getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
    perror("connloop: listener");
    return -1;
  }
  return fd;
}

/* One connection, both ends opened and closed: 0, or -1 when the connect or accept failed. */
static int one_connection(int listener, const struct sockaddr_in *addr) {
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0) return -1;
  if (connect(client, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
    close(client);
    return -1;
  }
  int server = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  if (server < 0) {
    close(client);
    return -1;
  }
  close(server); /* a reset: the client end goes to CLOSE as it arrives */
  close(client);
  return 0;
}

int main(int argc, char **argv) {
  struct options o;
  if (parse_options(argc, argv, &o) != 0) {
    fprintf(stderr, "usage: connloop [-r RATE] [-d SECONDS] [-n COUNT] [-w SECONDS]\n");
    return 2;
  }
  /* Dies with its parent; if the parent is already gone, do not start at all. */
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;
  alarm((unsigned)(o.seconds + o.wait_seconds + 30)); /* SIGALRM's default: killed */
  struct sigaction sa = {0};
  sa.sa_handler = on_stop_signal; /* no SA_RESTART: sleeps and the -w poll return EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);

  struct sockaddr_in addr;
  int listener = open_listener(&addr);
  if (listener < 0) return 1;

  long done = 0, failed = 0;
  double start = now_seconds(), end = start + (double)o.seconds, now = start;
  double period = o.rate > 0 ? 1.0 / (double)o.rate : 0;
  while (!g_stop && now < end && (o.count == 0 || done < o.count)) {
    if (o.rate > 0) {
      double due = start + (double)(done + failed) * period;
      if (due > now) {
        sleep_until(due < end ? due : end);
        now = now_seconds();
        continue; /* the end or a signal may have come meanwhile */
      }
    }
    if (one_connection(listener, &addr) == 0)
      ++done;
    else
      ++failed;
    now = now_seconds();
  }
  double seconds = now - start;
  printf("{\"connections\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"per_second\": %.1f}\n", done,
         failed, seconds, seconds > 0 ? (double)done / seconds : 0.0);
  fflush(stdout);

  if (o.wait_seconds > 0 && !g_stop) {
    struct pollfd in = {STDIN_FILENO, POLLIN, 0};
    double until = now_seconds() + (double)o.wait_seconds;
    char buf[256];
    while (!g_stop && now_seconds() < until) {
      int left_ms = (int)((until - now_seconds()) * 1000.0) + 1;
      int ready = poll(&in, 1, left_ms);
      if (ready < 0 && errno != EINTR) break;
      if (ready > 0 && ((in.revents & (POLLHUP | POLLERR | POLLNVAL)) ||
                        read(STDIN_FILENO, buf, sizeof(buf)) <= 0)) {
        break; /* end of file: the caller is done with the listener */
      }
    }
  }
  close(listener);
  return failed > 0 ? 1 : 0;
}
