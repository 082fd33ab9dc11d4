#!/usr/bin/env python3
"""conntrack as the exact source of connection age, on the live kernel (issue 4).

The script moves itself into a private network namespace (freed by the kernel when this
process exits, however it exits, so nothing is left behind), makes conntrack track loopback
flows there with an nftables rule that uses conntrack in the output hook, and turns on
net.netfilter.nf_conntrack_timestamp, which is per namespace and must be on before a flow
starts for the flow to carry a start time. Then it opens one TCP connection on 127.0.0.1 and
holds it.

What each test proves:
  test_flow_is_tracked        the kernel side of the setup works: the flow is in
                              /proc/net/nf_conntrack with a timestamp (delta-time=);
                              skipped where that file does not exist.
  test_sampler_dumps_conntrack_only_with_timestamps
                              `connwatch serve`, watched with strace, opens no
                              NETLINK_NETFILTER socket while the sysctl is 0 (its samples
                              still dump sock_diag) and opens one per sample while it is 1:
                              without timestamps the flows carry no start time, and a NAT
                              gateway's conntrack table can be far larger than its sockets.
  test_age_from_conntrack     `connwatch connections --format=json` reports both ends of the
                              connection with age_source "conntrack" and an age between the
                              time the test held it (minus 1 s) and the time since it was
                              opened (plus 1 s). Skipped while the binary has no age_source
                              field at all.

Needs root and the nft command (Debian package nftables). Every wait is bounded; a watchdog
ends the script after 120 s.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

HOLD_S = 3.0  # how long the connection exists before connwatch looks at it
TIMESTAMP_SYSCTL = "/proc/sys/net/netfilter/nf_conntrack_timestamp"
# Any rule that evaluates ct state makes nf_conntrack track the packets through that hook;
# on loopback both directions pass through output.
NFT_COMMANDS = [
    ["add", "table", "inet", "cwct"],
    ["add", "chain", "inet", "cwct", "out", "{ type filter hook output priority 0; }"],
    ["add", "rule", "inet", "cwct", "out", "ct", "state", "new", "accept"],
]


def nft(*args):
    proc = subprocess.run(["nft"] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"nft {' '.join(args)} exited {proc.returncode}: "
                           f"{proc.stderr.decode('utf-8', 'replace').strip()}")


class Flow:
    """One established TCP connection on 127.0.0.1, held by this process."""

    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.server_port = self.listener.getsockname()[1]
        self.client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.client.settimeout(10)
        self.opened_before = time.monotonic()
        self.client.connect(("127.0.0.1", self.server_port))
        self.listener.settimeout(10)
        self.server, _ = self.listener.accept()
        self.opened_after = time.monotonic()
        self.client_port = self.client.getsockname()[1]

    def close(self):
        for s in (self.client, self.server, self.listener):
            s.close()


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (a network namespace, nftables, CAP_NET_ADMIN)")
    if shutil.which("nft") is None:
        raise unittest.SkipTest("the nft command is missing (apt-get install nftables)")
    h.enter_private_netns()
    for command in NFT_COMMANDS:
        nft(*command)
    # The rule loaded nf_conntrack, so the sysctl exists in this namespace now.
    with open(TIMESTAMP_SYSCTL, "w") as f:
        f.write("1\n")
    with open(TIMESTAMP_SYSCTL) as f:
        if f.read().strip() != "1":
            raise RuntimeError(f"{TIMESTAMP_SYSCTL} did not take 1")
    global FLOW, TMP
    TMP = tempfile.TemporaryDirectory(prefix="cw-e2e-conntrack-")
    unittest.addModuleCleanup(TMP.cleanup)
    FLOW = Flow()
    unittest.addModuleCleanup(FLOW.close)
    # Module cleanups run even when setUpModule fails part-way. The namespace, its nftables
    # table and its conntrack table go with this process.
    unittest.addModuleCleanup(h.kill_all_children)


class ConntrackProbeTest(unittest.TestCase):
    def test_flow_is_tracked(self):
        try:
            with open("/proc/net/nf_conntrack") as f:
                table = f.read()
        except FileNotFoundError:
            self.skipTest("/proc/net/nf_conntrack is absent (kernel without "
                          "CONFIG_NF_CONNTRACK_PROCFS): cannot check the table directly")
        # ipv4 2 tcp 6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=C dport=S ...
        # delta-time=N ...: the first tuple is the original direction, client to server.
        wanted = (f"src=127.0.0.1 dst=127.0.0.1 sport={FLOW.client_port} "
                  f"dport={FLOW.server_port} ")
        lines = [line for line in table.splitlines()
                 if line.split()[2:3] == ["tcp"] and wanted in line]
        self.assertEqual(len(lines), 1, f"flow {wanted!r} not in the conntrack table:\n{table}")
        self.assertIn(" ESTABLISHED ", lines[0])
        self.assertIn(" delta-time=", lines[0], "the flow has no start timestamp")

    def test_age_from_conntrack(self):
        left = HOLD_S - (time.monotonic() - FLOW.opened_after)
        if left > 0:
            time.sleep(left)
        held = time.monotonic() - FLOW.opened_after
        # An empty state directory: no first-seen times from a running exporter.
        entries = h.connections_json(f"--storage.path={TMP.name}", timeout=60)
        since_open = time.monotonic() - FLOW.opened_before

        def find(local_port, remote_port):
            found = [e for e in entries
                     if e.get("protocol") == "tcp" and e.get("local_address") == "127.0.0.1"
                     and e.get("local_port") == local_port
                     and e.get("remote_port") == remote_port]
            self.assertEqual(len(found), 1, f"127.0.0.1:{local_port} -> :{remote_port} in "
                             f"{entries}")
            return found[0]

        # conntrack keys the flow by its original tuple; both ends must match it.
        for end, entry in (("client", find(FLOW.client_port, FLOW.server_port)),
                           ("server", find(FLOW.server_port, FLOW.client_port))):
            with self.subTest(end=end):
                self.assertEqual(entry["age_source"], "conntrack", entry)
                self.assertIsNotNone(entry["age_seconds"], entry)
                self.assertGreaterEqual(entry["age_seconds"], held - 1.0, entry)
                self.assertLessEqual(entry["age_seconds"], since_open + 1.0, entry)


class SamplerConntrackTest(unittest.TestCase):
    def syscalls_while_serving(self, samples=3, timeout=30.0):
        """The socket(2) calls of a `connwatch serve` (every 100 ms) over `samples` samples:
        the trace ends once that many samples' sock_diag dumps (3 sockets each) were seen."""
        cw = h.Connwatch(interval="100ms").start()
        self.addCleanup(cw.stop)
        trace = os.path.join(TMP.name, f"strace-{time.monotonic_ns()}")
        # -f with -p attaches every thread of the process, the sampler's included.
        strace = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=socket", "-o", trace,
                                   "-p", str(cw.proc.pid)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(h.kill_process, strace)

        def traced():
            try:
                with open(trace) as f:
                    text = f.read()
            except FileNotFoundError:
                return None
            # One sample more than asked: the last one may still be under way.
            return text if text.count("NETLINK_SOCK_DIAG") >= 3 * (samples + 1) else None

        text = h.wait_until(traced, timeout, f"{samples} samples under strace", interval=0.1)
        strace.send_signal(signal.SIGINT)
        strace.wait(timeout=30)
        return text

    def set_timestamps(self, value):
        with open(TIMESTAMP_SYSCTL, "w") as f:
            f.write(f"{value}\n")

    def test_sampler_dumps_conntrack_only_with_timestamps(self):
        if shutil.which("strace") is None:
            self.skipTest("strace is missing (apt-get install strace)")
        self.addCleanup(self.set_timestamps, 1)  # what the other tests need
        self.set_timestamps(0)
        off = self.syscalls_while_serving()
        self.assertGreaterEqual(off.count("NETLINK_SOCK_DIAG"), 3, f"no samples seen:\n{off}")
        self.assertNotIn("NETLINK_NETFILTER", off, "conntrack dumped with timestamps off")
        self.set_timestamps(1)
        on = self.syscalls_while_serving()
        self.assertGreaterEqual(on.count("NETLINK_NETFILTER"), 3,
                                f"no conntrack dump with timestamps on:\n{on}")


if __name__ == "__main__":
    h.install_watchdog(120)
    unittest.main()
