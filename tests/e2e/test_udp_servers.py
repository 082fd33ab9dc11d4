#!/usr/bin/env python3
"""UDP servers on ephemeral ports (limits.udp_server_after), against socat and real clients.

Runs in a private network namespace linked by a veth pair to one peer namespace (10.235.1.1 here,
10.235.1.2 there, inside this test's 10.235.0.0/16). The peer runs a UDP echo responder on 7000;
it lives in the peer's namespace, so connwatch never sees its socket. Here:
  - socat UDP4-RECVFROM:40000,fork (40000 lies inside the default ephemeral range 32768-60999):
    a UDP backdoor that before udp_server_after was never a listener;
  - a client that sends a query to the peer every second from a fresh autobound socket (as a
    stub resolver or dnspython does), waits for the echo, and closes it.
connwatch samples every 500 ms with udp_server_after 3.

Steps (in order):
 1. Explicit policy allowing only connwatch's own TCP listener: the first sample does not call
    socat a listener; within 5 samples it is one in connwatch_listener_info and an
    unexpected_listener finding; over the whole run no socket of the client ever is, while
    the client did get its echoes.
 2. `connwatch check` (one sample): with udp_server_after 3, socat is not judged (it cannot
    have been held); with udp_server_after 0 it is an unexpected_listener finding.
 3. A learned baseline (learn_for 3s) with socat running while it learns: afterwards socat is
    an expected listener without a finding; a second socat on 40001 started after the freeze
    becomes an unexpected_listener.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402  (imported before entering the private namespace, on purpose)

INTERVAL = "500ms"
HOST_ADDR, PEER_ADDR, ECHO_PORT = "10.235.1.1", "10.235.1.2", 7000
SERVER_PORT, LATE_PORT = 40000, 40001
AFTER = 3
APPEAR = 10.0

ECHO = f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("{PEER_ADDR}", {ECHO_PORT}))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
"""

# One fresh autobound socket per query, kept until the next query a second later (so nearly
# every sample sees one, in at most 3 samples); prints its port once answered.
CLIENT = f"""
import socket, sys, time
while True:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    s.sendto(b"query", ("{PEER_ADDR}", {ECHO_PORT}))
    try:
        s.recvfrom(2048)
        print(s.getsockname()[1], flush=True)
    except socket.timeout:
        pass
    time.sleep(1)
    s.close()
"""


def spawn(args, **kw):
    return h._track(subprocess.Popen(args, stdin=subprocess.DEVNULL, preexec_fn=h._set_pdeathsig,
                                     **kw))


def policy_text(after, learn_for="0s", listeners=True):
    text = ""
    if listeners:
        text += "listeners:\n  - process: connwatch\n    protocol: tcp\n"
    return text + (f"limits:\n  udp_server_after: {after}\n"
                   f"baseline:\n  learn_for: {learn_for}\n")


def udp_listener_ports(exp, process=None):
    labels = {"protocol": "udp"}
    if process:
        labels["process"] = process
    return {int(s.labels["port"]) for s in exp.select("connwatch_listener_info", **labels)}


class UdpServersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.enter_private_netns()
        cls.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-udp-")
        cls.cw = None
        cls.procs = []
        cls.lab = netns.Lab()
        try:
            cls.peer = cls.lab.add_namespace("udp")
            cls.lab.link(cls.peer, [f"{HOST_ADDR}/24"], [f"{PEER_ADDR}/24"])
            low, high = h.ephemeral_port_range()
            assert low <= SERVER_PORT <= high and low <= LATE_PORT <= high, (low, high)
            cls.procs.append(spawn(netns.exec_prefix(cls.peer) + ["python3", "-c", ECHO]))
            cls.client_out = open(os.path.join(cls.tmp.name, "client.out"), "w+")
            cls.procs.append(spawn(["python3", "-c", CLIENT], stdout=cls.client_out))
            cls.socat = cls.socat_on(SERVER_PORT)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def socat_on(cls, port):
        proc = spawn(["socat", f"UDP4-RECVFROM:{port},fork,reuseaddr", "EXEC:/bin/cat"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.procs.append(proc)
        def bound():
            with open("/proc/net/udp") as f:
                return f":{port:04X} " in f.read()
        h.wait_until(bound, 10, f"socat bound to {port}", interval=0.05)
        return proc

    @classmethod
    def tearDownClass(cls):
        if cls.cw is not None:
            cls.cw.stop()
        for proc in cls.procs:
            h.kill_process(proc)
        cls.lab.close()
        if hasattr(cls, "client_out"):
            cls.client_out.close()
        cls.tmp.cleanup()

    def start(self, policy, storage):
        if self.cw is not None:
            self.cw.stop()
        path = h.write_file(self.tmp.name, "policy.yaml", policy)
        os.makedirs(storage, exist_ok=True)
        type(self).cw = h.Connwatch(f"--config.file={path}", f"--storage.path={storage}",
                                    interval=INTERVAL).start()
        return self.cw

    def answered_queries(self):
        self.client_out.seek(0)
        return [int(line) for line in self.client_out.read().split()]

    def test_1_socat_becomes_a_listener_the_client_never_does(self):
        cw = self.start(policy_text(AFTER), os.path.join(self.tmp.name, "s1"))
        first = cw.scrape()
        self.assertNotIn(SERVER_PORT, udp_listener_ports(first),
                         "a listener in the first sample, before it was held")
        seen_udp_listeners = set()
        most_unconnected = [0]  # socat's and the client's: the samples did see the client
        started = time.monotonic()

        def watch(exp):
            seen_udp_listeners.update(udp_listener_ports(exp))
            most_unconnected[0] = max(most_unconnected[0], exp.value_or(
                "connwatch_sockets", 0, protocol="udp", family="ipv4", state="unconnected"))

        def socat_judged(exp):
            watch(exp)
            return (SERVER_PORT in udp_listener_ports(exp, "socat") and
                    h.findings(exp, check="unexpected_listener", process="socat",
                               local_port=str(SERVER_PORT)))

        exp = h.wait_for_scrape(cw, socat_judged, APPEAR, "socat on 40000 as a listener")
        took = time.monotonic() - started
        self.assertLess(took, 5 * 0.5 + 1.0, "took more than 5 samples")
        (finding,) = h.findings(exp, check="unexpected_listener", process="socat")
        self.assertEqual(finding.labels["protocol"], "udp")
        self.assertEqual(finding.labels["pid"], str(self.socat.pid))
        self.assertGreaterEqual(exp.value("connwatch_unexpected_listeners"), 1)
        # The client keeps querying: watch 6 more samples, every scrape.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            watch(cw.scrape())
            time.sleep(0.1)
        answered = self.answered_queries()
        self.assertGreaterEqual(len(answered), 3, "the client got no echoes from the peer")
        self.assertGreaterEqual(most_unconnected[0], 2, "no sample saw the client's socket")
        self.assertEqual(seen_udp_listeners, {SERVER_PORT},
                         f"client ports {answered} became listeners")

    def test_2_one_shot_check(self):
        storage = os.path.join(self.tmp.name, "s2")
        os.makedirs(storage, exist_ok=True)
        for after, flagged in ((AFTER, False), (0, True)):
            path = h.write_file(self.tmp.name, "check.yaml", policy_text(after))
            out = h.run_connwatch("check", f"--config.file={path}", f"--storage.path={storage}",
                                  "--format=json", timeout=30)
            self.assertIn(out.returncode, (0, 1), out.stderr)
            ports = [f["local_port"] for f in json.loads(out.stdout)["findings"]
                     if f["check"] == "unexpected_listener" and f["process"] == "socat"]
            self.assertEqual(ports, [SERVER_PORT] if flagged else [], (after, out.stdout))

    def test_3_learned_baseline_learns_the_udp_server(self):
        cw = self.start(policy_text(AFTER, learn_for="3s", listeners=False),
                        os.path.join(self.tmp.name, "s3"))
        self.assertEqual(cw.scrape().value("connwatch_baseline_learning"), 1)
        h.wait_for_scrape(cw, lambda e: e.value("connwatch_baseline_learning") == 0, 3 + APPEAR,
                          "learning to end")
        time.sleep(1.0)  # two more samples under the frozen baseline
        exp = cw.scrape()
        found = exp.select("connwatch_listener_info", protocol="udp", port=str(SERVER_PORT))
        self.assertEqual([s.labels["expected"] for s in found], ["true"], found)
        self.assertEqual(h.findings(exp, check="unexpected_listener"), [])
        late = self.socat_on(LATE_PORT)
        exp = h.wait_for_scrape(
            cw, lambda e: h.findings(e, check="unexpected_listener", local_port=str(LATE_PORT)),
            APPEAR, "the socat started after the freeze as an unexpected listener")
        (finding,) = h.findings(exp, check="unexpected_listener")
        self.assertEqual(finding.labels["pid"], str(late.pid))


if __name__ == "__main__":
    netns.install_watchdog(90)
    unittest.main(verbosity=2)
