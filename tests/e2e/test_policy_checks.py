#!/usr/bin/env python3
"""Each policy check, with the real binary and real sockets: a violation shows up, then clears.

The whole script runs in a private network namespace, so the only sockets connwatch sees are
the ones this test makes (and connwatch's own). For each check a policy is written, connwatch
serves with --collect.interval=500ms, a sockholder child creates the violating fact, and the
check's gauge and a connwatch_finding_info series must appear within ~5 s (a few sample
intervals); stopping the holder must clear them as fast.

Paths get real, non-loopback peers: two named namespaces linked by veth pairs, one with
10.231.1.2 and 10.231.2.2 (built-in zone "internal"; the policy names 10.231.1.0/24 "lab",
which must win because policy zones match first) and one with 203.0.113.2 (TEST-NET-3:
"external"). No packet leaves these namespaces.
"""

import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402  (imported before entering the private namespace, on purpose)

INTERVAL = "500ms"
APPEAR = 5.0  # seconds: a few sample intervals, bounded


def setUpModule():
    h.enter_private_netns()
    global TMP
    TMP = tempfile.TemporaryDirectory(prefix="cw-e2e-policy-")


def tearDownModule():
    h.kill_all_children()
    TMP.cleanup()


def exe(name):
    return h.named_holder(TMP.name, name)


def start_connwatch(test_name, policy_text):
    directory = tempfile.mkdtemp(prefix=f"{test_name}-", dir=TMP.name)
    policy = h.write_file(directory, "policy.yaml", policy_text)
    storage = os.path.join(directory, "storage")
    os.mkdir(storage)
    return h.Connwatch(f"--config.file={policy}", f"--storage.path={storage}",
                       interval=INTERVAL).start()


def my_comm():
    with open("/proc/self/comm") as f:
        return f.read().strip()


class PolicyCheckCase(unittest.TestCase):
    cw = None
    holders = ()

    @classmethod
    def tearDownClass(cls):
        for holder in cls.holders:
            holder.stop()
        if cls.cw is not None:
            cls.cw.stop()

    def assert_check_active(self, exp, active):
        got = {s.labels.get("check"): s.value for s in exp.select("connwatch_check_active")}
        for check in ("unexpected_listener", "expected_service_down",
                      "unexpected_network_process", "path_violation"):
            self.assertEqual(got.get(check), 1 if check == active else 0,
                             f"connwatch_check_active{{check={check!r}}}: {got}")

    def assert_finding_labels(self, finding):
        self.assertEqual(set(finding.labels), h.FINDING_LABELS, finding)
        self.assertEqual(finding.value, 1, finding)

    def assert_promtool_ok(self):
        rc, out = h.promtool_check_metrics(self.cw.scrape_raw().body)
        self.assertEqual(rc, 0, f"promtool check metrics: {out}")


class UnexpectedListenerTest(PolicyCheckCase):
    @classmethod
    def setUpClass(cls):
        # cw-ok holds an allowed listener (18080) and one the rule does not cover (18081).
        cls.ok = h.Holder(exe("cw-ok"), ["--tcp-listen", "127.0.0.1:18080",
                                         "--tcp-listen", "127.0.0.1:18081"])
        cls.holders = [cls.ok]
        cls.cw = start_connwatch("listeners", """\
listeners:
  - process: connwatch
    bind: loopback
  - process: cw-ok
    port: 18080
    protocol: tcp
""")

    def test_rogue_listener_appears_and_clears(self):
        def verdict(exp, process, port):
            found = exp.select("connwatch_listener_info", process=process, port=str(port))
            self.assertEqual(len(found), 1, f"listener_info {process}:{port}: {found}")
            return found[0].labels.get("expected")

        # The first sample predates connwatch's own HTTP listener: wait for both.
        exp = h.wait_for_scrape(
            self.cw, lambda e: e.select("connwatch_listener_info", process="cw-ok") and
            e.select("connwatch_listener_info", process="connwatch", port=str(self.cw.port)),
            APPEAR, "listener_info for cw-ok and connwatch")
        self.assertEqual(verdict(exp, "cw-ok", 18080), "true")
        self.assertEqual(verdict(exp, "cw-ok", 18081), "false")
        self.assertEqual(verdict(exp, "connwatch", self.cw.port), "true")
        for s in exp.select("connwatch_listener_info"):
            self.assertEqual(set(s.labels), h.LISTENER_LABELS,
                             s)
        self.assertEqual(exp.value("connwatch_unexpected_listeners"), 1)
        self.assert_check_active(exp, "unexpected_listener")
        ok_findings = h.findings(exp, check="unexpected_listener", process="cw-ok")
        self.assertEqual([f.labels["local_port"] for f in ok_findings], ["18081"])

        rogue = h.Holder(exe("cw-rogue"), ["--tcp-listen", "127.0.0.1:0"])
        try:
            port = str(rogue.ready["tcp_listen"][0]["port"])
            exp = h.wait_for_scrape(
                self.cw, lambda e: h.findings(e, check="unexpected_listener", process="cw-rogue"),
                APPEAR, "an unexpected_listener finding for cw-rogue")
            found = h.findings(exp, check="unexpected_listener", process="cw-rogue")
            self.assertEqual(len(found), 1, found)
            f = found[0]
            self.assert_finding_labels(f)
            self.assertEqual((f.labels["pid"], f.labels["protocol"], f.labels["local_address"],
                              f.labels["local_port"]),
                             (str(rogue.pid), "tcp", "127.0.0.1", port), f)
            self.assertEqual(verdict(exp, "cw-rogue", port), "false")
            self.assertEqual(exp.value("connwatch_unexpected_listeners"), 2)
            self.assertEqual(verdict(exp, "cw-ok", 18080), "true")
            self.assert_promtool_ok()
        finally:
            rogue.stop()

        exp = h.wait_for_scrape(
            self.cw, lambda e: not e.select("connwatch_listener_info", process="cw-rogue"),
            APPEAR, "cw-rogue's listener to disappear")
        self.assertEqual(h.findings(exp, process="cw-rogue"), [])
        self.assertEqual(exp.value("connwatch_unexpected_listeners"), 1)


class ExpectedServiceTest(PolicyCheckCase):
    PORT = 15432

    @classmethod
    def setUpClass(cls):
        cls.cw = start_connwatch("services", f"""\
expected_services:
  - name: cw-db
    port: {cls.PORT}
    protocol: tcp
    process: cw-db
""")

    def up(self, exp):
        return exp.value("connwatch_expected_service_up", service="cw-db", protocol="tcp",
                         port=str(self.PORT))

    def down_findings(self, exp):
        return h.findings(exp, check="expected_service_down", local_port=str(self.PORT))

    def test_service_down_then_up_then_down(self):
        exp = self.cw.scrape()
        self.assertEqual(self.up(exp), 0)
        self.assert_check_active(exp, "expected_service_down")
        found = self.down_findings(exp)
        self.assertEqual(len(found), 1, found)
        self.assert_finding_labels(found[0])
        self.assertEqual(found[0].labels, {
            "check": "expected_service_down", "process": "cw-db", "pid": "", "protocol": "tcp",
            "local_address": "", "local_port": str(self.PORT), "remote_address": "",
            "remote_port": "", "direction": "", "remote_zone": "",
            "age_source": "", "exe": "", "netns": "", "namespace": "", "pod": "", "container": ""})

        # The port is open, but by the wrong process: the service stays down.
        impostor = h.Holder(exe("cw-impostor"), ["--tcp-listen", f"127.0.0.1:{self.PORT}"])
        try:
            exp = h.wait_for_scrape(self.cw, lambda e: e.select(
                "connwatch_listener_info", process="cw-impostor", port=str(self.PORT)),
                APPEAR, "cw-impostor's listener")
            self.assertEqual(self.up(exp), 0)
            self.assertEqual(len(self.down_findings(exp)), 1)
        finally:
            impostor.stop()
        h.wait_for_scrape(self.cw, lambda e: not e.select(
            "connwatch_listener_info", process="cw-impostor"), APPEAR, "cw-impostor gone")

        db = h.Holder(exe("cw-db"), ["--tcp-listen", f"127.0.0.1:{self.PORT}"])
        try:
            exp = h.wait_for_scrape(self.cw, lambda e: self.up(e) == 1, APPEAR,
                                    "expected_service_up 1 with cw-db listening")
            self.assertEqual(self.down_findings(exp), [])
        finally:
            db.stop()

        exp = h.wait_for_scrape(self.cw, lambda e: self.up(e) == 0, APPEAR,
                                "expected_service_up 0 after cw-db stopped")
        self.assertEqual(len(self.down_findings(exp)), 1)


class NetworkProcessTest(PolicyCheckCase):
    @classmethod
    def setUpClass(cls):
        cls.allowed = h.Holder(exe("cw-allowed-1"), ["--tcp-listen", "127.0.0.1:0",
                                                     "--udp-pair"])
        cls.holders = [cls.allowed]
        # connwatch and this test process (its scrapes) hold sockets too: allow them.
        cls.cw = start_connwatch("netproc", f"""\
network_processes:
  - "cw-allowed*"
  - connwatch
  - "{my_comm()}"
""")

    def test_unexpected_process_appears_and_clears(self):
        exp = h.wait_for_scrape(self.cw, lambda e: e.select("connwatch_listener_info",
                                                            process="cw-allowed-1"),
                                APPEAR, "cw-allowed-1's listener")
        self.assert_check_active(exp, "unexpected_network_process")
        self.assertEqual(exp.value("connwatch_unexpected_network_processes"), 0)
        self.assertEqual(exp.select("connwatch_unexpected_network_process_sockets"), [])
        self.assertEqual(h.findings(exp, check="unexpected_network_process"), [])

        hollow = h.Holder(exe("cw-hollow"), ["--tcp-listen", "127.0.0.1:0",
                                             "--udp", "127.0.0.1:15353"])
        try:
            exp = h.wait_for_scrape(
                self.cw, lambda e: e.value_or("connwatch_unexpected_network_processes", 0) >= 1,
                APPEAR, "connwatch_unexpected_network_processes >= 1")
            self.assertEqual(exp.value("connwatch_unexpected_network_processes"), 1)
            sockets = exp.select("connwatch_unexpected_network_process_sockets")
            self.assertEqual([(s.labels, s.value) for s in sockets],
                             [({"process": "cw-hollow", "namespace": "", "pod": "",
                                "container": ""}, 2)])
            found = h.findings(exp, check="unexpected_network_process")
            self.assertTrue(found, "no unexpected_network_process finding")
            for f in found:
                self.assert_finding_labels(f)
                self.assertEqual((f.labels["process"], f.labels["pid"]),
                                 ("cw-hollow", str(hollow.pid)), f)
            self.assertEqual(h.findings(exp, process="cw-allowed-1"), [])
            self.assert_promtool_ok()
        finally:
            hollow.stop()

        exp = h.wait_for_scrape(
            self.cw, lambda e: e.value_or("connwatch_unexpected_network_processes", -1) == 0,
            APPEAR, "connwatch_unexpected_network_processes back to 0")
        self.assertEqual(exp.select("connwatch_unexpected_network_process_sockets"), [])
        self.assertEqual(h.findings(exp, check="unexpected_network_process"), [])


class PathTest(PolicyCheckCase):
    """Outbound and inbound connections to internal, policy-zone and external peers."""

    @classmethod
    def setUpClass(cls):
        cls.holders = []
        cls.lab = netns.Lab()
        try:
            cls.ns_int = cls.lab.add_namespace("int")
            cls.ns_ext = cls.lab.add_namespace("ext")
            cls.lab.link(cls.ns_int, ["10.231.1.1/24", "10.231.2.1/24"],
                         ["10.231.1.2/24", "10.231.2.2/24"])
            cls.lab.link(cls.ns_ext, ["203.0.113.1/24"], ["203.0.113.2/24"])
            # Servers in the peers (accepting, so the connections stay established).
            for ns, name, ports in ((cls.ns_int, "cw-peer-int", (5432, 8080)),
                                    (cls.ns_ext, "cw-peer-ext", (8443,))):
                args = ["--accept", f"--netns-inode={netns.netns_inode(ns)}"]
                for port in ports:
                    args += ["--tcp-listen", f"0.0.0.0:{port}"]
                cls.holders.append(h.Holder(exe(name), args, prefix=netns.exec_prefix(ns)))
            # A server here, for inbound paths.
            cls.inbound = h.Holder(exe("cw-inbound"), [
                "--accept", f"--netns-inode={netns.current_netns_inode()}",
                "--tcp-listen", "0.0.0.0:8022"])
            cls.holders.append(cls.inbound)
            cls.cw = start_connwatch("paths", """\
zones:
  - name: lab
    cidrs: [10.231.1.0/24]
paths:
  - direction: inbound
    remote_zone: loopback
  - direction: outbound
    remote_zone: loopback
  - process: cw-allowed-out
    direction: outbound
    remote_zone: internal
    port: 5432
  - process: cw-inbound
    direction: inbound
    remote_zone: lab
    port: 8022
""")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.lab.close()

    def client(self, name, *targets, ns=None):
        args = []
        for t in targets:
            args += ["--connect", t]
        prefix = ()
        inode = netns.current_netns_inode()
        if ns is not None:
            prefix = netns.exec_prefix(ns)
            inode = netns.netns_inode(ns)
        holder = h.Holder(exe(name), args + [f"--netns-inode={inode}"], prefix=prefix)
        self.addCleanup(holder.stop)
        return holder

    def violations(self, exp):
        out = {}
        for s in exp.select("connwatch_path_violations"):
            self.assertEqual(set(s.labels), {"process", "direction", "remote_zone", "port"} |
                             h.WORKLOAD_LABELS, s)
            key = (s.labels["process"], s.labels["direction"], s.labels["remote_zone"],
                   s.labels["port"])
            out[key] = s.value
        return out

    def test_paths_across_zones(self):
        exp = self.cw.scrape()
        self.assert_check_active(exp, "path_violation")
        self.assertEqual(self.violations(exp), {})

        lateral = self.client("cw-lateral", "10.231.2.2:5432")
        labc = self.client("cw-labclient", "10.231.1.2:5432")
        exfil = self.client("cw-exfil", "203.0.113.2:8443")
        allowed = self.client("cw-allowed-out", "10.231.2.2:5432", "10.231.2.2:8080")
        in_ext = self.client("cw-peer-in-ext", "203.0.113.1:8022", ns=self.ns_ext)
        self.client("cw-peer-in-lab", "10.231.1.1:8022", ns=self.ns_int)

        want = {
            ("cw-lateral", "outbound", "internal", "5432"): 1,
            ("cw-labclient", "outbound", "lab", "5432"): 1,
            ("cw-exfil", "outbound", "external", "8443"): 1,
            ("cw-allowed-out", "outbound", "internal", "8080"): 1,
            ("cw-inbound", "inbound", "external", "8022"): 1,
        }

        def all_there(e):
            got = self.violations(e)
            missing = set(want) - set(got)
            assert not missing, f"missing {sorted(missing)}; have {got}"
            return True

        exp = h.wait_for_scrape(self.cw, all_there, APPEAR, "the five path violations")
        # Exactly these: the allowed outbound (internal:5432) and inbound (lab:8022) paths and
        # the loopback scrapes are not violations.
        self.assertEqual(self.violations(exp), want)

        def one_finding(process, **labels):
            found = h.findings(exp, check="path_violation", process=process)
            self.assertEqual(len(found), 1, f"path_violation findings for {process}: {found}")
            self.assert_finding_labels(found[0])
            for k, v in labels.items():
                self.assertEqual(found[0].labels[k], v, f"{k} of {found[0]}")

        c = exfil.ready["connects"][0]
        one_finding("cw-exfil", pid=str(exfil.pid), protocol="tcp", direction="outbound",
                    remote_zone="external", remote_address="203.0.113.2", remote_port="8443",
                    local_address="203.0.113.1", local_port=str(c["local_port"]))
        one_finding("cw-lateral", pid=str(lateral.pid), remote_address="10.231.2.2",
                    remote_port="5432", remote_zone="internal", direction="outbound")
        one_finding("cw-labclient", pid=str(labc.pid), remote_address="10.231.1.2",
                    remote_zone="lab", local_address="10.231.1.1")
        one_finding("cw-allowed-out", pid=str(allowed.pid), remote_port="8080",
                    remote_zone="internal")
        c = in_ext.ready["connects"][0]
        one_finding("cw-inbound", pid=str(self.inbound.pid), direction="inbound",
                    remote_zone="external", remote_address="203.0.113.2",
                    remote_port=str(c["local_port"]), local_address="203.0.113.1",
                    local_port="8022")
        self.assert_promtool_ok()

        # Ending a connection clears its violation and finding.
        exfil.stop()
        exp = h.wait_for_scrape(
            self.cw, lambda e: ("cw-exfil", "outbound", "external", "8443")
            not in self.violations(e), APPEAR, "cw-exfil's violation to clear")
        self.assertEqual(h.findings(exp, process="cw-exfil"), [])
        del want[("cw-exfil", "outbound", "external", "8443")]
        self.assertEqual(self.violations(exp), want)


if __name__ == "__main__":
    netns.install_watchdog(120)
    unittest.main()
