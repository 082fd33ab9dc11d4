#!/usr/bin/env python3
"""connwatch reads every network namespace of the host (--collector.netns=all).

Runs in a private network namespace (the "host" side) with, made by the test:
  - a named namespace "pod" (`ip netns add`) linked by a veth pair (10.236.1.1 here, 10.236.1.2
    there, inside this test's 10.236.1.0/30): a holder inside listens on 10.236.1.2:18090 and
    accepts; a holder on the host side connects to it;
  - a named namespace "pin" with no process in it: a Python process on the host side enters
    it with setns(), opens a listener on its 127.0.0.1:18092 and comes straight back, so the
    socket lives in a namespace that only the pin under /run/netns leads to;
  - an unnamed namespace (`unshare -n`) whose only process listens on its 127.0.0.1:18093,
    stopped during the test: the namespace must disappear from the exposition, and the sock_diag
    socket connwatch held inside it (found in the namespace's /proc/<pid>/net/netlink while it
    lived) must be closed, since it would keep the namespace alive.
Checks: each socket appears with the right `netns` label, owner and direction, in
connwatch_listener_info, connwatch_finding_info and connwatch_netns_info; the same sockets are
seen without CAP_SYS_ADMIN through /proc/<pid>/net (setpriv drops it), except the pinned
namespace that has no process to read through; --collector.netns=own sees none of them; the
exposition passes `promtool check metrics`.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402

HOST, PEER = "10.236.1.1", "10.236.1.2"
POD_PORT, PIN_PORT, UNNAMED_PORT = 18090, 18092, 18093

# The pod's listener is unexpected (only ssh is allowed): its finding carries the netns.
POLICY = """\
listeners:
  - port: 22
"""

# Enters the pinned namespace, listens there, comes back, and holds the socket until stdin
# closes. Run as its own process so the test process never leaves its namespace.
PIN_LISTENER = textwrap.dedent("""\
    import ctypes, os, socket, sys
    CLONE_NEWNET = 0x40000000
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(sys.argv[1], os.O_RDONLY)
    if libc.setns(target, CLONE_NEWNET) != 0:
        sys.exit("setns in: " + os.strerror(ctypes.get_errno()))
    listener = socket.socket()
    listener.bind(("127.0.0.1", int(sys.argv[2])))
    listener.listen()
    if libc.setns(home, CLONE_NEWNET) != 0:
        sys.exit("setns back: " + os.strerror(ctypes.get_errno()))
    print("READY", flush=True)
    sys.stdin.read()
    """)

UNSHARE_PREFIX = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (namespaces, setns, setpriv)")
    for tool in ("ip", "unshare", "setpriv"):
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} not found")
    netns.install_watchdog(240)
    h.enter_private_netns()


NETLINK_SOCK_DIAG = 4


def sock_diag_sockets_in(pid):
    """Inodes of the NETLINK_SOCK_DIAG sockets of pid's network namespace (/proc/PID/net/netlink:
    sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode)."""
    inodes = set()
    with open(f"/proc/{pid}/net/netlink") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if len(fields) >= 10 and fields[1] == str(NETLINK_SOCK_DIAG):
                inodes.add(int(fields[9]))
    return inodes


def socket_inodes_held_by(pid):
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[len("socket:["):-1]))
    return inodes


class EveryNamespace(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cw-e2e-netns-")
        cls.lab = netns.Lab()
        cls.started = []
        try:
            cls._start_namespaces()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start_namespaces(cls):
        cls.pod = cls.lab.add_namespace("pod")
        cls.lab.link(cls.pod, [f"{HOST}/30"], [f"{PEER}/30"])
        cls.pin = cls.lab.add_namespace("pin")
        cls.server = h.Holder(h.named_holder(cls.tmp, "cw-pod-server"),
                              [f"--tcp-listen={PEER}:{POD_PORT}", "--accept",
                               f"--netns-inode={netns.netns_inode(cls.pod)}"],
                              prefix=netns.exec_prefix(cls.pod))
        cls.started.append(cls.server)
        cls.client = h.Holder(h.named_holder(cls.tmp, "cw-pod-client"),
                              [f"--connect={PEER}:{POD_PORT}",
                               f"--netns-inode={netns.current_netns_inode()}"])
        cls.started.append(cls.client)
        cls.pinned = subprocess.Popen(
            [sys.executable, "-c", PIN_LISTENER, f"/run/netns/{cls.pin}", str(PIN_PORT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=h._set_pdeathsig)
        line = cls.pinned.stdout.readline()
        if line.strip() != b"READY":
            raise AssertionError(f"the pinned listener did not start: {line!r}")
        cls.pinned_name = os.path.basename(os.path.realpath(f"/proc/{cls.pinned.pid}/exe"))
        cls.policy = h.write_file(cls.tmp, "policy.yaml", POLICY)

    @classmethod
    def tearDownClass(cls):
        for holder in cls.started:
            holder.stop()
        if getattr(cls, "pinned", None) is not None:
            cls.pinned.stdin.close()
            cls.pinned.wait(timeout=10)
        cls.lab.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def serve(self, netns_mode="all", prefix=None):
        args = (f"--collector.netns={netns_mode}", f"--config.file={self.policy}")
        cw = h.PrefixedConnwatch(prefix, *args) if prefix else h.Connwatch(*args)
        cw.start()
        self.addCleanup(cw.stop)
        return cw

    def wait_for(self, cw, what, predicate, timeout=20):
        return h.wait_for_scrape(cw, predicate, timeout, what)

    def test_each_namespace_is_read_through_sock_diag_and_named(self):
        cw = self.serve()
        exp = self.wait_for(cw, "the pod's and the pin's listeners", lambda e: e.select(
            "connwatch_listener_info", port=str(PIN_PORT), netns=self.pin) and e.select(
            "connwatch_listener_info", port=str(POD_PORT), netns=self.pod))
        pod_listener = exp.select("connwatch_listener_info", port=str(POD_PORT))
        self.assertEqual([(s.labels["netns"], s.labels["process"], s.labels["address"])
                          for s in pod_listener], [(self.pod, "cw-pod-server", PEER)])
        pinned = exp.select("connwatch_listener_info", port=str(PIN_PORT))
        self.assertEqual([(s.labels["netns"], s.labels["process"]) for s in pinned],
                         [(self.pin, self.pinned_name)],
                         "the owner lives in another namespace than its socket")
        self.assertEqual(exp.value("connwatch_netns_info", netns=self.pod, mode="sock_diag"), 1)
        self.assertEqual(exp.value("connwatch_netns_info", netns=self.pin, mode="sock_diag"), 1)
        self.assertEqual(exp.value("connwatch_netns", mode="failed"), 0)
        # Both ends of the connection: the accepted end inbound in the pod's namespace, the
        # client outbound here, to an internal peer.
        exp = self.wait_for(cw, "the pod's accepted connection", lambda e: e.select(
            "connwatch_process_connections", process="cw-pod-server", direction="inbound"))
        self.assertEqual(exp.value("connwatch_process_connections", process="cw-pod-server",
                                   direction="inbound", remote_zone="internal"), 1)
        self.assertEqual(exp.value("connwatch_process_connections", process="cw-pod-client",
                                   direction="outbound", remote_zone="internal"), 1)
        found = h.findings(exp, check="unexpected_listener", local_port=str(POD_PORT))
        self.assertEqual([f.labels["netns"] for f in found], [self.pod])
        self.assertEqual(exp.value("connwatch_collector_success", collector="netns"), 1)
        self.assertRegex(cw.log(), r'msg="?capabilities"? kept=\S*cap_sys_admin')
        rc, out = h.promtool_check_metrics(cw.scrape_raw().body)
        self.assertEqual(rc, 0, out)

    def test_an_unnamed_namespace_appears_and_is_released_after_its_process(self):
        cw = self.serve()
        holder = h.Holder(h.named_holder(self.tmp, "cw-unnamed"),
                          [f"--tcp-listen=127.0.0.1:{UNNAMED_PORT}"], prefix=UNSHARE_PREFIX)
        self.addCleanup(holder.stop)
        name = f"inode:{os.stat(f'/proc/{holder.pid}/ns/net').st_ino}"
        exp = self.wait_for(cw, "the unnamed namespace's listener", lambda e: e.select(
            "connwatch_listener_info", port=str(UNNAMED_PORT), netns=name))
        self.assertEqual(exp.value("connwatch_listener_info", port=str(UNNAMED_PORT), netns=name,
                                   process="cw-unnamed"), 1)
        # connwatch's own sock_diag socket inside that namespace, seen from inside.
        inside = sock_diag_sockets_in(holder.pid) & socket_inodes_held_by(cw.proc.pid)
        self.assertEqual(len(inside), 1, "one sock_diag socket of connwatch's inside")
        holder.stop()
        self.wait_for(cw, "the unnamed namespace gone", lambda e: not e.select(
            "connwatch_netns_info", netns=name))
        h.wait_until(lambda: not inside & socket_inodes_held_by(cw.proc.pid), 10,
                     "connwatch to close its socket inside the namespace")

    def test_without_cap_sys_admin_namespaces_are_read_through_procfs(self):
        cw = self.serve(prefix=["setpriv", "--bounding-set=-sys_admin", "--"])
        exp = self.wait_for(cw, "the pod's listener through procfs", lambda e: e.select(
            "connwatch_listener_info", port=str(POD_PORT), netns=self.pod))
        self.assertEqual(exp.value("connwatch_listener_info", port=str(POD_PORT), netns=self.pod,
                                   process="cw-pod-server"), 1)
        self.assertEqual(exp.value("connwatch_netns_info", netns=self.pod, mode="procfs"), 1)
        # The pinned namespace has no process whose /proc/<pid>/net could be read.
        self.assertEqual(exp.value("connwatch_netns_info", netns=self.pin, mode="failed"), 1)
        self.assertEqual(exp.select("connwatch_listener_info", port=str(PIN_PORT)), [])
        self.assertEqual(exp.value("connwatch_netns_errors_total", kind="setns"), 0,
                         "not tried without the capability")
        self.assertGreater(exp.value("connwatch_netns_errors_total", kind="no_member"), 0)
        self.assertIn("other network namespaces are read through /proc/<pid>/net", cw.log())
        self.assertNotIn("missing capability", cw.log())
        rc, out = h.promtool_check_metrics(cw.scrape_raw().body)
        self.assertEqual(rc, 0, out)

    def test_own_reads_only_connwatchs_namespace(self):
        cw = self.serve("own")
        exp = self.wait_for(cw, "the client's connection", lambda e: e.select(
            "connwatch_process_connections", process="cw-pod-client"))
        self.assertEqual(exp.select("connwatch_listener_info", port=str(POD_PORT)), [])
        self.assertEqual(exp.select("connwatch_listener_info", port=str(PIN_PORT)), [])
        self.assertEqual(exp.value("connwatch_netns", mode="sock_diag"), 0)
        self.assertEqual(exp.select("connwatch_netns_info"), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
