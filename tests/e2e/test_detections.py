#!/usr/bin/env python3
"""Beacons and scans, from real connections to a peer in a network namespace the test made.

The test runs in a private network namespace (the "host" side) linked by a veth pair to one
named namespace "peer": 192.0.2.9 here, 192.0.2.10 and 192.0.2.11 there, inside this test's
192.0.2.8/29 (TEST-NET-1, so both peers are in the built-in "external" zone). A server in the
peer namespace accepts on ports 18200 and 18201 of both addresses; every other port is closed.
connwatch samples every 2 s with the eBPF event source, under a policy with
`limits.beacon: {window: 2m, min_connections: 12, min_score: 0.8}` and `limits.scan:
{targets: 100, ports: 20}`, and one paths rule that allows beacons to port 18201.

At once, each its own process:
  - a beacon: 40 connections to 192.0.2.10:18200, one every 1 s with 30% uniform jitter
    -> a beacon finding naming the client's process and that peer, score >= 0.8;
  - a Poisson client of the same mean rate to 192.0.2.11:18200 -> scored, below 0.8, no finding;
  - the same beacon to 192.0.2.10:18201, which the paths rule allows -> scored, no finding;
  - a scan of 200 closed ports of 192.0.2.11 -> connwatch_outbound_scan_targets 200 and an
    outbound_scan finding for the scanner's process;
  - from inside the peer namespace, 50 closed local ports of 192.0.2.9 probed from 192.0.2.10
    -> connwatch_inbound_probes_total{remote_zone="external"} rises by at least 50 and an
    inbound_scan finding names the peer.
Then connwatch stops (SIGTERM) and starts again on the same storage directory: the beacon's
score is there in its first sample, before any new connection (beacons.state).
"""

import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402

HOST, BEACON_PEER, OTHER_PEER = "192.0.2.9", "192.0.2.10", "192.0.2.11"
PORT, ALLOWED_PORT = 18200, 18201
CONNECTIONS = 40

POLICY = f"""\
paths:
  - remote_zone: loopback
  - {{direction: outbound, remote_zone: external, port: {ALLOWED_PORT}, beacon: allowed}}
limits:
  beacon: {{window: 2m, min_connections: 12, min_score: 0.8}}
  scan: {{targets: 100, ports: 20}}
"""

SERVER = textwrap.dedent("""\
    import socket, sys, threading
    def serve(conn):
        with conn:
            while conn.recv(65536):
                pass
    def accept(port):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", port))
        listener.listen(256)
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()
    for port in sys.argv[1:]:
        threading.Thread(target=accept, args=(int(port),), daemon=True).start()
    print("READY", flush=True)
    threading.Event().wait()
    """)

# argv: peer, port, count, "jitter" or "poisson", seed. Each connection sends a few bytes and
# closes; the waits between starts are 1 s with 30% uniform jitter, or exponential of mean 1 s.
CLIENT = textwrap.dedent("""\
    import random, socket, sys, time
    peer, port, count, timing, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \\
        sys.argv[4], int(sys.argv[5])
    rng = random.Random(seed)
    for i in range(count):
        with socket.create_connection((peer, port), timeout=5) as s:
            s.sendall(b"beat")
        if i + 1 < count:
            time.sleep(rng.uniform(0.7, 1.3) if timing == "jitter" else rng.expovariate(1.0))
    """)

# argv: source address ("" any), target, first port, count: connects that are refused.
SCANNER = textwrap.dedent("""\
    import socket, sys
    source, target, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    refused = 0
    for port in range(first, first + count):
        s = socket.socket()
        if source:
            s.bind((source, 0))
        try:
            s.connect((target, port))
        except ConnectionRefusedError:
            refused += 1
        finally:
            s.close()
    print(refused, flush=True)
    """)

CLIENT_NAMES = h.PYTHON_CLIENT_NAMES


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (namespaces, eBPF)")
    if shutil.which("ip") is None:
        raise AssertionError("ip not found")
    netns.install_watchdog(240)
    h.enter_private_netns()


class Detections(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cw-e2e-detect-")
        cls.lab = netns.Lab()
        cls.server = None
        try:
            cls.peer = cls.lab.add_namespace("peer")
            cls.lab.link(cls.peer, [f"{HOST}/29"], [f"{BEACON_PEER}/29", f"{OTHER_PEER}/29"])
            cls.server = netns.start_ready(cls.peer, [sys.executable, "-c", SERVER, str(PORT),
                                                      str(ALLOWED_PORT)])
            cls.policy = h.write_file(cls.tmp, "policy.yaml", POLICY)
            cls.storage = os.path.join(cls.tmp, "state")
            os.mkdir(cls.storage, 0o700)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            h.kill_process(cls.server)
        cls.lab.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def exporter(self):
        return h.Connwatch(f"--config.file={self.policy}", "--collect.events=ebpf",
                           f"--storage.path={self.storage}", interval="2s")

    def run_loads(self):
        """Every load at once, each its own process; returns the scanners' refused counts."""
        results = {}

        def run(name, args):
            proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=120)
            results[name] = (proc.returncode, proc.stdout.decode().strip(),
                             proc.stderr.decode()[-500:])

        python = sys.executable
        loads = {
            "beacon": [python, "-c", CLIENT, BEACON_PEER, str(PORT), str(CONNECTIONS), "jitter",
                       "1"],
            "allowed": [python, "-c", CLIENT, BEACON_PEER, str(ALLOWED_PORT), str(CONNECTIONS),
                        "jitter", "2"],
            "poisson": [python, "-c", CLIENT, OTHER_PEER, str(PORT), str(CONNECTIONS),
                        "poisson", "3"],
            "scan": [python, "-c", SCANNER, "", OTHER_PEER, "20000", "200"],
            "probe": netns.exec_prefix(self.peer) + [python, "-c", SCANNER, BEACON_PEER, HOST,
                                                     "21000", "50"],
        }
        threads = [threading.Thread(target=run, args=item) for item in loads.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for name, (code, _, err) in results.items():
            self.assertEqual(code, 0, f"{name}: {err}")
        return results

    def findings(self, expo, check, **labels):
        return expo.select("connwatch_finding_info", check=check, **labels)

    def test_beacons_and_scans(self):
        with self.exporter() as cw:
            if cw.scrape().value_or("connwatch_events_source_info", 0, source="ebpf") != 1:
                if "built without eBPF" in cw.log():
                    self.skipTest("this build has no eBPF source")
                self.fail(f"eBPF did not load as root:\n{cw.log()}")
            probes_before = sum(s.value for s in cw.scrape().select(
                "connwatch_inbound_probes_total", remote_zone="external"))
            results = self.run_loads()
            self.assertEqual(results["scan"][1], "200", "the closed ports refused")
            self.assertEqual(results["probe"][1], "50")
            samples = cw.scrape().value("connwatch_samples_total")
            h.wait_until(lambda: cw.scrape().value("connwatch_samples_total") >= samples + 2, 20,
                         "two more samples")
            expo = cw.scrape()
            log = cw.log()
            self.check_beacons(expo, log)
            self.check_scans(expo, probes_before, log)
        # SIGTERM saved the starts: the next exporter scores the beacon at once.
        self.assertTrue(os.path.exists(os.path.join(self.storage, "beacons.state")))
        with self.exporter() as cw:
            restored = cw.scrape()
            scores = restored.select("connwatch_beacon_score", remote_address=BEACON_PEER,
                                     remote_port=str(PORT))
            self.assertEqual(len(scores), 1, cw.log())
            self.assertGreaterEqual(scores[0].value, 0.8)
            self.assertIn('msg="beacon state restored"', cw.log())

    def check_beacons(self, expo, log):
        beacon = self.findings(expo, "beacon")
        self.assertEqual([(s.labels["remote_address"], s.labels["remote_port"]) for s in beacon],
                         [(BEACON_PEER, str(PORT))], f"only the jittered beacon\n{log}")
        self.assertIn(beacon[0].labels["process"], CLIENT_NAMES)
        self.assertEqual(beacon[0].labels["remote_zone"], "external")
        self.assertEqual(beacon[0].labels["direction"], "outbound")
        counted = sum(s.value for s in expo.select("connwatch_beacons", remote_zone="external"))
        self.assertEqual(counted, 1)

        def score(peer, port):
            found = expo.select("connwatch_beacon_score", remote_address=peer,
                                remote_port=str(port))
            self.assertEqual(len(found), 1, f"{peer}:{port} scored\n{expo.raw[-3000:]}")
            return found[0].value
        self.assertGreaterEqual(score(BEACON_PEER, PORT), 0.8)
        self.assertLess(score(OTHER_PEER, PORT), 0.8, "Poisson timing is no beacon")
        self.assertGreaterEqual(score(BEACON_PEER, ALLOWED_PORT), 0.8,
                                "the allowed pair is periodic too, and scored")
        self.assertEqual(self.findings(expo, "beacon", remote_port=str(ALLOWED_PORT)), [],
                         "but allowed by its paths rule")

    def check_scans(self, expo, probes_before, log):
        targets = expo.select("connwatch_outbound_scan_targets", remote_zone="external")
        self.assertEqual(len(targets), 1, log)
        self.assertIn(targets[0].labels["process"], CLIENT_NAMES)
        self.assertEqual(targets[0].value, 200, "exact below 208 distinct targets")
        scan = self.findings(expo, "outbound_scan")
        self.assertEqual(len(scan), 1, log)
        self.assertIn(scan[0].labels["process"], CLIENT_NAMES)
        probes = sum(s.value for s in expo.select("connwatch_inbound_probes_total",
                                                  remote_zone="external"))
        self.assertGreaterEqual(probes - probes_before, 50)
        inbound = self.findings(expo, "inbound_scan")
        self.assertEqual([s.labels["remote_address"] for s in inbound], [BEACON_PEER], log)
        self.assertEqual(inbound[0].labels["direction"], "inbound")
        code, output = h.promtool_check_metrics(expo.raw)
        self.assertNotIn("error", output.lower(), output)


if __name__ == "__main__":
    unittest.main(verbosity=2)
