#!/usr/bin/env python3
"""One-shot ages and the responder's facts in `connwatch check` (issue 13, parts 2 and 5).

Runs in a private network namespace (so `check` judges only the sockets this test makes) with
the real binary and real loopback sockets. No conntrack timestamps exist in a new namespace
(net.netfilter.nf_conntrack_timestamp is 0 there), so ages come from the owner's start or from
`serve`'s state only, which is what is tested.

What each test proves:
  UpperBoundTest   a listener process ~4 s old, limits.long_connection 2s, a client connected
                   just before `check`: the accepted end's age is only "no older than the
                   listener" (process_start, >= the limit), so no long_connection finding;
                   JSON says age_source "process_start", text shows "<="; the client's finding
                   carries its real cmdline, ppid (this test's pid), the parent's name (this
                   interpreter) and process start; text keeps one line per finding.
  ServeStateTest   `serve` ran on a --storage.path while the connection was opened, so it
                   recorded a first sighting: `check --storage.path` (while serve keeps
                   writing, and after serve is killed) reads it: age_source first_seen, and
                   past the limit it IS a long_connection finding.
"""

import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

LIMIT = 2.0  # limits.long_connection of the policy, seconds
LISTENER_AGE = 4.0  # how old the listener is when its client connects
APPEAR = 5.0
POLICY = ("limits:\n  long_connection: 2s\n"
          "paths: []\n"  # every connection is a finding: the facts are on each one
          "baseline:\n  learn_for: 0s\n")


def setUpModule():
    h.enter_private_netns()
    global TMP
    TMP = tempfile.TemporaryDirectory(prefix="cw-e2e-oneshot-")


def tearDownModule():
    h.kill_all_children()
    TMP.cleanup()


def exe(name):
    return h.named_holder(TMP.name, name)


class OneShotCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=TMP.name)
        self.policy = h.write_file(self.dir, "policy.yaml", POLICY)
        self.storage = os.path.join(self.dir, "storage")
        os.makedirs(self.storage)

    def holder(self, name, args):
        holder = h.Holder(exe(name), args)
        self.addCleanup(holder.stop)
        return holder

    def listener(self, name):
        server = self.holder(name, ["--tcp-listen", "127.0.0.1:0", "--accept"])
        return server, server.ready["tcp_listen"][0]["port"]

    def check(self, *flags):
        proc = h.run_connwatch("check", f"--config.file={self.policy}",
                               f"--storage.path={self.storage}", *flags, timeout=60)
        return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")

    def check_json(self):
        rc, out, err = self.check("--format=json")
        self.assertEqual(rc, 1, (out, err))
        self.assertEqual(err, "")
        return json.loads(out)["findings"]

    def mine(self, findings, process, check="path_violation"):
        return [f for f in findings if f["process"] == process and f["check"] == check]

    def wait_for_accept(self, server, port):
        """Until `check` sees the accepted end owned by the listener (--accept runs in its
        wait loop, so right after READY it may not have accepted yet)."""
        def accepted():
            return self.mine(self.check_json(), server.name) or None
        return h.wait_until(accepted, APPEAR, f"{server.name} to accept on {port}")


class UpperBoundTest(OneShotCase):
    def test_process_start_age_is_shown_not_judged(self):
        server, port = self.listener("cw-os-server")
        started = time.monotonic()
        time.sleep(max(0.0, LISTENER_AGE - (time.monotonic() - started)))
        spawned_wall = time.time()
        client = self.holder("cw-os-client", ["--connect", f"127.0.0.1:{port}"])
        connected = time.monotonic()
        self.wait_for_accept(server, port)
        findings = self.check_json()
        took = time.monotonic() - connected
        self.assertLess(took, 3.0, "the client must be young when checked")

        self.assertEqual([f for f in findings if f["check"] == "long_connection"], [],
                         f"an upper bound raised long_connection: {findings}")
        inbound = self.mine(findings, server.name)
        self.assertEqual(len(inbound), 1, findings)
        accepted = inbound[0]
        self.assertEqual(accepted["age_source"], "process_start", accepted)
        self.assertEqual(accepted["direction"], "inbound", accepted)
        # The bound is the listener's age: past the limit, which is exactly why it is no fact.
        self.assertGreater(accepted["age_seconds"], LIMIT, accepted)
        self.assertGreaterEqual(accepted["age_seconds"], LISTENER_AGE - 0.5, accepted)

        outbound = self.mine(findings, client.name)
        self.assertEqual(len(outbound), 1, findings)
        f = outbound[0]
        self.assertEqual(f["age_source"], "process_start", f)
        self.assertLessEqual(f["age_seconds"], took + 1.0, f)
        self.assertEqual(int(f["pid"]), client.pid)
        self.assertEqual(f["cmdline"], " ".join([exe(client.name), "--connect",
                                                 f"127.0.0.1:{port}", "--timeout=120"]), f)
        self.assertEqual(f["ppid"], os.getpid(), f)
        self.assertEqual(f["parent"], os.path.basename(os.readlink("/proc/self/exe")), f)
        self.assertLess(abs(f["process_start"] - spawned_wall), 1.5, (f, spawned_wall))
        self.assertEqual(accepted["ppid"], os.getpid(), accepted)
        self.assertEqual(accepted["cmdline"], " ".join([exe(server.name), "--tcp-listen",
                                                        "127.0.0.1:0", "--accept",
                                                        "--timeout=120"]), accepted)

        rc, out, err = self.check("--format=text")
        self.assertEqual(rc, 1, (out, err))
        lines = out.splitlines()
        self.assertEqual(len(lines), len(findings) + 2, f"one line per finding:\n{out}")
        self.assertNotIn("long_connection", out)
        server_line = [line for line in lines if f" {server.pid} " in line]
        self.assertEqual(len(server_line), 1, out)
        self.assertIn(" <=", server_line[0], out)
        self.assertIn("--tcp-listen 127.0.0.1:0 --accept", server_line[0], out)
        self.assertIn(f" {os.getpid()} ", server_line[0], out)

        # `connections` agrees, row by row: the accepted end is bounded by its process start.
        rows = h.connections_json(f"--storage.path={self.storage}")
        ends = [r for r in rows if r["role"] == "connection" and r["local_port"] == port]
        self.assertEqual(len(ends), 1, ends)
        self.assertEqual(ends[0]["age_source"], "process_start", ends[0])
        self.assertEqual(ends[0]["owners"][0]["ppid"], os.getpid(), ends[0])


class ServeStateTest(OneShotCase):
    def test_first_sightings_of_serve_are_facts(self):
        server, port = self.listener("cw-os-state-server")
        cw = h.Connwatch(f"--config.file={self.policy}", f"--storage.path={self.storage}",
                         interval="500ms")
        self.addCleanup(cw.stop)
        cw.start()
        h.wait_for_scrape(cw, lambda e: e.select("connwatch_connection_age_sources"), APPEAR,
                          "serve's first sample")
        time.sleep(max(0.0, LISTENER_AGE - 1.0))  # the listener is older than the limit
        client = self.holder("cw-os-state-client", ["--connect", f"127.0.0.1:{port}"])
        connected = time.monotonic()

        def recorded():
            found = self.mine(self.check_json(), client.name)
            return found if found and found[0]["age_source"] == "first_seen" else None
        young = h.wait_until(recorded, APPEAR, "check to read serve's first sighting")[0]
        self.assertLessEqual(young["age_seconds"], time.monotonic() - connected + 0.1, young)

        # Past the limit, read while serve keeps appending to its journal.
        time.sleep(max(0.0, LIMIT + 1.0 - (time.monotonic() - connected)))
        for _ in range(5):
            findings = self.check_json()
            long_ones = self.mine(findings, client.name, "long_connection")
            self.assertEqual(len(long_ones), 1, findings)
            f = long_ones[0]
            self.assertEqual(f["age_source"], "first_seen", f)
            self.assertGreater(f["age_seconds"], LIMIT, f)
            self.assertLessEqual(f["age_seconds"], time.monotonic() - connected + 0.1, f)
            self.assertIn("open for at least", f["reason"], f)
            self.assertIn("(first seen by connwatch)", f["reason"], f)
            self.assertEqual(f["ppid"], os.getpid(), f)
            accepted = self.mine(findings, server.name, "long_connection")
            self.assertEqual([a["age_source"] for a in accepted], ["first_seen"], findings)
        # serve raises the same verdict itself (its sample may lag by an interval), with the
        # age source on the finding.
        exp = h.wait_for_scrape(
            cw, lambda e: h.findings(e, check="long_connection", process=client.name), APPEAR,
            "serve's long_connection finding")
        served = h.findings(exp, check="long_connection", process=client.name)
        self.assertEqual([s.labels["age_source"] for s in served], ["first_seen"], served)

        # serve killed: its last state is read as it was left.
        cw.proc.kill()
        cw.proc.wait(timeout=10)
        f = self.mine(self.check_json(), client.name, "long_connection")
        self.assertEqual([x["age_source"] for x in f], ["first_seen"], f)

        # Without the state, the same connections are only bounded: no verdict.
        proc = h.run_connwatch("check", f"--config.file={self.policy}",
                               f"--storage.path={os.path.join(self.dir, 'none')}",
                               "--format=json", timeout=60)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        cold = json.loads(proc.stdout)["findings"]
        self.assertEqual([x for x in cold if x["check"] == "long_connection"], [], cold)
        self.assertEqual([x["age_source"] for x in self.mine(cold, client.name)],
                         ["process_start"], cold)


if __name__ == "__main__":
    h.install_watchdog(90)
    unittest.main()
