/*
 * sockholder - holds a few loopback sockets under whatever executable name it was started as.
 *
 * The end-to-end tests copy or hardlink this binary to hostile file names (invalid UTF-8,
 * quotes, newlines, ...) or to thousands of unique names, start it, and check how connwatch
 * attributes and labels the sockets it holds.
 *
 * Usage: sockholder [options]
 *   --tcp-listen ADDR[:PORT]  a TCP listener (port 0 or none = kernel-chosen). IPv6 addresses
 *                             in brackets when a port is given: [::1]:0, or bare: ::1.
 *   --udp ADDR:PORT           a bound, unconnected UDP socket.
 *   --pair[=ADDR]             an established TCP pair on ADDR (default 127.0.0.1): a listener
 *                             on ADDR:0 (kept open, so the accepted end is inbound), a client
 *                             connected to it, and the accepted server end.
 *   --udp-pair[=ADDR]         two UDP sockets on ADDR:0 connected to each other.
 *   --time-wait[=ADDR]        leave one TCP socket in TIME_WAIT (owned by the kernel, inode 0):
 *                             connect to a temporary listener, close the client end first.
 *   --comm HEX                set the process's comm (/proc/PID/comm) to these raw bytes
 *                             (hex, at most 15 bytes, no NUL) with prctl(PR_SET_NAME).
 *   --ready-file PATH         also write the READY line to PATH (atomically) when set up.
 *   --timeout SECONDS         exit after this long (default 120, 0 < SECONDS <= 86400).
 *   --ignore-stdin            do not exit on end of file on standard input.
 *   --connect ADDR:PORT       an established TCP connection to a listener elsewhere (another
 *                             process, possibly in another network namespace); the connect
 *                             gives up after 5 s (exit 1).
 *   --accept                  while waiting, accept connections on the --tcp-listen sockets
 *                             and keep them open (so accepted ends have this process as owner).
 *   --netns-inode INODE       also accept addresses that are not loopback (0.0.0.0, veth
 *                             addresses), but only when this process's network namespace has
 *                             this inode (a namespace the test created; refused when it is the
 *                             namespace of PID 1, if readable). Without it, loopback only.
 *
 * When every socket is set up it writes one line to stdout with a single write(2) (so many
 * holders can share one pipe; lines stay below PIPE_BUF):
 *   READY {"pid":N,"tcp_listen":[{"address":"127.0.0.1","port":P}],"udp":[...],
 *          "pairs":[{"address":"127.0.0.1","listen_port":L,"client_port":C}],
 *          "udp_pairs":[{"address":..,"ports":[A,B]}],"time_wait":[{"address":..,"port":C}],
 *          "connects":[{"address":REMOTE,"port":P,"local_address":L,"local_port":LP}]}
 * Then it waits until standard input reaches end of file, a signal ends it, or the timeout
 * passes. It dies with its parent (PR_SET_PDEATHSIG SIGKILL). Exit status: 0 after a normal
 * wait, 1 when a socket could not be set up (message on stderr), 2 on bad usage, 3 when a
 * bind failed with EADDRINUSE (the caller may retry with another port).
 *
 * Only loopback addresses are accepted (unless --netns-inode names the private network
 * namespace this runs in), so the tests cannot send traffic anywhere else.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITEMS 64
#define OUT_CAP 4000 /* below PIPE_BUF (4096): one atomic write on a shared pipe */

static char out[OUT_CAP];
static size_t out_len;
static int out_overflow;

static void die(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "sockholder[%d]: ", (int)getpid());
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(status);
}

static void emit(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out + out_len, sizeof(out) - out_len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(out) - out_len)
    out_overflow = 1;
  else
    out_len += (size_t)n;
}

struct endpoint {
  struct sockaddr_storage ss;
  socklen_t len;
  int family;
};

/* Set by --netns-inode once the namespace check passed. */
static int allow_any_address;

static int is_loopback(const struct endpoint *ep) {
  if (ep->family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ep->ss;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ep->ss;
  return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

/* Parses "1.2.3.4", "1.2.3.4:5", "::1", "[::1]", "[::1]:5". Port defaults to 0. */
static int parse_endpoint(const char *text, int need_port, struct endpoint *ep) {
  char host[INET6_ADDRSTRLEN + 2];
  const char *port_text = NULL;
  memset(ep, 0, sizeof(*ep));
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || (size_t)(close - text - 1) >= sizeof(host)) return -1;
    memcpy(host, text + 1, (size_t)(close - text - 1));
    host[close - text - 1] = '\0';
    if (close[1] == ':')
      port_text = close + 2;
    else if (close[1] != '\0')
      return -1;
  } else {
    const char *colon = strchr(text, ':');
    if (colon && strchr(colon + 1, ':')) colon = NULL; /* bare IPv6 address, no port */
    size_t n = colon ? (size_t)(colon - text) : strlen(text);
    if (n >= sizeof(host)) return -1;
    memcpy(host, text, n);
    host[n] = '\0';
    if (colon) port_text = colon + 1;
  }
  long port = 0;
  if (port_text) {
    char *end;
    errno = 0;
    port = strtol(port_text, &end, 10);
    if (errno || *port_text == '\0' || *end != '\0' || port < 0 || port > 65535) return -1;
  } else if (need_port) {
    return -1;
  }
  struct sockaddr_in *in = (struct sockaddr_in *)&ep->ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ep->ss;
  if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((unsigned short)port);
    ep->family = AF_INET;
    ep->len = sizeof(*in);
  } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((unsigned short)port);
    ep->family = AF_INET6;
    ep->len = sizeof(*in6);
  } else {
    return -1;
  }
  return (allow_any_address || is_loopback(ep)) ? 0 : -1;
}

/* --netns-inode: non-loopback addresses only inside the namespace the caller created. */
static void check_netns(const char *text) {
  char *end;
  errno = 0;
  unsigned long long want = strtoull(text, &end, 10);
  if (errno || *text == '\0' || *end != '\0' || want == 0) die(2, "--netns-inode wants a number");
  struct stat mine, init;
  if (stat("/proc/self/ns/net", &mine) != 0) die(1, "/proc/self/ns/net: %s", strerror(errno));
  if ((unsigned long long)mine.st_ino != want)
    die(2, "--netns-inode %s: this process is in network namespace %llu", text,
        (unsigned long long)mine.st_ino);
  if (stat("/proc/1/ns/net", &init) == 0 && init.st_ino == mine.st_ino)
    die(2, "--netns-inode %s: that is PID 1's network namespace", text);
  allow_any_address = 1;
}

/* A TCP connection to ep, given up after timeout_ms. */
static int tcp_connect(const struct endpoint *ep, int timeout_ms, const char *what) {
  int fd = socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die(1, "%s: socket: %s", what, strerror(errno));
  if (connect(fd, (const struct sockaddr *)&ep->ss, ep->len) != 0) {
    if (errno != EINPROGRESS) die(1, "%s: connect: %s", what, strerror(errno));
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = poll(&p, 1, timeout_ms);
    if (n <= 0) die(1, "%s: connect: %s", what, n == 0 ? "timed out" : strerror(errno));
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
      die(1, "%s: connect: %s", what, strerror(err ? err : errno));
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    die(1, "%s: fcntl: %s", what, strerror(errno));
  return fd;
}

static const char *addr_text(const struct endpoint *ep, char *buf, size_t cap) {
  const void *a = ep->family == AF_INET
                      ? (const void *)&((const struct sockaddr_in *)&ep->ss)->sin_addr
                      : (const void *)&((const struct sockaddr_in6 *)&ep->ss)->sin6_addr;
  return inet_ntop(ep->family, a, buf, (socklen_t)cap);
}

static int local_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    die(1, "getsockname: %s", strerror(errno));
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int open_bound(const struct endpoint *ep, int type, const char *what) {
  int fd = socket(ep->family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) die(1, "%s: socket: %s", what, strerror(errno));
  if (ep->family == AF_INET6) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
      die(1, "%s: IPV6_V6ONLY: %s", what, strerror(errno));
  }
  if (bind(fd, (const struct sockaddr *)&ep->ss, ep->len) != 0)
    die(errno == EADDRINUSE ? 3 : 1, "%s: bind: %s", what, strerror(errno));
  return fd;
}

static int tcp_listener(const struct endpoint *ep, const char *what) {
  int fd = open_bound(ep, SOCK_STREAM, what);
  if (listen(fd, 16) != 0) die(1, "%s: listen: %s", what, strerror(errno));
  return fd;
}

/* A connected client/server pair through listener lfd; returns the client fd. */
static int connect_pair(int lfd, const struct endpoint *ep, int *server_fd, const char *what) {
  struct endpoint target = *ep;
  int port = local_port(lfd);
  if (ep->family == AF_INET)
    ((struct sockaddr_in *)&target.ss)->sin_port = htons((unsigned short)port);
  else
    ((struct sockaddr_in6 *)&target.ss)->sin6_port = htons((unsigned short)port);
  int cfd = socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (cfd < 0) die(1, "%s: socket: %s", what, strerror(errno));
  if (connect(cfd, (const struct sockaddr *)&target.ss, target.len) != 0)
    die(1, "%s: connect: %s", what, strerror(errno));
  int sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  if (sfd < 0) die(1, "%s: accept: %s", what, strerror(errno));
  *server_fd = sfd;
  return cfd;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void set_comm(const char *hex) {
  char name[16];
  size_t n = strlen(hex);
  if (n == 0 || n % 2 != 0 || n / 2 > 15) die(2, "--comm wants 1 to 15 bytes as hex");
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) die(2, "--comm: bad hex or NUL byte");
    name[i] = (char)(hi * 16 + lo);
  }
  name[n / 2] = '\0';
  if (prctl(PR_SET_NAME, name, 0, 0, 0) != 0) die(1, "PR_SET_NAME: %s", strerror(errno));
}

static void write_ready_file(const char *path, const char *line, size_t len) {
  char tmp[4096];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
    die(2, "--ready-file path too long");
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die(1, "%s: %s", tmp, strerror(errno));
  if (write(fd, line, len) != (ssize_t)len || close(fd) != 0 || rename(tmp, path) != 0)
    die(1, "cannot write %s: %s", path, strerror(errno));
}

static void usage(void) {
  fprintf(stderr,
          "usage: sockholder [--tcp-listen ADDR[:PORT]]... [--udp ADDR:PORT]...\n"
          "                  [--pair[=ADDR]]... [--udp-pair[=ADDR]]... [--time-wait[=ADDR]]\n"
          "                  [--comm HEX] [--ready-file PATH] [--timeout SECONDS]\n"
          "                  [--ignore-stdin] [--connect ADDR:PORT]... [--accept]\n"
          "                  [--netns-inode INODE]\n");
  exit(2);
}

int main(int argc, char **argv) {
  /* Die with the parent; if it is already gone, do not linger. */
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
    die(1, "PR_SET_PDEATHSIG: %s", strerror(errno));
  if (getppid() != parent) return 1;

  const char *tcp_listen[MAX_ITEMS], *udp[MAX_ITEMS], *pairs[MAX_ITEMS], *udp_pairs[MAX_ITEMS];
  const char *time_waits[MAX_ITEMS], *connects[MAX_ITEMS];
  int n_tcp = 0, n_udp = 0, n_pairs = 0, n_udp_pairs = 0, n_time_waits = 0, n_connects = 0;
  const char *comm = NULL, *ready_file = NULL, *netns_inode = NULL;
  int accept_conns = 0;
  int listen_fds[MAX_ITEMS];
  long timeout = 120;
  int ignore_stdin = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
#define TAKE_VALUE()                 \
  do {                               \
    const char *eq = strchr(a, '='); \
    if (eq) {                        \
      val = eq + 1;                  \
    } else {                         \
      if (i + 1 >= argc) usage();    \
      val = argv[++i];               \
    }                                \
  } while (0)
#define OPT(name) \
  (strncmp(a, name, strlen(name)) == 0 && (a[strlen(name)] == '\0' || a[strlen(name)] == '='))
#define OPTIONAL_ADDR() (strchr(a, '=') ? strchr(a, '=') + 1 : "127.0.0.1")
#define PUSH(list, count, value)                                \
  do {                                                          \
    if ((count) >= MAX_ITEMS) die(2, "too many %s options", a); \
    (list)[(count)++] = (value);                                \
  } while (0)
    if (OPT("--tcp-listen")) {
      TAKE_VALUE();
      PUSH(tcp_listen, n_tcp, val);
    } else if (OPT("--udp")) {
      TAKE_VALUE();
      PUSH(udp, n_udp, val);
    } else if (OPT("--pair")) {
      PUSH(pairs, n_pairs, OPTIONAL_ADDR());
    } else if (OPT("--udp-pair")) {
      PUSH(udp_pairs, n_udp_pairs, OPTIONAL_ADDR());
    } else if (OPT("--time-wait")) {
      PUSH(time_waits, n_time_waits, OPTIONAL_ADDR());
    } else if (OPT("--comm")) {
      TAKE_VALUE();
      comm = val;
    } else if (OPT("--ready-file")) {
      TAKE_VALUE();
      ready_file = val;
    } else if (OPT("--timeout")) {
      TAKE_VALUE();
      char *end;
      errno = 0;
      timeout = strtol(val, &end, 10);
      if (errno || *val == '\0' || *end != '\0' || timeout <= 0 || timeout > 86400)
        die(2, "--timeout wants 1..86400 seconds");
    } else if (strcmp(a, "--ignore-stdin") == 0) {
      ignore_stdin = 1;
    } else if (OPT("--connect")) {
      TAKE_VALUE();
      PUSH(connects, n_connects, val);
    } else if (strcmp(a, "--accept") == 0) {
      accept_conns = 1;
    } else if (OPT("--netns-inode")) {
      TAKE_VALUE();
      netns_inode = val;
    } else {
      usage();
    }
  }

  if (comm) set_comm(comm);
  if (netns_inode) check_netns(netns_inode);

  char buf[INET6_ADDRSTRLEN];
  struct endpoint ep;
  emit("READY {\"pid\":%d,\"tcp_listen\":[", (int)getpid());
  for (int i = 0; i < n_tcp; i++) {
    if (parse_endpoint(tcp_listen[i], 0, &ep) != 0)
      die(2, "--tcp-listen %s: not a loopback ADDR[:PORT]", tcp_listen[i]);
    int fd = tcp_listener(&ep, "--tcp-listen");
    listen_fds[i] = fd;
    emit("%s{\"address\":\"%s\",\"port\":%d}", i ? "," : "", addr_text(&ep, buf, sizeof(buf)),
         local_port(fd));
  }
  emit("],\"udp\":[");
  for (int i = 0; i < n_udp; i++) {
    if (parse_endpoint(udp[i], 1, &ep) != 0) die(2, "--udp %s: not a loopback ADDR:PORT", udp[i]);
    int fd = open_bound(&ep, SOCK_DGRAM, "--udp");
    emit("%s{\"address\":\"%s\",\"port\":%d}", i ? "," : "", addr_text(&ep, buf, sizeof(buf)),
         local_port(fd));
  }
  emit("],\"pairs\":[");
  for (int i = 0; i < n_pairs; i++) {
    if (parse_endpoint(pairs[i], 0, &ep) != 0)
      die(2, "--pair=%s: not a loopback address", pairs[i]);
    int lfd = tcp_listener(&ep, "--pair");
    int sfd;
    int cfd = connect_pair(lfd, &ep, &sfd, "--pair");
    emit("%s{\"address\":\"%s\",\"listen_port\":%d,\"client_port\":%d}", i ? "," : "",
         addr_text(&ep, buf, sizeof(buf)), local_port(lfd), local_port(cfd));
  }
  emit("],\"udp_pairs\":[");
  for (int i = 0; i < n_udp_pairs; i++) {
    if (parse_endpoint(udp_pairs[i], 0, &ep) != 0)
      die(2, "--udp-pair=%s: not a loopback address", udp_pairs[i]);
    struct endpoint a_ep = ep, b_ep = ep;
    int a = open_bound(&a_ep, SOCK_DGRAM, "--udp-pair");
    int b = open_bound(&b_ep, SOCK_DGRAM, "--udp-pair");
    a_ep.len = b_ep.len = sizeof(a_ep.ss);
    if (getsockname(a, (struct sockaddr *)&a_ep.ss, &a_ep.len) != 0 ||
        getsockname(b, (struct sockaddr *)&b_ep.ss, &b_ep.len) != 0)
      die(1, "--udp-pair: getsockname: %s", strerror(errno));
    if (connect(a, (struct sockaddr *)&b_ep.ss, b_ep.len) != 0 ||
        connect(b, (struct sockaddr *)&a_ep.ss, a_ep.len) != 0)
      die(1, "--udp-pair: connect: %s", strerror(errno));
    emit("%s{\"address\":\"%s\",\"ports\":[%d,%d]}", i ? "," : "", addr_text(&ep, buf, sizeof(buf)),
         local_port(a), local_port(b));
  }
  emit("],\"time_wait\":[");
  for (int i = 0; i < n_time_waits; i++) {
    if (parse_endpoint(time_waits[i], 0, &ep) != 0)
      die(2, "--time-wait=%s: not a loopback address", time_waits[i]);
    int lfd = tcp_listener(&ep, "--time-wait");
    int sfd;
    int cfd = connect_pair(lfd, &ep, &sfd, "--time-wait");
    int port = local_port(cfd);
    /* The side that closes first ends in TIME_WAIT once the peer's FIN arrives. */
    close(cfd);
    char c;
    if (read(sfd, &c, 1) != 0) die(1, "--time-wait: expected end of file from the closed client");
    close(sfd);
    close(lfd);
    emit("%s{\"address\":\"%s\",\"port\":%d}", i ? "," : "", addr_text(&ep, buf, sizeof(buf)),
         port);
  }
  emit("],\"connects\":[");
  for (int i = 0; i < n_connects; i++) {
    if (parse_endpoint(connects[i], 1, &ep) != 0)
      die(2, "--connect %s: not a loopback ADDR:PORT", connects[i]);
    int fd = tcp_connect(&ep, 5000, "--connect");
    struct endpoint local;
    local.len = sizeof(local.ss);
    if (getsockname(fd, (struct sockaddr *)&local.ss, &local.len) != 0)
      die(1, "--connect: getsockname: %s", strerror(errno));
    local.family = local.ss.ss_family;
    char lbuf[INET6_ADDRSTRLEN];
    emit("%s{\"address\":\"%s\",\"port\":%d,\"local_address\":\"%s\",\"local_port\":%d}",
         i ? "," : "", addr_text(&ep, buf, sizeof(buf)),
         ntohs(ep.family == AF_INET ? ((struct sockaddr_in *)&ep.ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ep.ss)->sin6_port),
         addr_text(&local, lbuf, sizeof(lbuf)), local_port(fd));
  }
  emit("]}\n");
  if (out_overflow) die(2, "too many sockets for one READY line");

  if (ready_file) write_ready_file(ready_file, out, out_len);
  if (write(STDOUT_FILENO, out, out_len) != (ssize_t)out_len)
    die(1, "cannot write READY line: %s", strerror(errno));

  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long elapsed_ms =
        (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
    long long left_ms = timeout * 1000LL - elapsed_ms;
    if (left_ms <= 0) break;
    /* p[0] is stdin (ignored as fd -1 when not watched); then the listeners, if accepting. */
    struct pollfd p[1 + MAX_ITEMS];
    int np = 1;
    p[0] = (struct pollfd){.fd = ignore_stdin ? -1 : STDIN_FILENO, .events = POLLIN};
    for (int i = 0; accept_conns && i < n_tcp; i++)
      p[np++] = (struct pollfd){.fd = listen_fds[i], .events = POLLIN};
    int n = poll(p, (nfds_t)np, left_ms > 60000 ? 60000 : (int)left_ms);
    if (n < 0 && errno != EINTR) die(1, "poll: %s", strerror(errno));
    for (int i = 1; n > 0 && i < np; i++) {
      /* Accepted connections stay open (and owned by this process) until exit. */
      if (p[i].revents & POLLIN) accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
    }
    if (n > 0 && p[0].revents) {
      if (p[0].revents & POLLNVAL)
        ignore_stdin = 1; /* stdin closed by the caller: wait for timeout or signal */
      else {
        char drain[256];
        ssize_t r = read(STDIN_FILENO, drain, sizeof(drain));
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) break;
      }
    }
  }
  if (ready_file) unlink(ready_file);
  return 0;
}
