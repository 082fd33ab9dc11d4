"""Shared helpers for connwatch's end-to-end tests.

The tests run the real connwatch binary against the real kernel: sockets are held by
`sockholder` children (tests/support/sockholder.c) started under chosen executable names,
and everything talks to loopback only. Every child dies with the test (PR_SET_PDEATHSIG,
explicit teardown, an atexit hook and a watchdog), and every wait is bounded.

Environment:
  CONNWATCH_BIN   the connwatch binary (default: <repo>/build/connwatch)
  SOCKHOLDER_BIN  the sockholder binary (default: built from source into a temp dir)
  CONNLOOP_BIN    the connloop binary (default: next to SOCKHOLDER_BIN, else built from source)
  PROMTOOL_BIN    promtool (default: promtool on PATH)
  PROMETHEUS_BIN  prometheus (default: /usr/bin/prometheus)
  ALERTMANAGER_BIN  Alertmanager (default: /usr/bin/prometheus-alertmanager)
  AMTOOL_BIN      amtool (default: amtool on PATH)
"""

import atexit
import ctypes
import errno
import fcntl
import http.client
import json
import math
import os
import pwd
import random
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The process names a client run by this interpreter goes by: its executable's basename while
# it runs, and once it has exited, in an eBPF record, its comm (argv[0]'s basename, cut at 15).
PYTHON_CLIENT_NAMES = {os.path.basename(os.path.realpath(sys.executable)),
                       os.path.basename(sys.executable)[:15]}

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1

# Processes started through this module; killed at exit and by the watchdog.
_children = []


# ---------------------------------------------------------------------------------------------
# Binaries


def connwatch_bin():
    path = os.environ.get("CONNWATCH_BIN") or os.path.join(REPO_ROOT, "build", "connwatch")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"connwatch binary not found or not executable: {path} "
                           "(set CONNWATCH_BIN)")
    return os.path.abspath(path)


_built_support = {}


def _support_bin(name, variable, default_dir=None):
    """$variable, else tests/support/NAME in default_dir, else a copy built from
    tests/support/NAME.c into a temp dir (manual runs)."""
    path = os.environ.get(variable)
    if path:
        if not os.access(path, os.X_OK):
            raise RuntimeError(f"{variable} is not executable: {path}")
        return os.path.abspath(path)
    if default_dir and os.access(os.path.join(default_dir, name), os.X_OK):
        return os.path.abspath(os.path.join(default_dir, name))
    if name not in _built_support:
        out_dir = tempfile.mkdtemp(prefix=f"cw-{name}-")
        atexit.register(shutil.rmtree, out_dir, True)
        out = os.path.join(out_dir, name)
        src = os.path.join(REPO_ROOT, "tests", "support", f"{name}.c")
        subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-o", out, src], check=True,
                       timeout=120)
        _built_support[name] = out
    return _built_support[name]


def sockholder_bin():
    """SOCKHOLDER_BIN, or a copy built from tests/support/sockholder.c for manual runs."""
    return _support_bin("sockholder", "SOCKHOLDER_BIN")


def connloop_bin():
    """CONNLOOP_BIN, else the connloop built next to SOCKHOLDER_BIN (the same CMake
    directory), else a copy built from tests/support/connloop.c."""
    holder = os.environ.get("SOCKHOLDER_BIN")
    return _support_bin("connloop", "CONNLOOP_BIN", os.path.dirname(holder) if holder else None)


def promtool_bin():
    return os.environ.get("PROMTOOL_BIN") or shutil.which("promtool") or "/usr/bin/promtool"


def prometheus_bin():
    return os.environ.get("PROMETHEUS_BIN") or "/usr/bin/prometheus"


# ---------------------------------------------------------------------------------------------
# Process lifetime


def _set_pdeathsig():
    """preexec_fn: the child gets SIGKILL when the (single-threaded) test process dies."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _track(proc):
    _children.append(proc)
    return proc


def kill_process(proc, grace=5.0):
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; always reaps."""
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    if proc in _children:
        _children.remove(proc)


def kill_all_children():
    for proc in list(_children):
        if proc.poll() is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
    for proc in list(_children):
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    _children.clear()


atexit.register(kill_all_children)


def install_watchdog(seconds):
    """A hard limit for the whole script: on expiry kill every child and exit 124."""

    def expired(signum, frame):
        sys.stderr.write(f"\nconnwatch e2e: watchdog expired after {seconds} s, aborting\n")
        sys.stderr.flush()
        kill_all_children()
        os._exit(124)

    signal.signal(signal.SIGALRM, expired)
    signal.alarm(int(seconds))


def raise_nofile_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


# ---------------------------------------------------------------------------------------------
# Waiting


def wait_until(predicate, timeout, what, interval=0.2):
    """Calls predicate until it returns a truthy value (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            result = predicate()
            if result:
                return result
        except AssertionError as e:  # keep the last reason for the failure message
            last_error = e
        if time.monotonic() >= deadline:
            detail = f": {last_error}" if last_error else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")
        time.sleep(interval)


def _read_line(fd, deadline, buf):
    """Reads from fd until buf holds a newline; returns the line (bytes) or None at EOF."""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete line in time")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return None
        buf.extend(chunk)
    line, _, rest = bytes(buf).partition(b"\n")
    buf[:] = rest
    return line


# ---------------------------------------------------------------------------------------------
# Network helpers


def ephemeral_port_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = f.read().split()
    return int(low), int(high)


def free_tcp_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_udp_port_outside_ephemeral(host="127.0.0.1", low=20000, high=30000):
    """A UDP port below the ephemeral range that nobody has bound on `host` right now."""
    eph_low, _ = ephemeral_port_range()
    high = min(high, eph_low - 1)
    if high <= low:
        low, high = 1024, eph_low - 1
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free UDP port below the ephemeral range")


def enter_private_netns():
    """Moves this (single-threaded) process into a new network namespace with lo up.

    Children inherit it, so connwatch sees exactly the sockets the test made. Needs root.
    """
    CLONE_NEWNET = 0x40000000
    if _libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH14x", b"lo", 0))
        flags = struct.unpack("16sH14x", ifr)[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))

    def v6_ready():
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            try:
                s.bind(("::1", 0))
                return True
            except OSError:
                return False

    wait_until(v6_ready, 5, "::1 on lo in the new network namespace", interval=0.05)


class HttpResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower(), "")


def http_request(url, method="GET", body=None, timeout=15.0, headers=None):
    """One request on a fresh connection (closed afterwards); never raises on 4xx/5xx."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        hdrs = {"Connection": "close"}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# The text exposition format (version 0.0.4)

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ExpositionError(ValueError):
    pass


class Sample(tuple):
    """(name, labels, value); labels is a dict of str to str."""

    def __new__(cls, name, labels, value):
        return super().__new__(cls, (name, labels, value))

    name = property(lambda self: self[0])
    labels = property(lambda self: self[1])
    value = property(lambda self: self[2])


def _parse_float(text, lineno):
    # Go's strconv.ParseFloat, as Prometheus uses it: decimal, exponent, NaN, [+-]Inf.
    if re.fullmatch(r"[+-]?(Inf|inf|INF|NaN|nan)", text) or re.fullmatch(
            r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text) or re.fullmatch(
            r"[+-]?0[xX][0-9a-fA-F]+", text):
        if text.lower().lstrip("+-").startswith("0x"):
            return float(int(text, 16))
        return float(text)
    raise ExpositionError(f"line {lineno}: bad number {text!r}")


def _unescape_help(text):
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "\\n":
            out.append("\\" if text[i + 1] == "\\" else "\n")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_sample(line, lineno):
    pos = 0
    m = _METRIC_NAME.match(line, pos)
    if not m:
        raise ExpositionError(f"line {lineno}: no metric name: {line!r}")
    name = m.group(0)
    pos = m.end()
    labels = {}
    if pos < len(line) and line[pos] == "{":
        pos += 1
        while True:
            while pos < len(line) and line[pos] in " \t":
                pos += 1
            if pos < len(line) and line[pos] == "}":
                pos += 1
                break
            m = _LABEL_NAME.match(line, pos)
            if not m:
                raise ExpositionError(f"line {lineno}: bad label name at column {pos}: {line!r}")
            lname = m.group(0)
            pos = m.end()
            while pos < len(line) and line[pos] in " \t":
                pos += 1
            if line[pos:pos + 1] != "=":
                raise ExpositionError(f"line {lineno}: expected = after label {lname}")
            pos += 1
            while pos < len(line) and line[pos] in " \t":
                pos += 1
            if line[pos:pos + 1] != '"':
                raise ExpositionError(f"line {lineno}: expected \" after {lname}=")
            pos += 1
            value = []
            while True:
                if pos >= len(line):
                    raise ExpositionError(f"line {lineno}: unterminated label value for {lname}")
                c = line[pos]
                if c == "\\":
                    if pos + 1 >= len(line):
                        raise ExpositionError(f"line {lineno}: dangling backslash")
                    esc = line[pos + 1]
                    if esc == "\\":
                        value.append("\\")
                    elif esc == '"':
                        value.append('"')
                    elif esc == "n":
                        value.append("\n")
                    else:
                        raise ExpositionError(
                            f"line {lineno}: unknown escape \\{esc} in label {lname}")
                    pos += 2
                elif c == '"':
                    pos += 1
                    break
                else:
                    value.append(c)
                    pos += 1
            if lname in labels:
                raise ExpositionError(f"line {lineno}: label {lname} repeated")
            labels[lname] = "".join(value)
            while pos < len(line) and line[pos] in " \t":
                pos += 1
            if pos < len(line) and line[pos] == ",":
                pos += 1
                continue
            if pos < len(line) and line[pos] == "}":
                pos += 1
                break
            raise ExpositionError(f"line {lineno}: expected , or }} after label {lname}")
    rest = line[pos:]
    if not rest or rest[0] not in " \t":
        raise ExpositionError(f"line {lineno}: expected a space before the value: {line!r}")
    fields = rest.split()
    if len(fields) not in (1, 2):
        raise ExpositionError(f"line {lineno}: expected value [timestamp]: {line!r}")
    value = _parse_float(fields[0], lineno)
    if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
        raise ExpositionError(f"line {lineno}: bad timestamp {fields[1]!r}")
    return Sample(name, labels, value)


class Exposition:
    """A parsed /metrics body: samples plus the HELP and TYPE of each family."""

    def __init__(self, text):
        self.text = text
        self.samples = []
        self.types = {}
        self.helps = {}
        seen = set()
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            if line.startswith("#"):
                fields = line[1:].strip().split(None, 2)
                if len(fields) >= 2 and fields[0] in ("HELP", "TYPE"):
                    if not _METRIC_NAME.fullmatch(fields[1]):
                        raise ExpositionError(f"line {lineno}: bad metric name in {fields[0]}")
                    arg = fields[2] if len(fields) > 2 else ""
                    table = self.helps if fields[0] == "HELP" else self.types
                    if fields[1] in table:
                        raise ExpositionError(f"line {lineno}: second {fields[0]} for {fields[1]}")
                    if fields[0] == "TYPE":
                        if arg not in _METRIC_TYPES:
                            raise ExpositionError(f"line {lineno}: unknown type {arg!r}")
                        table[fields[1]] = arg
                    else:
                        table[fields[1]] = _unescape_help(arg)
                continue
            sample = _parse_sample(line, lineno)
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in seen:
                raise ExpositionError(f"line {lineno}: duplicate series {line!r}")
            seen.add(key)
            self.samples.append(sample)

    def select(self, name, **labels):
        """Samples named `name` whose labels include every given label=value."""
        return [s for s in self.samples if s.name == name and
                all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name, **labels):
        """The value of the one sample matching; AssertionError if none or several."""
        found = self.select(name, **labels)
        if len(found) != 1:
            raise AssertionError(f"expected exactly one {name}{labels}, found {len(found)}: "
                                 f"{found[:5]}")
        return found[0].value

    def value_or(self, name, default, **labels):
        found = self.select(name, **labels)
        if len(found) > 1:
            raise AssertionError(f"expected at most one {name}{labels}, found {found[:5]}")
        return found[0].value if found else default

    def names(self):
        return {s.name for s in self.samples}

    def series_per_name(self):
        counts = {}
        for s in self.samples:
            counts[s.name] = counts.get(s.name, 0) + 1
        return counts


def parse_exposition(text):
    """[(name, labels, value)] from a text exposition; raises ExpositionError if malformed."""
    return Exposition(text).samples


def promtool_check_metrics(body):
    """Runs `promtool check metrics` on the body (bytes or str); returns (exit code, output)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    proc = subprocess.run([promtool_bin(), "check", "metrics"], input=body,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# connwatch


_LISTENING = re.compile(r'msg="?listening"?.*?\baddress="?([^"\s]+)"?')


class _LocalServer:
    """A server this test started on 127.0.0.1:self.port, logging to self.log_path."""

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""


    def _start_on_free_port(self, name, make_args, timeout):
        """Starts make_args(port) on a free port (in self.dir, logging to self.log_path) and
        waits for /-/ready; retries when the port was taken between probe and bind."""
        for _ in range(5):
            self.port = free_tcp_port()
            with open(self.log_path, "wb") as log:
                self.proc = _track(subprocess.Popen(make_args(self.port), stdin=subprocess.DEVNULL,
                                                    stdout=log, stderr=log,
                                                    preexec_fn=_set_pdeathsig, cwd=self.dir))

            def ready():
                if self.proc.poll() is not None:
                    return "exited"
                try:
                    return http_request(self.url + "/-/ready", timeout=2).status == 200
                except OSError:
                    return False

            if wait_until(ready, timeout, f"{name} /-/ready") is True:
                return self
            kill_process(self.proc)
        raise AssertionError(f"{name} did not start; log:\n{self.log()}")

class Connwatch(_LocalServer):
    """A running `connwatch serve` on 127.0.0.1 with a kernel-chosen port."""

    def __init__(self, *flags, subcommand=("serve",), listen="127.0.0.1:0",
                 interval="1s", env=None):
        self.flags = list(flags)
        self.subcommand = list(subcommand)
        self.listen = listen
        self.interval = interval
        self.env = env
        self.proc = None
        self.port = None
        self.address = None
        self._log_dir = tempfile.mkdtemp(prefix="cw-e2e-log-")
        self.log_path = os.path.join(self._log_dir, "connwatch.stderr")

    def start(self, timeout=30):
        args = [connwatch_bin()] + self.subcommand
        if self.listen is not None:
            args.append(f"--web.listen-address={self.listen}")
        if self.interval is not None:
            args.append(f"--collect.interval={self.interval}")
        if self.subcommand in (["serve"], []) and not any(
                f.startswith("--storage.path") for f in self.flags):
            # Never the real /var/lib/connwatch: a baseline learned by a test must not
            # outlive it.
            args.append(f"--storage.path={os.path.join(self._log_dir, 'state')}")
        if self.subcommand in (["serve"], []) and not any(
                f.startswith("--collector.netns") for f in self.flags):
            # Only the namespace the test set up: other tests' namespaces may exist meanwhile.
            args.append("--collector.netns=own")
        if self.subcommand in (["serve"], []) and not any(
                f.startswith("--collect.events") for f in self.flags):
            # The connection events are tested where a test asks for them (test_events):
            # elsewhere each exporter would load its own eBPF program for nothing.
            args.append("--collect.events=off")
        args += self.flags
        self.args = args
        with open(self.log_path, "wb") as log:
            self.proc = _track(subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                preexec_fn=_set_pdeathsig, env=self.env))

        def listening():
            m = _LISTENING.search(self.log())
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                raise RuntimeError(f"connwatch exited with {self.proc.returncode} before "
                                   f"listening; args {args}; log:\n{self.log()}")
            return None

        try:
            self.address = wait_until(listening, timeout, "connwatch's 'listening' log line",
                                      interval=0.05)
        except AssertionError:
            raise AssertionError(f"connwatch did not log msg=listening within {timeout} s; "
                                 f"log:\n{self.log()}")
        host, _, port = self.address.rpartition(":")
        self.port = int(port)
        if self.port == 0:
            raise AssertionError(f"connwatch logged port 0: {self.address}")
        return self

    def get(self, path="/metrics", **kw):
        return http_request(self.url + path, **kw)

    def scrape_raw(self, path="/metrics"):
        resp = self.get(path)
        if resp.status != 200:
            raise AssertionError(f"GET {path} -> {resp.status}: {resp.body[:500]!r}")
        return resp

    def scrape(self, path="/metrics"):
        """GET the metrics; the body must be UTF-8 and parse. Returns an Exposition."""
        body = self.scrape_raw(path).body
        try:
            text = body.decode("utf-8")  # strict: invalid UTF-8 fails the test
        except UnicodeDecodeError as e:
            raise AssertionError(f"/metrics is not valid UTF-8: {e}; near "
                                 f"{body[max(0, e.start - 80):e.end + 80]!r}")
        exp = Exposition(text)
        exp.raw = body
        return exp

    def stop(self):
        if self.proc is not None:
            kill_process(self.proc)
        shutil.rmtree(self._log_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class PrefixedConnwatch(Connwatch):
    """A connwatch started through a command prefix (setpriv, unshare) that execs it in
    place, so self.proc.pid is connwatch's pid. The harness runs connwatch_bin() directly;
    a tiny wrapper script in a temporary directory puts the prefix in front."""

    def __init__(self, prefix, *flags, **kw):
        super().__init__(*flags, **kw)
        self.prefix = list(prefix)

    def start(self, timeout=60):
        global connwatch_bin
        real = connwatch_bin()
        wrapper = os.path.join(self._log_dir, "connwatch-wrapper")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec " + shlex.join(self.prefix + [real]) + ' "$@"\n')
        os.chmod(wrapper, 0o755)
        saved = connwatch_bin
        connwatch_bin = lambda: wrapper
        try:
            return super().start(timeout)
        finally:
            connwatch_bin = saved


def run_connwatch(*args, timeout=120):
    """Runs connwatch with args (a subcommand like `connections`, or flags); captures output.

    `connections` and `check` read only the test's own namespace unless args say otherwise.
    """
    args = list(args)
    if args and args[0] in ("connections", "check") and "--help" not in args and not any(
            a.startswith("--collector.netns") for a in args):
        args.insert(1, "--collector.netns=own")
    return subprocess.run([connwatch_bin()] + args, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          preexec_fn=_set_pdeathsig)


def connections_json(*flags, timeout=120):
    """`connwatch connections --format=json FLAGS` parsed; asserts exit 0 and valid UTF-8."""
    proc = run_connwatch("connections", "--format=json", *flags, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"connwatch connections --format=json {' '.join(flags)} exited "
                             f"{proc.returncode}: {proc.stderr.decode('utf-8', 'replace')}")
    try:
        text = proc.stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError(f"connections JSON is not valid UTF-8: {e}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise AssertionError(f"connections output is not JSON: {e}; near "
                             f"{text[max(0, e.pos - 80):e.pos + 80]!r}")
    if not isinstance(data, list):
        raise AssertionError(f"connections JSON is not an array: {type(data)}")
    return data


def current_user():
    return pwd.getpwuid(os.getuid()).pw_name


# ---------------------------------------------------------------------------------------------
# Socket holders


def install_executable(directory, name, source=None, link=False):
    """Puts a copy (or hardlink) of sockholder at directory/name; returns the bytes path."""
    source = os.fsencode(source or sockholder_bin())
    path = os.path.join(os.fsencode(directory), name if isinstance(name, bytes)
                        else os.fsencode(name))
    if link:
        try:
            os.link(source, path)
            return path
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
    shutil.copyfile(source, path)
    os.chmod(path, 0o755)
    return path


def named_holder(directory, name):
    """The path of a sockholder named `name` in directory/bin, installed on first use: tests
    give each role its own process name."""
    path = os.path.join(directory, "bin", name)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        install_executable(os.path.dirname(path), name)
    return path


class Holder:
    """One sockholder child; `ready` is its READY JSON (pid, ports)."""

    def __init__(self, exe, args, timeout_s=120, ready_timeout=15, prefix=()):
        # prefix: a command that execs the holder in place, e.g. `ip netns exec NAME`.
        self.exe = exe
        self.args = list(args)
        self.proc = _track(subprocess.Popen(
            list(prefix) + [exe] + self.args + [f"--timeout={timeout_s}"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        buf = bytearray()
        deadline = time.monotonic() + ready_timeout
        try:
            line = _read_line(self.proc.stdout.fileno(), deadline, buf)
        except TimeoutError:
            line = None
        if line is None or not line.startswith(b"READY "):
            if self.proc.poll() is None:
                kill_process(self.proc)
            self.proc.wait(timeout=10)
            err = self.proc.stderr.read().decode("utf-8", "replace")
            self.returncode = self.proc.returncode
            self._close()
            raise HolderError(self.proc.returncode, f"sockholder {exe!r} {self.args} did not get "
                              f"ready (exit {self.proc.returncode}): {err}")
        self.ready = json.loads(line[len(b"READY "):])
        self.pid = self.ready["pid"]
        assert self.pid == self.proc.pid, (self.pid, self.proc.pid)

    @property
    def name(self):
        return os.path.basename(self.exe)

    def _close(self):
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # end of file: the holder exits by itself
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                kill_process(self.proc)
        if self.proc in _children:
            _children.remove(self.proc)
        self._close()


class HolderError(RuntimeError):
    def __init__(self, returncode, message):
        super().__init__(message)
        self.returncode = returncode


class HolderFleet:
    """Many sockholders sharing one stdin pipe (closing it stops all) and one stdout pipe.

    Spawned from the main thread (PR_SET_PDEATHSIG follows the spawning thread).
    """

    def __init__(self):
        self.stdin_r, self.stdin_w = os.pipe()
        self.stdout_r, self.stdout_w = os.pipe()
        os.set_blocking(self.stdout_r, False)
        self.procs = []
        self.ready = []
        self._buf = bytearray()

    def spawn(self, exe, args, timeout_s=120):
        proc = subprocess.Popen([exe] + list(args) + [f"--timeout={timeout_s}"],
                                stdin=self.stdin_r, stdout=self.stdout_w,
                                stderr=None, close_fds=True)
        self.procs.append(_track(proc))
        return proc

    def collect_ready(self, count, timeout):
        """Reads READY lines until `count` holders are ready in total; bounded."""
        deadline = time.monotonic() + timeout
        while len(self.ready) < count:
            try:
                line = _read_line(self.stdout_r, min(deadline, time.monotonic() + 1), self._buf)
            except TimeoutError:
                # Slow: look for holders that died (a poll per process, so only here).
                failed = [p for p in self.procs if p.poll() not in (None, 0)]
                if failed:
                    raise AssertionError(f"{len(failed)} holders failed, e.g. pid "
                                         f"{failed[0].pid} exit {failed[0].returncode}")
                if time.monotonic() >= deadline:
                    raise AssertionError(f"only {len(self.ready)} of {count} holders ready "
                                         f"after {timeout} s")
                continue
            if line is None:
                raise AssertionError("holder stdout pipe closed early")
            if line.startswith(b"READY "):
                self.ready.append(json.loads(line[6:]))
        return self.ready

    def stop(self, timeout=30):
        os.close(self.stdin_w)  # every holder sees end of file
        self.stdin_w = None
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            if p in _children:
                _children.remove(p)
        for fd in (self.stdin_r, self.stdout_r, self.stdout_w):
            try:
                os.close(fd)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Prometheus


class Prometheus(_LocalServer):
    """A real Prometheus on 127.0.0.1 with a temporary TSDB, scraping the given targets."""

    def __init__(self, targets, job="connwatch", scrape_interval="1s", metrics_path="/metrics",
                 evaluation_interval=None, rule_files=(), alertmanagers=(), basic_auth=None,
                 scheme="http", tls_config=None):
        # rule_files: paths of rule files to load; alertmanagers: "host:port" targets that
        # get the alerts. Both empty by default (a scrape-only Prometheus). basic_auth: an
        # optional (username, password) the scrape sends. scheme "https" with tls_config (a
        # dict of Prometheus tls_config keys, e.g. ca_file) scrapes over TLS.
        self.dir = tempfile.mkdtemp(prefix="cw-e2e-prom-")
        self.config = os.path.join(self.dir, "prometheus.yml")
        self.job = job
        targets_yaml = ", ".join(json.dumps(t) for t in targets)
        with open(self.config, "w") as f:
            f.write(f"global:\n  scrape_interval: {scrape_interval}\n"
                    f"  evaluation_interval: {evaluation_interval or scrape_interval}\n"
                    f"scrape_configs:\n  - job_name: {json.dumps(job)}\n"
                    f"    scrape_interval: {scrape_interval}\n"
                    f"    scrape_timeout: {scrape_interval}\n"
                    f"    metrics_path: {json.dumps(metrics_path)}\n")
            if basic_auth:
                f.write(f"    basic_auth:\n      username: {json.dumps(basic_auth[0])}\n"
                        f"      password: {json.dumps(basic_auth[1])}\n")
            if scheme != "http":
                f.write(f"    scheme: {json.dumps(scheme)}\n")
            if tls_config:
                f.write("    tls_config:\n" + "".join(f"      {k}: {json.dumps(v)}\n"
                                                      for k, v in tls_config.items()))
            f.write(f"    static_configs:\n      - targets: [{targets_yaml}]\n")
            if rule_files:
                f.write("rule_files:\n" + "".join(f"  - {json.dumps(os.path.abspath(r))}\n"
                                                   for r in rule_files))
            if alertmanagers:
                am_yaml = ", ".join(json.dumps(a) for a in alertmanagers)
                f.write("alerting:\n  alertmanagers:\n"
                        f"    - static_configs:\n        - targets: [{am_yaml}]\n")
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "prometheus.log")

    def start(self, timeout=60):
        return self._start_on_free_port("Prometheus", lambda port: [
            prometheus_bin(), f"--config.file={self.config}",
            f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h", "--log.level=warn"], timeout)

    def api(self, path, **params):
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        resp = http_request(url, timeout=10)
        data = json.loads(resp.body)
        if resp.status != 200 or data.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params} -> {resp.status}: {data}")
        return data["data"]

    def query(self, promql):
        data = self.api("/api/v1/query", query=promql)
        return data["result"]

    def stop(self):
        if self.proc is not None:
            kill_process(self.proc, grace=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Alertmanager


def alertmanager_bin():
    return os.environ.get("ALERTMANAGER_BIN") or "/usr/bin/prometheus-alertmanager"


def amtool_bin():
    return os.environ.get("AMTOOL_BIN") or shutil.which("amtool") or "/usr/bin/amtool"


class Alertmanager(_LocalServer):
    """A real Alertmanager on 127.0.0.1 with a temporary data directory and `config_text`.

    Clustering is off (--cluster.listen-address= empty), so it gossips on no port.
    """

    def __init__(self, config_text):
        self.dir = tempfile.mkdtemp(prefix="cw-e2e-am-")
        self.config = os.path.join(self.dir, "alertmanager.yml")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "alertmanager.log")

    def start(self, timeout=60):
        return self._start_on_free_port("Alertmanager", lambda port: [
            alertmanager_bin(), f"--config.file={self.config}",
            f"--storage.path={os.path.join(self.dir, 'data')}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=", "--log.level=warn"], timeout)

    def alerts(self):
        """GET /api/v2/alerts: the alerts Alertmanager holds (list of dicts)."""
        resp = http_request(self.url + "/api/v2/alerts", timeout=10)
        if resp.status != 200:
            raise AssertionError(f"Alertmanager /api/v2/alerts -> {resp.status}: {resp.body!r}")
        return json.loads(resp.body)

    def stop(self):
        if self.proc is not None:
            kill_process(self.proc, grace=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Policy checks


def write_file(directory, name, text):
    """Writes text to directory/name (atomically: a reload never sees half a file)."""
    path = os.path.join(directory, name)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)
    return path


def wait_for_scrape(cw, predicate, timeout, what, interval=0.1):
    """Scrapes cw until predicate(exposition) holds (bounded); returns that exposition.

    predicate may raise AssertionError to explain what it is still missing.
    """
    def attempt():
        exp = cw.scrape()
        return exp if predicate(exp) else None
    return wait_until(attempt, timeout, what, interval=interval)


def findings(exp, **labels):
    """The connwatch_finding_info samples whose labels include the given ones."""
    return exp.select("connwatch_finding_info", **labels)


# The Kubernetes names of a socket's pod (empty on the host), on the per-process families,
# connwatch_listener_info and connwatch_finding_info.
WORKLOAD_LABELS = {"namespace", "pod", "container"}

FINDING_LABELS = {"check", "process", "pid", "protocol", "local_address", "local_port",
                  "remote_address", "remote_port", "direction", "remote_zone", "age_source", "exe",
                  "netns", "namespace", "pod", "container"}

# connwatch_listener_info's labels: the socket, its owner, the verdict, its namespace and pod.
LISTENER_LABELS = {"protocol", "address", "port", "process", "expected", "netns"} | WORKLOAD_LABELS


def is_finite(x):
    return not (math.isnan(x) or math.isinf(x))
