#!/usr/bin/env python3
"""Accept queues and owners that exit mid-sample, on Debian's nginx and the real kernel.

A socket the kernel completed but nobody accept()ed yet has no file, hence inode 0 and no
fd to find its owner by: connwatch gives it its listener's owners and counts it in
connwatch_unattributed_connections{reason="accept_queue"}. A client that exits between the
socket dump and the fd walk is counted as owner_exited and not judged; no path finding ever
says process="" for either.

The test runs in a private network namespace (connwatch's "host"), linked by a veth pair to
one peer namespace (10.232.1.2, in the built-in zone "internal"). Steps, in order:
 1. nginx (master + 2 workers, its own config, pid/log/temp paths in a temp dir) listens on
    10.232.1.1:18080, a Python listener that never calls accept() on 10.232.1.1:18081;
    connwatch learns for 3 s while peer clients hold keep-alive requests to nginx and queued
    connections to the Python listener, and host clients hold connections to nginx.
 2. The workers are stopped (SIGSTOP) and 12 peer clients queue on nginx: in every scrape
    while they wait, no finding; the queued sockets are nginx's (connwatch_process_connections
    and `connwatch connections`: owners = master and workers, attribution accept_queue);
    unattributed_connections{reason="accept_queue"} >= 12.
 3. The same with 6 clients queued on the Python listener: its pid owns them.
 4. 1,000 short host clients (connect, send a byte, exit) against nginx while connwatch
    samples every 100 ms, scraped every ~20 ms: no path finding with process="" in any
    scrape, and owner_exited > 0 in at least one (here ~15% of scrapes see it; the exact
    reasons are unit-tested with a fake /proc in tests/unit/attribution_test.cpp).
Every load is bounded (counts and timeouts); the whole run takes ~20 s.
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402

HOST, PEER = "10.232.1.1", "10.232.1.2"
NGINX_PORT, PY_PORT = 18080, 18081
LEARN_FOR = 3.0
NGINX_QUEUED, PY_QUEUED = 12, 6
SHORT_CLIENTS = 1000

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen {host}:{port} backlog=256;
    location / {{ return 200 "ok\\n"; }}
  }}
}}
"""

# Clients and the listener that never accepts, run as separate processes (in the peer
# namespace or here). Each prints "ready" once its sockets are up and ends on stdin's EOF or
# its time limit, whichever comes first.
CLIENT = r"""
import os, select, socket, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
count, limit = int(sys.argv[4]), float(sys.argv[5])

def wait_for_stdin():
    select.select([sys.stdin], [], [], limit)

if mode == "listen":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(64)  # and never accept()
    print("ready", flush=True)
    wait_for_stdin()
elif mode in ("hold", "http"):
    held = []
    for _ in range(count):
        c = socket.create_connection((host, port), timeout=5)
        if mode == "http":
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        held.append(c)
    if mode == "http":  # answered: accepted by a worker, kept alive
        for c in held:
            c.recv(4096)
    print("ready", flush=True)
    wait_for_stdin()
elif mode == "loop":
    started = time.monotonic()
    for _ in range(count):
        if time.monotonic() - started > limit:
            break
        pid = os.fork()
        if pid == 0:
            try:
                c = socket.create_connection((host, port), timeout=2)
                c.send(b"x")
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    print("ready", flush=True)
"""


class AcceptQueueTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        netns.install_watchdog(55)
        h.enter_private_netns()
        cls.procs = []
        cls.cw = None
        cls.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-accept-")
        cls.lab = netns.Lab()
        try:
            cls.peer = cls.lab.add_namespace("cli")
            cls.lab.link(cls.peer, [f"{HOST}/24"], [f"{PEER}/24"])
            cls.client_py = h.write_file(cls.tmp.name, "client.py", CLIENT)
            cls.start_nginx()
            cls.listener = cls.spawn("listen", HOST, PY_PORT, 0, limit=55)
            policy = h.write_file(cls.tmp.name, "policy.yaml",
                                  f"baseline:\n  learn_for: {int(LEARN_FOR)}s\n")
            storage = os.path.join(cls.tmp.name, "storage")
            os.mkdir(storage)
            cls.cw = h.Connwatch(f"--config.file={policy}", f"--storage.path={storage}",
                                 interval="100ms").start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.cw is not None:
            cls.cw.stop()
        for proc in reversed(cls.procs):
            try:
                proc.send_signal(signal.SIGCONT)
            except ProcessLookupError:
                pass
            h.kill_process(proc)
        cls.lab.close()
        cls.tmp.cleanup()

    @classmethod
    def start_nginx(cls):
        tmp = cls.tmp.name
        conf = h.write_file(tmp, "nginx.conf",
                            NGINX_CONF.format(tmp=tmp, host=HOST, port=NGINX_PORT))
        log = open(os.path.join(tmp, "nginx.out"), "wb")
        cls.nginx = subprocess.Popen(["nginx", "-p", tmp, "-e", os.path.join(tmp, "error.log"),
                                      "-c", conf], stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log)
        cls.procs.append(cls.nginx)

        def workers():
            found = []
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == cls.nginx.pid:
                    found.append(int(entry))
            if cls.nginx.poll() is not None:
                raise RuntimeError(f"nginx exited {cls.nginx.returncode}: "
                                   f"{open(os.path.join(tmp, 'error.log')).read()}")
            return sorted(found) if len(found) == 2 else None

        cls.workers = h.wait_until(workers, 10, "nginx's two workers")

    @classmethod
    def spawn(cls, mode, host, port, count, limit=30.0, ns=None):
        """Starts CLIENT in `mode` (in the peer namespace when ns is set); waits for ready."""
        prefix = netns.exec_prefix(ns) if ns else []
        proc = subprocess.Popen(prefix + [sys.executable, cls.client_py, mode, host, str(port),
                                          str(count), str(limit)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        cls.procs.append(proc)
        line = h.wait_until(lambda: proc.stdout.readline() or b"eof", 30, f"{mode} ready")
        if line.strip() != b"ready":
            raise AssertionError(f"{mode} client: {line!r}, exit {proc.poll()}")
        return proc

    @classmethod
    def finish(cls, proc):
        proc.stdin.close()
        proc.wait(timeout=10)

    def queued_rows(self, port):
        rows = h.connections_json()
        return [r for r in rows if r["local_port"] == port and r["inode"] == 0
                and r["state"] in ("established", "close_wait")]

    def owner_pids(self, rows, port):
        listeners = [r for r in rows if r["local_port"] == port and r["role"] == "listener"]
        self.assertEqual(len(listeners), 1, listeners)
        return sorted(o["pid"] for o in listeners[0]["owners"])

    def lab_findings(self, exp):
        """Findings, but those on the test's own scrapes of connwatch (short connections a
        learning sample may have missed)."""
        own = str(self.cw.port)
        return [f for f in h.findings(exp)
                if own not in (f.labels["local_port"], f.labels["remote_port"])]

    def assert_quiet_while_queued(self, count, what):
        """Scrapes ten samples while `count` or more clients wait: no finding in any."""
        exp = h.wait_for_scrape(
            self.cw, lambda e: e.value_or("connwatch_unattributed_connections", 0,
                                          reason="accept_queue") >= count,
            10, f"{count} {what} clients counted as accept_queue")
        first = exp.value("connwatch_samples_total")
        while exp.value("connwatch_samples_total") < first + 10:
            self.assertEqual(self.lab_findings(exp), [], f"findings while {what} clients wait")
            # What ConnwatchLateralMovement / ConnwatchUnexpectedExternalPath fire on.
            violations = [v for v in exp.select("connwatch_path_violations")
                          if v.labels["port"] != str(self.cw.port) and v.value > 0]
            self.assertEqual(violations, [], f"path violations while {what} clients wait")
            self.assertGreaterEqual(
                exp.value("connwatch_unattributed_connections", reason="accept_queue"), count)
            time.sleep(0.05)
            exp = self.cw.scrape()
        return exp

    # --- steps -----------------------------------------------------------------------------

    def test_1_learn_with_traffic(self):
        keep_alive = self.spawn("http", HOST, NGINX_PORT, 5, ns=self.peer)
        queued = self.spawn("hold", HOST, PY_PORT, 3, ns=self.peer)
        local = self.spawn("hold", HOST, NGINX_PORT, 3)
        exp = h.wait_for_scrape(self.cw, lambda e: e.value("connwatch_baseline_learning") == 0,
                                LEARN_FOR + 5, "learning to end")
        for proc in (keep_alive, queued, local):
            self.finish(proc)
        self.assertEqual(self.lab_findings(exp), [])
        self.assertGreaterEqual(exp.value("connwatch_baseline_rules", section="paths"), 3)

    def test_2_nginx_workers_stopped(self):
        for pid in self.workers:
            os.kill(pid, signal.SIGSTOP)
        try:
            clients = self.spawn("hold", HOST, NGINX_PORT, NGINX_QUEUED, ns=self.peer)
            exp = self.assert_quiet_while_queued(NGINX_QUEUED, "nginx")
            served = exp.value_or("connwatch_process_connections", 0, process="nginx",
                                  direction="inbound", remote_zone="internal")
            self.assertGreaterEqual(served, NGINX_QUEUED, "queued clients are nginx's")
            self.assertEqual(exp.select("connwatch_process_connections", process=""), [])

            rows = h.connections_json()
            nginx = self.owner_pids(rows, NGINX_PORT)
            self.assertEqual(nginx, sorted([self.nginx.pid] + self.workers))
            queued = self.queued_rows(NGINX_PORT)
            self.assertGreaterEqual(len(queued), NGINX_QUEUED, queued)
            for row in queued:
                self.assertEqual(row["attribution"], "accept_queue", row)
                self.assertEqual(sorted(o["pid"] for o in row["owners"]), nginx, row)
                self.assertEqual({o["name"] for o in row["owners"]}, {"nginx"}, row)
        finally:
            for pid in self.workers:
                os.kill(pid, signal.SIGCONT)
        self.finish(clients)

    def test_3_listener_that_never_accepts(self):
        clients = self.spawn("hold", HOST, PY_PORT, PY_QUEUED, ns=self.peer)
        self.assert_quiet_while_queued(PY_QUEUED, "python")
        queued = self.queued_rows(PY_PORT)
        self.assertGreaterEqual(len(queued), PY_QUEUED, queued)
        for row in queued:
            self.assertEqual(row["attribution"], "accept_queue", row)
            self.assertEqual([o["pid"] for o in row["owners"]], [self.listener.pid], row)
        self.finish(clients)

    def test_4_short_clients_never_judged_as_nobody(self):
        loop = subprocess.Popen([sys.executable, self.client_py, "loop", HOST, str(NGINX_PORT),
                                 str(SHORT_CLIENTS), "20"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE)
        self.procs.append(loop)
        scrapes, nobody, exited, samples = 0, [], 0, set()
        deadline = time.monotonic() + 25
        while loop.poll() is None and time.monotonic() < deadline:
            exp = self.cw.scrape()
            scrapes += 1
            samples.add(exp.value("connwatch_samples_total"))
            nobody += [f for f in h.findings(exp) if f.labels["process"] == ""]
            if exp.value("connwatch_unattributed_connections", reason="owner_exited") > 0:
                exited += 1
            time.sleep(0.02)
        self.assertEqual(loop.wait(timeout=5), 0)
        self.assertEqual(loop.stdout.read().strip(), b"ready")
        self.assertGreaterEqual(len(samples), 10, "too few samples during the loop")
        self.assertEqual(nobody, [], "findings with process=\"\" during the short clients")
        # Short clients (and the test's own scrape connections) close between the dump and the
        # fd walk in ~15% of samples here; one in 340 scrapes is far below that.
        self.assertGreater(exited, 0, "owner_exited never counted")
        sys.stderr.write(f"\n{SHORT_CLIENTS} short clients: {scrapes} scrapes of "
                         f"{len(samples)} samples, owner_exited > 0 in {exited} scrapes\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
