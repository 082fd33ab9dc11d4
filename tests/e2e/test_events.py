#!/usr/bin/env python3
"""Connections between samples (--collect.events): counted, judged, held, with their bytes.

Runs in a private network namespace (the "host" side) with one named namespace "peer" made by
the test and linked by a veth pair (192.0.2.1 here, 192.0.2.2 there, inside this test's
192.0.2.0/30; TEST-NET-1, so the peer is in the built-in "external" zone). A server inside the
peer namespace accepts on 192.0.2.2:18100, reads everything and answers 100 bytes; port 18101
is closed. A client on the host side (python3, its own process) makes the connections, each far
shorter than connwatch's 10 s interval, and exits before connwatch's next sample.

For each event source (eBPF when this build and kernel have it; sock_diag destroy
notifications):
  - 20 connections of 100 ms each between two samples: connections_opened_total{outbound,
    external} rises by exactly 20 (eBPF: for the client's process; sock_diag: process="" unless
    a sample saw the connection), finding_events_total{path_violation} by 20 under a policy that
    allows only loopback (and by 3 for the refused attempts), and 20 findings are held in connwatch_finding_info{ended="true"} with
    the peer address (eBPF: and the client's pid) after the client has exited;
  - 5 MB over one connection and 5 MB over 50 short ones: tcp_bytes_total sent rises by at
    least 10 MB and at most 10 MB plus the SYN/FIN bytes;
  - 3 connects to the closed port: connections_failed_total{external} rises by 3.
Without CAP_BPF/CAP_PERFMON (setpriv drops them), auto falls back to sock_diag and says why.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402

HOST, PEER = "192.0.2.1", "192.0.2.2"
OPEN_PORT, CLOSED_PORT = 18100, 18101
INTERVAL_S = 10

POLICY = """\
paths:
  - remote_zone: loopback
"""

SERVER = textwrap.dedent("""\
    import socket, sys, threading
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((sys.argv[1], int(sys.argv[2])))
    listener.listen(256)
    def serve(conn):
        with conn:
            while conn.recv(65536):
                pass
            conn.sendall(b"r" * 100)
    print("READY", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    """)

# argv: peer, port, connections, bytes per connection, seconds each stays open
CLIENT = textwrap.dedent("""\
    import socket, sys, time
    peer, port, count, size, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \\
        int(sys.argv[4]), float(sys.argv[5])
    failed = 0
    for _ in range(count):
        s = socket.socket()
        try:
            s.connect((peer, port))
        except OSError:
            failed += 1
            s.close()
            continue
        s.sendall(b"s" * size)
        time.sleep(hold)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
        s.close()
    print(failed, flush=True)
    """)

CLIENT_NAME = os.path.basename(os.path.realpath(sys.executable))
CLIENT_NAMES = h.PYTHON_CLIENT_NAMES


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (namespaces, eBPF)")
    for tool in ("ip", "setpriv"):
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} not found")
    netns.install_watchdog(280)
    h.enter_private_netns()


def total(expo, name, **labels):
    return sum(s.value for s in expo.select(name, **labels))


class EventsBetweenSamples(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cw-e2e-events-")
        cls.lab = netns.Lab()
        cls.server = None
        try:
            cls.peer = cls.lab.add_namespace("peer")
            cls.lab.link(cls.peer, [f"{HOST}/30"], [f"{PEER}/30"])
            cls.server = netns.start_ready(cls.peer,
                                           [sys.executable, "-c", SERVER, PEER, str(OPEN_PORT)])
            cls.policy = h.write_file(cls.tmp, "policy.yaml", POLICY)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            h.kill_process(cls.server)
        cls.lab.close()

    def client(self, port, count, size, hold):
        proc = subprocess.run(
            [sys.executable, "-c", CLIENT, PEER, str(port), str(count), str(size), str(hold)],
            stdout=subprocess.PIPE, timeout=60, check=True)
        return int(proc.stdout.decode().strip())

    def next_sample(self, cw, after):
        """The first exposition of a sample newer than `after` (a sample count)."""
        result = {}

        def newer():
            expo = cw.scrape()
            result["expo"] = expo
            return expo.value("connwatch_samples_total") > after
        h.wait_until(newer, INTERVAL_S * 3, "a new sample")
        return result["expo"]

    def exercise(self, source, flags=()):
        """Runs every load against one exporter; returns what it measured."""
        with h.Connwatch(f"--config.file={self.policy}", f"--collect.events={source}",
                         *flags, interval=f"{INTERVAL_S}s") as cw:
            before = cw.scrape()
            self.assertEqual(before.value("connwatch_events_source_info", source=source), 1,
                             cw.log())
            samples = before.value("connwatch_samples_total")
            started = time.monotonic()
            self.client(OPEN_PORT, 20, 1000, 0.1)
            self.client(OPEN_PORT, 1, 5_000_000, 0.2)
            self.client(OPEN_PORT, 50, 100_000, 0.0)
            failed = self.client(CLOSED_PORT, 3, 1, 0.0)
            self.assertEqual(failed, 3, "the closed port refused")
            self.assertLess(time.monotonic() - started, INTERVAL_S,
                            "the load must fit between two samples")
            after = self.next_sample(cw, samples)
            # One more: the close notifications of the last connections may come late.
            after = self.next_sample(cw, after.value("connwatch_samples_total"))
            self.check_one_shot(os.path.join(cw._log_dir, "state"), source)
            return before, after, cw.log()

    def check_one_shot(self, storage, source):
        """`connwatch check` lists what the exporter holds, and says where it came from."""
        proc = h.run_connwatch("check", f"--config.file={self.policy}", "--format=json",
                               f"--storage.path={storage}")
        stderr = proc.stderr.decode()
        self.assertEqual(proc.returncode, 1, stderr)
        report = json.loads(proc.stdout)
        self.assertEqual(report["held_from"], os.path.join(storage, "findings.held"), stderr)
        peers = [f for f in report["held"]
                 if f["remote_address"] == PEER and f["remote_port"] == str(OPEN_PORT)]
        self.assertGreaterEqual(len(peers), 71 if source == "ebpf" else 1, report["held"][:3])
        self.assertIn("held by the running exporter", stderr)
        alone = h.run_connwatch("check", f"--config.file={self.policy}", "--format=json",
                                f"--storage.path={self.tmp}/nothing-here")
        self.assertIsNone(json.loads(alone.stdout)["held_from"])
        self.assertEqual(alone.stderr.decode(), "", "no exporter there: nothing to say")

    def check(self, source, before, after, log):
        ext = dict(direction="outbound", remote_zone="external")
        opened = (total(after, "connwatch_connections_opened_total", **ext) -
                  total(before, "connwatch_connections_opened_total", **ext))
        self.assertEqual(opened, 20 + 1 + 50, f"every connection, however short ({source})\n{log}")
        processes = {s.labels["process"] for s in
                     after.select("connwatch_connections_opened_total", **ext)}
        if source == "ebpf":
            self.assertTrue(processes and processes <= CLIENT_NAMES, "eBPF knows who connected")
        else:
            self.assertLessEqual(processes, {CLIENT_NAME, ""},
                                 "the sampled owner or nobody: nothing made up")
        violations = total(after, "connwatch_finding_events_total", check="path_violation",
                           remote_zone="external")
        self.assertEqual(violations, 71 + 3, "each connection judged once, attempts too")
        held = after.select("connwatch_finding_info", check="path_violation", ended="true",
                            remote_address=PEER, remote_port=str(OPEN_PORT))
        self.assertGreaterEqual(len(held), 71 if source == "ebpf" else 1, after)
        if source == "ebpf":
            self.assertLessEqual({s.labels["process"] for s in held}, CLIENT_NAMES)
            self.assertTrue(all(s.labels["pid"].isdigit() for s in held))
            self.assertTrue(all(s.labels["start"] and s.labels["duration_seconds"] for s in held))
        sent = (total(after, "connwatch_tcp_bytes_total", flow="sent", **ext) -
                total(before, "connwatch_tcp_bytes_total", flow="sent", **ext))
        payload = 20 * 1000 + 5_000_000 + 50 * 100_000
        self.assertGreaterEqual(sent, payload, "bytes of short connections are counted")
        self.assertLessEqual(sent, payload + 2 * 71, "within the SYN and FIN of each")
        failed = (total(after, "connwatch_connections_failed_total", remote_zone="external") -
                  total(before, "connwatch_connections_failed_total", remote_zone="external"))
        self.assertEqual(failed, 3, "refused connects")
        self.assertEqual(after.value("connwatch_events_lost_total", source=source), 0)
        code, output = h.promtool_check_metrics(after.raw)
        self.assertNotIn("error", output.lower(), output)

    def test_sock_diag(self):
        self.check("sock_diag", *self.exercise("sock_diag"))

    def test_ebpf(self):
        with h.Connwatch("--collect.events=auto", interval="60s") as cw:
            expo = cw.scrape()
            if expo.value_or("connwatch_events_source_info", 0, source="ebpf") != 1:
                log = cw.log()
                if "built without eBPF" in log:
                    self.skipTest("this build has no eBPF source")
                self.fail(f"auto did not load eBPF as root:\n{log}")
        self.check("ebpf", *self.exercise("ebpf"))

    def test_without_cap_bpf_auto_falls_back(self):
        cw = h.PrefixedConnwatch(["setpriv", "--bounding-set=-bpf,-perfmon",
                                  "--inh-caps=-bpf,-perfmon", "--"],
                                 "--collect.events=auto", interval="60s")
        with cw:
            expo = cw.scrape()
            self.assertEqual(expo.value("connwatch_events_source_info", source="sock_diag"), 1,
                             cw.log())
            self.assertIn('msg="connection events" source=sock_diag ebpf=', cw.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
