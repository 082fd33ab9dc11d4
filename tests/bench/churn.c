/*
 * churn: a bounded loopback load generator for connwatch's churn benchmark. Beside a farm of
 * tests/bench/sockfarm.c (which holds a large, static socket table), it keeps the table moving
 * the way a busy host does: every tick it closes the oldest connections and opens new ones, and
 * forks a short-lived process that holds a few connections of its own and exits, so new inodes,
 * reused inodes, new pids and exited pids show up between two samples.
 *
 * Usage: churn [-n POOL] [-c PER_TICK] [-i INTERVAL_MS] [-k CHILD_CONNS] [-j MAX_CHILDREN]
 *              [-l CHILD_TICKS] [-d SECONDS] [-r FILE] [-q]
 *   -n POOL          connections the main process keeps open (default 500, max 10000)
 *   -c PER_TICK      of those, closed and replaced every tick, oldest first (default 50)
 *   -i INTERVAL_MS   tick length (default 100, 10..60000)
 *   -k CHILD_CONNS   connections each forked child holds (default 20, max 1000; 0 = no
 *                    children)
 *   -j MAX_CHILDREN  children alive at once (default 4, max 64); one is forked per tick
 *   -l CHILD_TICKS   how many ticks a child lives (default 3)
 *   -d SECONDS       total run time (default 120, max 3600); it then stops by itself
 *   -r FILE          written (atomically) once the pool is open: "READY port=.. pool=.."
 *   -q               no summary line on exit
 *
 * Only 127.0.0.1 is used: one listener on a kernel-chosen port accepts every connection and
 * holds the server ends until the peer goes away. Connections are closed with SO_LINGER
 * {1,0} (a reset), so no TIME_WAIT sockets pile up whatever the rate. The process dies with
 * its parent (PR_SET_PDEATHSIG), its children die with it, and it exits after -d seconds
 * or on SIGTERM/SIGINT/SIGHUP. Exit status 0, 1 on a setup or runtime error, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../support/loadgen.h"

#define MAX_POOL 10000
#define MAX_CHILD_CONNS 1000
#define MAX_CHILDREN 64

struct options {
  long pool, per_tick, interval_ms, child_conns, max_children, child_ticks, seconds;
  const char *ready_file;
  int quiet;
};

static volatile sig_atomic_t g_stop = 0;

static void on_stop_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: churn [-n POOL] [-c PER_TICK] [-i INTERVAL_MS] [-k CHILD_CONNS] "
          "[-j MAX_CHILDREN] [-l CHILD_TICKS] [-d SECONDS] [-r FILE] [-q]\n");
}

static int parse_options(int argc, char **argv, struct options *o) {
  *o = (struct options){500, 50, 100, 20, 4, 3, 120, NULL, 0};
  int c;
  while ((c = getopt(argc, argv, "n:c:i:k:j:l:d:r:q")) != -1) {
    int bad = 0;
    switch (c) {
      case 'n':
        bad = parse_long(optarg, 1, MAX_POOL, &o->pool);
        break;
      case 'c':
        bad = parse_long(optarg, 0, MAX_POOL, &o->per_tick);
        break;
      case 'i':
        bad = parse_long(optarg, 10, 60000, &o->interval_ms);
        break;
      case 'k':
        bad = parse_long(optarg, 0, MAX_CHILD_CONNS, &o->child_conns);
        break;
      case 'j':
        bad = parse_long(optarg, 1, MAX_CHILDREN, &o->max_children);
        break;
      case 'l':
        bad = parse_long(optarg, 1, 1000, &o->child_ticks);
        break;
      case 'd':
        bad = parse_long(optarg, 1, 3600, &o->seconds);
        break;
      case 'r':
        o->ready_file = optarg;
        break;
      case 'q':
        o->quiet = 1;
        break;
      default:
        return -1;
    }
    if (bad) {
      fprintf(stderr, "churn: -%c: bad value '%s'\n", c, optarg);
      return -1;
    }
  }
  if (optind != argc || o->per_tick > o->pool) {
    fprintf(stderr, "churn: %s\n", optind != argc ? "unexpected argument" : "-c exceeds -n");
    return -1;
  }
  return 0;
}

/* A reset instead of FIN/TIME_WAIT: the churn rate must not fill the table with TIME_WAIT. */
static void close_with_reset(int fd) {
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd);
}

static int connect_to(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Accepts every pending connection and watches it for the peer's reset or FIN. */
static int accept_pending(int listener, int epoll_fd, long *accepted) {
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    struct linger lg = {1, 0}; /* whoever closes first, no TIME_WAIT */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      return -1;
    }
    ++*accepted;
  }
}

/* A child: holds `conns` connections for `hold_ms`, then resets them and exits. */
static void run_child(const struct sockaddr_in *addr, long conns, long hold_ms) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* Only its own connections: inherited pool fds would keep the parent's sockets alive. */
  close_range(3, ~0U, 0);
  int fds[MAX_CHILD_CONNS];
  long n = 0;
  for (; n < conns; ++n) {
    fds[n] = connect_to(addr);
    if (fds[n] < 0) break;
    struct linger lg = {1, 0}; /* reset even when killed */
    setsockopt(fds[n], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  struct timespec hold = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
  while (nanosleep(&hold, &hold) != 0 && errno == EINTR && !g_stop) {
  }
  for (long i = 0; i < n; ++i) close_with_reset(fds[i]);
  _exit(n == conns ? 0 : 1);
}

static int write_ready_file(const char *path, int port, long pool) {
  char tmp[4096];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) return -1;
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  fprintf(f, "READY port=%d pool=%ld pid=%d\n", port, pool, (int)getpid());
  if (fclose(f) != 0) return -1;
  return rename(tmp, path);
}

int main(int argc, char **argv) {
  struct options o;
  if (parse_options(argc, argv, &o) != 0) {
    usage();
    return 2;
  }
  /* Dies with the driver; if the driver is already gone, do not start at all. */
  pid_t parent = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) return 1;

  struct sigaction sa = {0};
  sa.sa_handler = on_stop_signal; /* no SA_RESTART: epoll_wait returns EINTR */
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);

  long need_fds = 2 * o.pool + o.max_children * o.child_conns + 2 * o.per_tick + 64;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need_fds) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)need_fds ? rl.rlim_max : (rlim_t)need_fds;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t addr_len = sizeof(addr);
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      listen(listener, 4096) != 0 ||
      getsockname(listener, (struct sockaddr *)&addr, &addr_len) != 0) {
    perror("churn: listener");
    return 1;
  }
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.fd = listener};
  if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &lev) != 0) {
    perror("churn: epoll");
    return 1;
  }

  int *pool = calloc((size_t)o.pool, sizeof(int));
  pid_t children[MAX_CHILDREN] = {0};
  long accepted = 0, opened = 0, closed = 0, forked = 0, ticks = 0, failures = 0;
  for (long i = 0; i < o.pool; ++i) {
    pool[i] = connect_to(&addr);
    if (pool[i] < 0 || accept_pending(listener, epoll_fd, &accepted) != 0) {
      perror("churn: opening the pool");
      return 1;
    }
    ++opened;
  }
  if (o.ready_file && write_ready_file(o.ready_file, ntohs(addr.sin_port), o.pool) != 0) {
    perror("churn: ready file");
    return 1;
  }

  double start = now_seconds(), next_tick = start + o.interval_ms / 1000.0;
  long oldest = 0; /* pool is a ring: the next PER_TICK slots from here are the oldest */
  char buf[4096];
  struct epoll_event events[256];
  while (!g_stop && now_seconds() - start < (double)o.seconds) {
    double now = now_seconds();
    if (now >= next_tick) {
      ++ticks;
      next_tick += o.interval_ms / 1000.0;
      if (next_tick < now) next_tick = now + o.interval_ms / 1000.0;
      for (long i = 0; i < o.per_tick; ++i) {
        long slot = (oldest + i) % o.pool;
        close_with_reset(pool[slot]);
        ++closed;
        pool[slot] = connect_to(&addr);
        if (pool[slot] < 0) {
          ++failures;
          pool[slot] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* keep the slot valid */
        } else {
          ++opened;
        }
      }
      oldest = (oldest + o.per_tick) % o.pool;
      for (int c = 0; c < o.max_children; ++c) {
        if (children[c] > 0 && waitpid(children[c], NULL, WNOHANG) == children[c]) {
          children[c] = 0;
        }
      }
      for (int c = 0; o.child_conns > 0 && c < o.max_children; ++c) {
        if (children[c] != 0) continue;
        pid_t pid = fork();
        if (pid == 0) run_child(&addr, o.child_conns, o.child_ticks * o.interval_ms);
        if (pid > 0) {
          children[c] = pid;
          ++forked;
        } else {
          ++failures;
        }
        break; /* one new child per tick */
      }
    }
    int timeout_ms = (int)((next_tick - now_seconds()) * 1000.0);
    if (timeout_ms < 0) timeout_ms = 0;
    int n = epoll_wait(epoll_fd, events, 256, timeout_ms);
    for (int e = 0; e < n; ++e) {
      int fd = events[e].data.fd;
      if (fd == listener) {
        if (accept_pending(listener, epoll_fd, &accepted) != 0) ++failures;
        continue;
      }
      ssize_t got = recv(fd, buf, sizeof(buf), 0);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) close(fd);
    }
  }

  for (int c = 0; c < o.max_children; ++c) {
    if (children[c] > 0) kill(children[c], SIGKILL);
  }
  for (int c = 0; c < o.max_children; ++c) {
    if (children[c] > 0) waitpid(children[c], NULL, 0);
  }
  for (long i = 0; i < o.pool; ++i) close_with_reset(pool[i]);
  free(pool);
  if (o.ready_file) unlink(o.ready_file);
  if (!o.quiet) {
    printf("DONE ticks=%ld opened=%ld closed=%ld accepted=%ld children=%ld failures=%ld\n", ticks,
           opened, closed, accepted, forked, failures);
  }
  return failures > 0 ? 1 : 0;
}
