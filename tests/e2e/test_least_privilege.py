#!/usr/bin/env python3
"""Least privilege: connwatch keeps exactly CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE and
CAP_NET_ADMIN, and with them attributes root's sockets even as an unprivileged user.

Runs in a private network namespace, so the only sockets are the test's. A sockholder runs as
root; connwatch runs (a) as root, (b) as `nobody` with the three as ambient capabilities
(what systemd's AmbientCapabilities= does), (c) as `nobody` without them, and (d) as (b) in
a private mount namespace whose /proc is mounted with hidepid=invisible (what the unit's
ProtectProc=invisible does). The capabilities are read from /proc/<pid>/status of every
connwatch thread: they are per thread.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

# Capability numbers (linux/capability.h).
CAP_DAC_READ_SEARCH, CAP_NET_ADMIN, CAP_SYS_PTRACE = 2, 12, 19
THREE = (1 << CAP_DAC_READ_SEARCH) | (1 << CAP_NET_ADMIN) | (1 << CAP_SYS_PTRACE)
THREE_NAMES = "cap_dac_read_search,cap_net_admin,cap_sys_ptrace"
SETPRIV_CAPS = "+dac_read_search,+sys_ptrace,+net_admin"
USER, GROUP, UID = "nobody", "nogroup", 65534
HOLDER_NAME = "cw-priv-holder"


def status_caps(path):
    """{'CapEff': int, ...} from a /proc/<pid>[/task/<tid>]/status file."""
    caps = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.startswith("Cap"):
                caps[key] = int(value.strip(), 16)
            elif key == "Uid":
                caps["Uid"] = [int(x) for x in value.split()]
    return caps


def own_caps():
    return status_caps("/proc/self/status")


def setpriv(with_caps):
    """The setpriv prefix that runs a command as nobody, with or without the three (as
    inheritable, ambient and the whole bounding set, like systemd's AmbientCapabilities= and
    CapabilityBoundingSet=)."""
    caps = [f"--inh-caps=-all,{SETPRIV_CAPS}", f"--ambient-caps=-all,{SETPRIV_CAPS}",
            f"--bounding-set=-all,{SETPRIV_CAPS}"] if with_caps else ["--inh-caps=-all"]
    return (["setpriv", f"--reuid={USER}", f"--regid={GROUP}", "--clear-groups"] + caps +
            ["--pdeathsig=SIGKILL"])


def cap_names(mask):
    names = {CAP_DAC_READ_SEARCH: "cap_dac_read_search", CAP_NET_ADMIN: "cap_net_admin",
             CAP_SYS_PTRACE: "cap_sys_ptrace"}
    return ",".join(names[c] for c in sorted(names) if mask & (1 << c)) or "none"


def hidepid_prefix():
    """A private mount namespace with /proc mounted hidepid=invisible, then `exec "$@"`."""
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
            'mount -t proc -o hidepid=invisible proc /proc && exec "$@"', "sh"]


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (namespaces, setpriv, mount)")
    for tool in ("setpriv", "unshare"):
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} (util-linux) not found")
    h.enter_private_netns()


class LeastPrivilege(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cw-e2e-priv-")
        exe = h.install_executable(cls.tmp, HOLDER_NAME)
        # Root's: a listener and an established pair (listener, client, accepted end).
        cls.holder = h.Holder(exe, ["--tcp-listen=127.0.0.1:0", "--pair=127.0.0.1"])
        cls.listen_port = cls.holder.ready["tcp_listen"][0]["port"]
        cls.holder_sockets = 4
        # What the test itself may hand on: a subset of the three when run with fewer.
        caps = own_caps()
        cls.available = THREE & caps["CapPrm"] & caps["CapBnd"]

    @classmethod
    def tearDownClass(cls):
        cls.holder.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def storage_for_nobody(self):
        """A temporary state directory the test user may write."""
        path = tempfile.mkdtemp(prefix="cw-e2e-priv-state-")
        self.addCleanup(shutil.rmtree, path, True)
        os.chown(path, UID, -1)
        return path

    def start(self, prefix=(), storage=None):
        flags = [f"--storage.path={storage}"] if storage else []
        cw = h.PrefixedConnwatch(prefix, *flags) if prefix else h.Connwatch(*flags)
        cw.start(timeout=60)
        self.addCleanup(cw.stop)
        return cw

    def scrape_after_samples(self, cw, samples=2):
        """A scrape once connwatch has taken `samples` samples (1 s interval)."""
        return h.wait_for_scrape(
            cw, lambda exp: exp.value("connwatch_samples_total") >= samples, 30,
            f"{samples} samples")

    def assert_thread_caps(self, cw, effective, uid):
        """Every connwatch thread: effective = permitted = bounding = `effective`, nothing
        inheritable or ambient (connwatch executes no program)."""
        tasks = os.listdir(f"/proc/{cw.proc.pid}/task")
        self.assertGreaterEqual(len(tasks), 2, "no sampler or HTTP thread yet")
        for tid in tasks:
            caps = status_caps(f"/proc/{cw.proc.pid}/task/{tid}/status")
            with self.subTest(tid=tid):
                self.assertEqual(caps["Uid"], [uid] * 4)
                self.assertEqual(caps["CapEff"], effective, hex(caps["CapEff"]))
                self.assertEqual(caps["CapPrm"], effective, hex(caps["CapPrm"]))
                self.assertEqual(caps["CapInh"], 0, hex(caps["CapInh"]))
                self.assertEqual(caps["CapAmb"], 0, hex(caps["CapAmb"]))
        return status_caps(f"/proc/{cw.proc.pid}/status")

    def capability_log(self, cw):
        m = re.search(r'msg="?capabilities"? kept=(\S+) lacking=(\S+)', cw.log())
        self.assertIsNotNone(m, f"no capabilities log line:\n{cw.log()}")
        return m.group(1), m.group(2)

    def assert_holder_attributed(self, exp):
        listeners = exp.select("connwatch_listener_info", port=str(self.listen_port))
        self.assertEqual([s.labels["process"] for s in listeners], [HOLDER_NAME], listeners)
        conns = exp.select("connwatch_process_connections", process=HOLDER_NAME)
        self.assertEqual(sum(s.value for s in conns), 2, conns)  # both ends of the pair
        self.assertEqual(exp.value("connwatch_collector_success", collector="proc_fd"), 1)

    # (a) -----------------------------------------------------------------------------------

    def test_a_root_keeps_exactly_the_three(self):
        cw = self.start()
        exp = self.scrape_after_samples(cw)
        main = self.assert_thread_caps(cw, self.available, 0)
        self.assertEqual(main["CapBnd"], self.available, hex(main["CapBnd"]))
        kept, lacking = self.capability_log(cw)
        self.assertEqual(kept, cap_names(self.available))
        self.assertEqual(lacking, cap_names(THREE & ~self.available))
        self.assert_holder_attributed(exp)
        # The state directory (root's, mode 0700) stays writable without CAP_DAC_OVERRIDE.
        state = os.path.join(cw._log_dir, "state")
        h.wait_until(lambda: os.path.exists(os.path.join(state, "connections.state")), 15,
                     "connections.state written")
        self.assertEqual(exp.value_or("connwatch_state_errors_total", 0, op="save",
                                      file="connections"), 0)

    def test_a_root_on_a_privileged_port_also_keeps_net_bind_service(self):
        # Port 80 is free: this is the test's own network namespace.
        cw = h.Connwatch(listen="127.0.0.1:80")
        cw.start(timeout=60)
        self.addCleanup(cw.stop)
        self.assertEqual(cw.port, 80)
        bind_service = 1 << 10
        expected = (self.available | bind_service) & own_caps()["CapPrm"]
        self.assert_thread_caps(cw, expected, 0)
        kept, _ = self.capability_log(cw)
        self.assertIn("cap_net_bind_service", kept)

    # (b) -----------------------------------------------------------------------------------

    def test_b_unprivileged_user_with_ambient_caps_attributes_root_sockets(self):
        if self.available != THREE:
            self.skipTest("the test process lacks one of the three capabilities")
        cw = self.start(setpriv(True), self.storage_for_nobody())
        exp = self.scrape_after_samples(cw)
        main = self.assert_thread_caps(cw, THREE, UID)
        self.assertEqual(main["CapBnd"], THREE, hex(main["CapBnd"]))
        self.assertEqual(self.capability_log(cw), (THREE_NAMES, "none"))
        self.assertNotIn("missing capability", cw.log())
        self.assert_holder_attributed(exp)

    # (c) -----------------------------------------------------------------------------------

    def test_c_unprivileged_user_without_caps_degrades_and_says_why(self):
        cw = self.start(setpriv(False), self.storage_for_nobody())
        exp = self.scrape_after_samples(cw, samples=3)
        self.assertIsNone(cw.proc.poll(), "connwatch exited")
        self.assert_thread_caps(cw, 0, UID)
        self.assertEqual(self.capability_log(cw), ("none", THREE_NAMES))
        for name in THREE_NAMES.split(","):
            self.assertRegex(cw.log(), rf'msg="missing capability" capability={name} '
                                       r'degrades="[^"]+"')
        # Root's sockets are there, but nobody owns them.
        listeners = exp.select("connwatch_listener_info", port=str(self.listen_port))
        self.assertEqual([s.labels["process"] for s in listeners], [""], listeners)
        self.assertEqual(exp.select("connwatch_process_connections", process=HOLDER_NAME), [])
        self.assertGreaterEqual(exp.value("connwatch_unowned_sockets", protocol="tcp"),
                                self.holder_sockets)
        # ... and the metrics say why.
        self.assertEqual(exp.value("connwatch_collector_success", collector="proc_fd"), 0)
        self.assertGreater(exp.value("connwatch_scan_errors_total", kind="permission_denied"), 0)
        # connwatch's own listener is its own user's: still attributed.
        self.assertEqual(len(exp.select("connwatch_listener_info", port=str(cw.port),
                                        process="connwatch")), 1)

    # (d) -----------------------------------------------------------------------------------

    def hidden_from_nobody(self, with_caps):
        """Whether the holder's pid is listed in a hidepid=invisible /proc for nobody."""
        out = subprocess.run(
            hidepid_prefix() + setpriv(with_caps) +
            ["sh", "-c", f"test -d /proc/{self.holder.pid} && echo visible || echo hidden"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.decode().strip() == "hidden"

    def test_d_hidepid_invisible_with_caps_still_attributes(self):
        if self.available != THREE:
            self.skipTest("the test process lacks one of the three capabilities")
        # The control: hidepid really hides root's process from nobody, but not with the caps.
        self.assertTrue(self.hidden_from_nobody(False), "hidepid=invisible had no effect")
        self.assertFalse(self.hidden_from_nobody(True))
        cw = self.start(hidepid_prefix() + setpriv(True), self.storage_for_nobody())
        with open(f"/proc/{cw.proc.pid}/mountinfo") as f:
            proc_mounts = [line for line in f if line.split()[4] == "/proc"]
        self.assertTrue(proc_mounts and "hidepid=invisible" in proc_mounts[-1], proc_mounts)
        exp = self.scrape_after_samples(cw)
        self.assert_thread_caps(cw, THREE, UID)
        self.assert_holder_attributed(exp)


if __name__ == "__main__":
    h.install_watchdog(280)
    unittest.main(verbosity=2)
