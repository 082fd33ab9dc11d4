/*
 * sockfarm: connwatch's benchmark load. It holds a large, static table of established loopback
 * TCP connections spread over many processes, so a sample (or `ss`) has as many sockets and
 * owners to walk as a busy host. tests/bench/run_bench.py starts one per farm size; churn.c
 * keeps a smaller table moving beside it.
 *
 * Build: with the tests (`cmake --build build --target sockfarm` gives build/sockfarm), or
 * by hand: cc -O2 -Wall -Wextra -o sockfarm sockfarm.c
 * Usage: sockfarm [-n CONNS] [-p PROCS] [-l LISTENERS] [-u UDP] [-d HOLD_SECONDS]
 *                 [-t SETUP_TIMEOUT] [-r READY_FILE] [-q]
 *   -n CONNS           established TCP connections in all (default 1000, max 10000000). Both
 *                      ends of each are held inside the farm, by the same worker, so CONNS
 *                      connections are 2 x CONNS ESTABLISHED sockets.
 *   -p PROCS           worker processes (default 10, max 65535); the connections are dealt
 *                      out evenly (the first CONNS % PROCS workers hold one more).
 *   -l LISTENERS       idle listening sockets per worker, on top of the ones it accepts its own
 *                      connections on (default 0, max 1000).
 *   -u UDP             bound, unconnected UDP sockets per worker (default 0, max 10000).
 *   -d HOLD_SECONDS    how long to hold everything once it is set up (default 60, max 86400;
 *                      0 = tear down at once).
 *   -t SETUP_TIMEOUT   give up (exit 1) unless every worker is set up within this many seconds
 *                      (default 300, max 3600).
 *   -r READY_FILE      once everything is set up, write (atomically: FILE.tmp, then rename) a
 *                      summary line and a line of worker pids; removed again on exit, so a
 *                      script can wait for it to appear. The summary line is also printed:
 *                        READY conns=.. estab_sockets=.. listen_sockets=.. udp_sockets=..
 *                        procs=.. parent=.. setup_ms=..
 *   -q                 quiet: nothing on stdout (errors still go to stderr).
 * Example: build/sockfarm -n 50000 -p 100 -d 600 -r /tmp/farm.ready &   (100k sockets)
 *
 * Addresses: only 127.0.0.0/8. Worker w (counting from 1) listens on 127.64.(w / 256).(w % 256)
 * on kernel-chosen ports and connects from 127.65.(w / 256).(w % 256), with
 * IP_BIND_ADDRESS_NO_PORT, so the kernel picks each client port per (source, destination)
 * pair: every worker has its own pair and its own ephemeral port space, whatever the total.
 * A worker opens one accepting listener per 16,384 connections it holds.
 *
 * Limits: a worker needs 2 x CONNS / PROCS descriptors and a few more; the parent raises
 * RLIMIT_NOFILE to that before forking (past the hard limit only with CAP_SYS_RESOURCE:
 * otherwise it says so, and more processes are the answer). The kernel needs a few KiB per
 * socket (about 1 GiB at 100k connections).
 *
 * Lifetime, bounded whatever happens: the parent forks the workers, waits until each has
 * reported that its sockets are open, prints READY and writes READY_FILE, holds for
 * HOLD_SECONDS (SIGINT, SIGTERM or SIGHUP end the hold early), then sends every worker SIGTERM,
 * SIGKILL 10 s later, and reaps them all. Workers die with the parent (PR_SET_PDEATHSIG), ignore
 * SIGINT and SIGHUP (a terminal's ^C reaches the whole group; the parent decides), and end
 * themselves (SIGALRM) SETUP_TIMEOUT + HOLD_SECONDS + 30 s after they start. Every connected
 * socket has SO_LINGER {1, 0}: it is reset when its worker exits, so no TIME_WAIT is left.
 *
 * Exit status: 0 once the hold ends (also when a signal ended it), 1 if setup failed, timed
 * out or was interrupted, or a worker died during the hold, 2 on bad usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support/loadgen.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 /* linux/in.h, Linux 4.2 */
#endif
#define MAX_PROCS 65535
#define CONNS_PER_ACCEPTOR 16384 /* well inside one (source, destination) pair's port range */
#define SERVER_NET 64            /* 127.64.x.y: listeners and UDP sockets */
#define CLIENT_NET 65            /* 127.65.x.y: the connecting ends */
#define SPARE_FDS 16             /* stdio, the ready pipe, whatever was inherited */
#define KILL_GRACE_MS 10000
#define WORKER_MARGIN_SECONDS 30

struct options {
  long conns, procs, listeners, udp, hold_seconds, setup_seconds;
  const char *ready_file;
  int quiet;
};

/* What one worker holds. */
struct share {
  long conns, acceptors, listeners, udp;
};

static volatile sig_atomic_t g_stop = 0;
static volatile sig_atomic_t g_child_exited = 0;
static pid_t *g_pids = NULL; /* index = worker; 0 once reaped */
static long g_live = 0;
static long g_worker = -1; /* set in a worker, for its messages */

/* ------------------------------------------------------------------------------------------ */
/* Small helpers */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long read_sysctl(const char *path, long fallback) {
  long value = fallback;
  FILE *f = fopen(path, "r");
  if (f) {
    if (fscanf(f, "%ld", &value) != 1) value = fallback;
    fclose(f);
  }
  return value;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: sockfarm [-n CONNS] [-p PROCS] [-l LISTENERS] [-u UDP] [-d HOLD_SECONDS]\n"
          "                [-t SETUP_TIMEOUT] [-r READY_FILE] [-q]\n"
          "  -n CONNS          established loopback connections, 2 sockets each (default 1000)\n"
          "  -p PROCS          worker processes sharing them (default 10, max %d)\n"
          "  -l LISTENERS, -u UDP  extra idle listeners, bound UDP sockets per worker (default 0)\n"
          "  -d HOLD_SECONDS   hold time once set up (default 60, max 86400); -t SETUP_TIMEOUT\n"
          "                    seconds allowed for setup (default 300, max 3600)\n"
          "  -r READY_FILE     written when everything is set up, removed on exit; -q quiet\n",
          MAX_PROCS);
}

static int parse_options(int argc, char **argv, struct options *o) {
  *o = (struct options){1000, 10, 0, 0, 60, 300, NULL, 0};
  int c;
  while ((c = getopt(argc, argv, "n:p:l:u:d:t:r:qh")) != -1) {
    int bad = 0;
    switch (c) {
      case 'n':
        bad = parse_long(optarg, 0, 10000000, &o->conns);
        break;
      case 'p':
        bad = parse_long(optarg, 1, MAX_PROCS, &o->procs);
        break;
      case 'l':
        bad = parse_long(optarg, 0, 1000, &o->listeners);
        break;
      case 'u':
        bad = parse_long(optarg, 0, 10000, &o->udp);
        break;
      case 'd':
        bad = parse_long(optarg, 0, 86400, &o->hold_seconds);
        break;
      case 't':
        bad = parse_long(optarg, 1, 3600, &o->setup_seconds);
        break;
      case 'r':
        o->ready_file = optarg;
        break;
      case 'q':
        o->quiet = 1;
        break;
      case 'h':
        usage(stdout);
        exit(0);
      default:
        return -1;
    }
    if (bad) {
      fprintf(stderr, "sockfarm: -%c: bad value '%s'\n", c, optarg);
      return -1;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "sockfarm: unexpected argument '%s'\n", argv[optind]);
    return -1;
  }
  return 0;
}

/* Worker w's part of the load (w counts from 0; the first CONNS % PROCS get one more). */
static struct share share_of(const struct options *o, long w) {
  struct share s;
  s.conns = o->conns / o->procs + (w < o->conns % o->procs ? 1 : 0);
  s.acceptors = (s.conns + CONNS_PER_ACCEPTOR - 1) / CONNS_PER_ACCEPTOR;
  s.listeners = o->listeners;
  s.udp = o->udp;
  return s;
}

static long descriptors_for(const struct share *s) {
  return 2 * s->conns + s->acceptors + s->listeners + s->udp + SPARE_FDS;
}

/* 127.NET.hi.lo for worker w, hi.lo = w + 1 (so no worker gets a .0.0 address). */
static struct sockaddr_in worker_address(int net, long w) {
  uint32_t host = (uint32_t)(w + 1);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl((127u << 24) | ((uint32_t)net << 16) | (host & 0xffffu));
  return addr;
}

/* ------------------------------------------------------------------------------------------ */
/* Workers. Their sockets are never closed: they are the load, and go when the worker exits. */

static int worker_error(const char *what) {
  int err = errno;
  fprintf(stderr, "sockfarm: worker %ld (pid %d): %s: %s\n", g_worker, (int)getpid(), what,
          strerror(err));
  if (err == EMFILE || err == ENFILE) {
    fprintf(stderr, "sockfarm: out of descriptors; use more processes (-p)\n");
  } else if (err == EADDRNOTAVAIL) {
    fprintf(stderr, "sockfarm: no loopback address or port left for this worker\n");
  }
  return -1;
}

static int reset_on_close(int fd) {
  struct linger lg = {1, 0};
  return setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* A socket bound to *addr (port 0: the kernel's choice, written back to *addr). */
static int bound_socket(int type, struct sockaddr_in *addr) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return worker_error("socket");
  socklen_t len = sizeof(*addr);
  if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0) return worker_error("bind");
  if (getsockname(fd, (struct sockaddr *)addr, &len) != 0) return worker_error("getsockname");
  return fd;
}

static int listening_socket(struct sockaddr_in *addr, int backlog) {
  int fd = bound_socket(SOCK_STREAM, addr);
  if (fd < 0) return -1;
  if (listen(fd, backlog) != 0) return worker_error("listen");
  return fd;
}

/* One client socket, bound to `from` without a port, connected to `to`. */
static int connect_one(const struct sockaddr_in *from, const struct sockaddr_in *to) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return worker_error("socket (client)");
  int on = 1;
  if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on)) != 0) {
    return worker_error("IP_BIND_ADDRESS_NO_PORT");
  }
  if (bind(fd, (const struct sockaddr *)from, sizeof(*from)) != 0) {
    return worker_error("bind (client address)");
  }
  if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) != 0) return worker_error("connect");
  if (reset_on_close(fd) != 0) return worker_error("SO_LINGER (client)");
  return fd;
}

/* `count` connections from `from` to the listener `lfd` on `to`, both ends kept. A loopback
 * connect() completes at once while the accept queue has room, so they go in rounds of at most
 * `round` connects, then as many accepts: the queue never overflows (no SYN retries). */
static int open_connections(int lfd, const struct sockaddr_in *from, const struct sockaddr_in *to,
                            long count, long round) {
  for (long opened = 0; opened < count;) {
    long n = count - opened < round ? count - opened : round;
    for (long i = 0; i < n; ++i) {
      if (connect_one(from, to) < 0) return -1;
    }
    for (long i = 0; i < n; ++i) {
      int fd;
      do {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
      } while (fd < 0 && errno == EINTR);
      if (fd < 0) return worker_error("accept");
      if (reset_on_close(fd) != 0) return worker_error("SO_LINGER (server)");
    }
    opened += n;
  }
  return 0;
}

static int set_up_worker(const struct options *o, long w, long round) {
  struct share s = share_of(o, w);
  const struct sockaddr_in server = worker_address(SERVER_NET, w);
  const struct sockaddr_in client = worker_address(CLIENT_NET, w);
  for (long a = 0; a < s.acceptors; ++a) {
    struct sockaddr_in to = server;
    int lfd = listening_socket(&to, (int)(2 * round));
    long count = s.conns / s.acceptors + (a < s.conns % s.acceptors ? 1 : 0);
    if (lfd < 0 || open_connections(lfd, &client, &to, count, round) != 0) return -1;
  }
  for (long i = 0; i < s.listeners; ++i) {
    struct sockaddr_in addr = server;
    if (listening_socket(&addr, 16) < 0) return -1;
  }
  for (long i = 0; i < s.udp; ++i) {
    struct sockaddr_in addr = server;
    if (bound_socket(SOCK_DGRAM, &addr) < 0) return -1;
  }
  return 0;
}

static void __attribute__((noreturn))
run_worker(const struct options *o, long w, int ready_fd, pid_t parent, long round,
           const sigset_t *unblocked) {
  g_worker = w;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1); /* the parent died before the prctl */
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  signal(SIGALRM, SIG_DFL);
  sigprocmask(SIG_SETMASK, unblocked, NULL);
  alarm((unsigned)(o->setup_seconds + o->hold_seconds + WORKER_MARGIN_SECONDS));

  if (set_up_worker(o, w, round) != 0) _exit(1);
  char ready = 'R';
  ssize_t written;
  do {
    written = write(ready_fd, &ready, 1);
  } while (written < 0 && errno == EINTR);
  if (written != 1) _exit(1);
  close(ready_fd);
  for (;;) pause(); /* until SIGTERM, SIGKILL (also the parent's death) or SIGALRM */
}

/* ------------------------------------------------------------------------------------------ */
/* The parent */

static void on_stop(int sig) {
  (void)sig;
  g_stop = 1;
}

static void on_child(int sig) {
  (void)sig;
  g_child_exited = 1;
}

static void describe_exit(long w, pid_t pid, int status) {
  if (WIFEXITED(status)) {
    fprintf(stderr, "sockfarm: worker %ld (pid %d) exited %d\n", w, (int)pid, WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    fprintf(stderr, "sockfarm: worker %ld (pid %d) killed by signal %d\n", w, (int)pid,
            WTERMSIG(status));
  }
}

/* Reaps every worker that has exited; returns how many. `quiet`: no message per worker. */
static long reap_workers(const struct options *o, int quiet) {
  long reaped = 0;
  int status;
  pid_t pid;
  g_child_exited = 0;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (long w = 0; w < o->procs; ++w) {
      if (g_pids[w] != pid) continue;
      g_pids[w] = 0;
      --g_live;
      ++reaped;
      if (!quiet) describe_exit(w, pid, status);
      break;
    }
  }
  return reaped;
}

/* Sleeps until `fd` (if >= 0) is readable, a signal arrives or `deadline` passes. The stop and
 * child signals are blocked everywhere else, so a flag checked before this call cannot be set
 * between the check and the sleep. Returns ppoll's result. */
static int wait_for(int fd, int64_t deadline, const sigset_t *unblocked) {
  int64_t left = deadline - now_ms();
  if (left < 0) left = 0;
  struct timespec timeout = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};
  struct pollfd pfd = {.fd = fd, .events = POLLIN, .revents = 0};
  return ppoll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, &timeout, unblocked);
}

/* Counts the workers' ready bytes until all are in. 0 on success, -1 (said why) otherwise. */
static int wait_until_ready(const struct options *o, int fd, int64_t deadline,
                            const sigset_t *unblocked) {
  long ready = 0;
  while (ready < o->procs) {
    if (g_stop) {
      fprintf(stderr, "sockfarm: interrupted during setup (%ld of %ld workers ready)\n", ready,
              o->procs);
      return -1;
    }
    if (g_child_exited && reap_workers(o, 0) > 0) {
      fprintf(stderr, "sockfarm: a worker exited during setup\n");
      return -1;
    }
    if (now_ms() >= deadline) {
      fprintf(stderr, "sockfarm: setup timed out after %ld s (%ld of %ld workers ready)\n",
              o->setup_seconds, ready, o->procs);
      return -1;
    }
    if (wait_for(fd, deadline, unblocked) <= 0 || fd < 0) continue;
    char buf[4096];
    ssize_t got = read(fd, buf, sizeof(buf));
    if (got > 0) ready += got;
    if (got == 0) fd = -1; /* every worker closed its end: the missing ones died (SIGCHLD) */
  }
  return 0;
}

/* Holds until the deadline or a stop signal (0), or until a worker dies (-1). */
static int hold(const struct options *o, int64_t deadline, const sigset_t *unblocked) {
  for (;;) {
    if (g_stop) return 0;
    if (g_child_exited && reap_workers(o, 0) > 0) {
      fprintf(stderr, "sockfarm: a worker died during the hold\n");
      return -1;
    }
    if (now_ms() >= deadline) return 0;
    wait_for(-1, deadline, unblocked);
  }
}

static void signal_workers(const struct options *o, int sig) {
  for (long w = 0; w < o->procs; ++w) {
    if (g_pids[w] > 0) kill(g_pids[w], sig);
  }
}

/* SIGTERM to every worker, SIGKILL to those left after the grace period; reaps them all. */
static void stop_workers(const struct options *o, const sigset_t *unblocked) {
  signal_workers(o, SIGTERM);
  int64_t deadline = now_ms() + KILL_GRACE_MS;
  while (g_live > 0 && now_ms() < deadline) {
    if (reap_workers(o, 1) == 0) wait_for(-1, deadline, unblocked);
  }
  if (g_live == 0) return;
  fprintf(stderr, "sockfarm: %ld workers still alive after SIGTERM; SIGKILL\n", g_live);
  signal_workers(o, SIGKILL);
  while (g_live > 0) {
    pid_t pid = waitpid(-1, NULL, 0);
    if (pid < 0 && errno != EINTR) break; /* ECHILD: nothing left to reap */
    for (long w = 0; pid > 0 && w < o->procs; ++w) {
      if (g_pids[w] == pid) {
        g_pids[w] = 0;
        --g_live;
      }
    }
  }
}

/* Raises RLIMIT_NOFILE (inherited by the workers) to `need` descriptors. */
static int raise_fd_limit(long need) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    perror("sockfarm: getrlimit");
    return -1;
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= (rlim_t)need) return 0;
  struct rlimit want = rl;
  want.rlim_cur = (rlim_t)need;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need) want.rlim_max = (rlim_t)need;
  if (setrlimit(RLIMIT_NOFILE, &want) == 0) return 0;
  fprintf(stderr,
          "sockfarm: a worker needs %ld descriptors, but RLIMIT_NOFILE cannot be raised past %llu "
          "(%s); use more processes (-p)\n",
          need, (unsigned long long)rl.rlim_max, strerror(errno));
  return -1;
}

static int write_ready_file(const struct options *o, const char *summary) {
  size_t len = strlen(o->ready_file) + 5;
  char *tmp = malloc(len);
  if (!tmp) return -1;
  snprintf(tmp, len, "%s.tmp", o->ready_file);
  FILE *f = fopen(tmp, "w");
  int ok = f != NULL;
  if (ok) {
    fprintf(f, "%s\npids:", summary);
    for (long w = 0; w < o->procs; ++w) fprintf(f, " %d", (int)g_pids[w]);
    fputc('\n', f);
    ok = fclose(f) == 0 && rename(tmp, o->ready_file) == 0;
  }
  if (!ok) {
    fprintf(stderr, "sockfarm: cannot write %s: %s\n", o->ready_file, strerror(errno));
    unlink(tmp);
  }
  free(tmp);
  return ok ? 0 : -1;
}

static void summarize(const struct options *o, int64_t setup_ms, char *out, size_t size) {
  long listeners = 0;
  for (long w = 0; w < o->procs; ++w) {
    struct share s = share_of(o, w);
    listeners += s.acceptors + s.listeners;
  }
  snprintf(out, size,
           "READY conns=%ld estab_sockets=%ld listen_sockets=%ld udp_sockets=%ld procs=%ld "
           "parent=%d setup_ms=%lld",
           o->conns, 2 * o->conns, listeners, o->procs * o->udp, o->procs, (int)getpid(),
           (long long)setup_ms);
}

/* Blocks the stop and child signals (they are let through only inside ppoll) and installs
 * their handlers; *unblocked gets the mask to sleep with. */
static void take_signals(sigset_t *unblocked) {
  struct sigaction stop = {0}, child = {0};
  stop.sa_handler = on_stop;
  child.sa_handler = on_child;
  sigaction(SIGINT, &stop, NULL);
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGHUP, &stop, NULL);
  sigaction(SIGCHLD, &child, NULL);
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGHUP);
  sigaddset(&blocked, SIGCHLD);
  sigprocmask(SIG_BLOCK, &blocked, unblocked);
  sigdelset(unblocked, SIGINT);
  sigdelset(unblocked, SIGTERM);
  sigdelset(unblocked, SIGHUP);
  sigdelset(unblocked, SIGCHLD);
}

int main(int argc, char **argv) {
  struct options o;
  if (parse_options(argc, argv, &o) != 0) {
    usage(stderr);
    return 2;
  }
  struct share biggest = share_of(&o, 0); /* worker 0 holds the most */
  if (raise_fd_limit(descriptors_for(&biggest)) != 0) return 1;
  long somaxconn = read_sysctl("/proc/sys/net/core/somaxconn", 128);
  long round = somaxconn / 2 < 256 ? somaxconn / 2 : 256;
  if (round < 1) round = 1;

  g_pids = calloc((size_t)o.procs, sizeof(*g_pids));
  int ready_pipe[2];
  if (!g_pids || pipe2(ready_pipe, O_CLOEXEC) != 0) {
    perror("sockfarm: setup");
    return 1;
  }
  sigset_t unblocked;
  take_signals(&unblocked);
  fflush(NULL);

  int64_t start = now_ms();
  pid_t parent = getpid();
  int failed = 0;
  for (long w = 0; w < o.procs && !failed; ++w) {
    pid_t pid = fork();
    if (pid == 0) {
      close(ready_pipe[0]);
      run_worker(&o, w, ready_pipe[1], parent, round, &unblocked);
    }
    if (pid < 0) {
      perror("sockfarm: fork");
      failed = 1;
    } else {
      g_pids[w] = pid;
      ++g_live;
    }
  }
  close(ready_pipe[1]);
  if (!failed) {
    failed = wait_until_ready(&o, ready_pipe[0], start + o.setup_seconds * 1000, &unblocked) != 0;
  }
  close(ready_pipe[0]);

  int wrote_ready = 0, interrupted = 0;
  if (!failed) {
    char summary[256];
    summarize(&o, now_ms() - start, summary, sizeof(summary));
    if (!o.quiet) {
      printf("%s\n", summary);
      fflush(stdout);
    }
    failed = o.ready_file && write_ready_file(&o, summary) != 0;
    wrote_ready = o.ready_file && !failed;
    if (!failed) failed = hold(&o, now_ms() + o.hold_seconds * 1000, &unblocked) != 0;
    interrupted = g_stop;
  } else {
    fprintf(stderr, "sockfarm: setup failed; stopping the workers\n");
  }
  stop_workers(&o, &unblocked);
  if (wrote_ready) unlink(o.ready_file);
  if (!o.quiet && !failed) {
    printf("DONE%s total_ms=%lld\n", interrupted ? " (stopped by a signal)" : "",
           (long long)(now_ms() - start));
  }
  free(g_pids);
  return failed ? 1 : 0;
}
