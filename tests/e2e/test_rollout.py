#!/usr/bin/env python3
"""The baseline learns pods by workload, and a pod's own network namespace is judged as its own.

Runs in a private network namespace (the "host" side) holding an "external" listener on
198.51.100.1:4444 (TEST-NET-2, the built-in zone "external"). Each pod is a named namespace
(`ip netns add`) linked by a veth pair inside this test's 198.51.100.0/24, with one process
moved into a Kubernetes-shaped cgroup (containerd, systemd driver; see test_workloads.py) and
an OCI bundle under a temporary --path.rootfs naming its pod:

  1. web-7d9f8b6c5d-x2k4q (shop/web, container nginx) listens on 18100 in its namespace while
     connwatch learns (`baseline: {learn_for: 3s}`, nothing else in the policy).
  2. Rollout: that pod goes, web-5c8d7f9b6d-qq7wz (a new pod name, uid, container id, cgroup
     and namespace) listens on 18100: no finding, its listener carries the new pod.
  3. admin-5c8d7f9b6d-qq7wz, another workload, listens on 18101: an unexpected listener with
     its labels (the baseline is no allow-all).
  4. A reverse shell from inside the new web pod's namespace to 198.51.100.1:4444: a path
     violation with that pod's namespace, pod, container and netns.
The pins are under the real /run/netns, not under the temporary --path.rootfs, so each pod's
netns label is the first 12 characters of the container id of its first process, as for a
pod whose runtime pins its namespace where connwatch does not look.
Teardown moves every process out of the test's cgroups before it removes them, also when
connwatch fails to start; the namespaces go with netns.Lab.
"""

import os
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cgroups  # noqa: E402
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402

EXTERNAL = "198.51.100.1"
WEB_PORT, ADMIN_PORT, SHELL_PORT = 18100, 18101, 4444
POLICY = "baseline:\n  learn_for: 3s\n"
SLICE = "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice"


class Pod:
    """One pod: a named namespace with an address, a cgroup and a bundle."""

    count = 0

    def __init__(self, test, name, workload_port):
        Pod.count += 1
        self.name, self.ns, self.container = name, "shop", "nginx"
        self.uid = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
        self.id = cgroups.hex_id(name)
        self.address = f"198.51.100.{10 + Pod.count}"
        self.netns = test.lab.add_namespace(f"pod{Pod.count}")
        host_if, _ = test.lab.link(self.netns, [f"198.51.100.{100 + Pod.count}/32"],
                                   [f"{self.address}/24"])
        netns._ip("route", "add", f"{self.address}/32", "dev", host_if)
        self.cgroup = f"{SLICE.format(self.uid.replace('-', '_'))}/cri-containerd-{self.id}.scope"
        cgroups.bundle(os.path.join(
            test.rootfs, "run/containerd/io.containerd.runtime.v2.task/k8s.io", self.id), {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.sandbox-name": name,
            "io.kubernetes.cri.sandbox-namespace": self.ns,
            "io.kubernetes.cri.sandbox-uid": self.uid,
            "io.kubernetes.cri.container-name": self.container})
        self.processes = []
        if workload_port:
            self.run(test, "nginx", [f"--tcp-listen={self.address}:{workload_port}", "--accept"])

    def run(self, test, name, args):
        """A holder inside this pod's namespace and cgroup."""
        holder = h.Holder(h.named_holder(test.tmp.name, name),
                          args + [f"--netns-inode={netns.netns_inode(self.netns)}"],
                          prefix=netns.exec_prefix(self.netns))
        test.holders.append(holder)
        self.processes.append(holder)
        test.move(holder.pid, self.cgroup)
        return holder

    def stop(self, test):
        for holder in self.processes:
            test.move(holder.pid, None)
            holder.stop()


class RolloutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mount = cgroups.mount()
        if cls.mount is None:
            raise unittest.SkipTest("no cgroup2 mounted")
        h.enter_private_netns()
        cls.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-rollout-")
        cls.rootfs = os.path.join(cls.tmp.name, "rootfs")
        cls.top = os.path.join(cls.mount, f"cw-e2e-rollout-{os.getpid()}")
        cls.home = os.path.join(cls.mount, cgroups.own().lstrip("/"))
        cls.made, cls.holders, cls.cw, cls.lab = [], [], None, netns.Lab()
        try:
            # The "internet" here: an external address on lo of the host side.
            netns._ip("addr", "add", f"{EXTERNAL}/32", "dev", "lo")
            cls.external = h.Holder(h.named_holder(cls.tmp.name, "c2-server"),
                                    [f"--tcp-listen={EXTERNAL}:{SHELL_PORT}", "--accept",
                                     f"--netns-inode={netns.current_netns_inode()}"])
            cls.holders.append(cls.external)
            cls.old = Pod(cls, "web-7d9f8b6c5d-x2k4q", WEB_PORT)
            cls.policy = h.write_file(cls.tmp.name, "policy.yaml", POLICY)
            cls.cw = h.Connwatch(f"--config.file={cls.policy}", f"--path.rootfs={cls.rootfs}",
                                 "--collector.netns=all", interval="500ms").start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.cw is not None:
            cls.cw.stop()
        for holder in cls.holders:
            cls.move(holder.pid, None)
            holder.stop()
        cgroups.remove(cls.made)
        cls.lab.close()
        cls.tmp.cleanup()

    @classmethod
    def move(cls, pid, cgroup):
        """Moves pid into the test's cgroup `cgroup` (made on first use), or home for None."""
        if cgroup is None:
            cgroups.move(pid, cls.home, missing_ok=True)
        else:
            cgroups.move(pid, cgroups.make(cls.top, cgroup, cls.made))

    def listener(self, exp, port):
        series = exp.select("connwatch_listener_info", port=str(port))
        return series[0].labels if len(series) == 1 else None

    def test_rollout_is_no_finding_but_another_workload_and_a_reverse_shell_are(self):
        # 1. Learned with the old pod.
        exp = h.wait_for_scrape(self.cw, lambda e: e.value_or(
            "connwatch_baseline_learning", 1) == 0 and (self.listener(e, WEB_PORT) or {}).get(
            "pod") == self.old.name, 20, "learning over, the old pod's listener seen")
        self.assertEqual(h.findings(exp, local_port=str(WEB_PORT)), [])
        # 2. Rollout.
        self.old.stop(self)
        new = Pod(self, "web-5c8d7f9b6d-qq7wz", WEB_PORT)
        exp = h.wait_for_scrape(self.cw, lambda e: (self.listener(e, WEB_PORT) or {}).get(
            "pod") == new.name, 15, "the new pod's listener")
        labels = self.listener(exp, WEB_PORT)
        self.assertEqual((labels["namespace"], labels["container"], labels["netns"]),
                         ("shop", "nginx", new.id[:12]))
        self.assertEqual(labels["expected"], "true", "learned for workload web, not the pod")
        # 3. Another workload.
        admin = Pod(self, "admin-5c8d7f9b6d-qq7wz", ADMIN_PORT)
        exp = h.wait_for_scrape(self.cw, lambda e: h.findings(
            e, check="unexpected_listener", local_port=str(ADMIN_PORT)), 15,
            "the admin pod's listener as a finding")
        found = h.findings(exp, check="unexpected_listener", local_port=str(ADMIN_PORT))
        self.assertEqual([(f.labels["pod"], f.labels["netns"]) for f in found],
                         [(admin.name, admin.id[:12])])
        # 4. A reverse shell from the new web pod to the outside.
        new.run(self, "sh", [f"--connect={EXTERNAL}:{SHELL_PORT}"])
        exp = h.wait_for_scrape(self.cw, lambda e: h.findings(
            e, check="path_violation", process="sh"), 15, "the reverse shell's path violation")
        found = h.findings(exp, check="path_violation", process="sh")
        self.assertEqual([(f.labels["direction"], f.labels["remote_zone"],
                           f.labels["remote_address"], f.labels["namespace"], f.labels["pod"],
                           f.labels["container"], f.labels["netns"]) for f in found],
                         [("outbound", "external", EXTERNAL, "shop", new.name, "nginx",
                           new.id[:12])])
        self.assertEqual(exp.value("connwatch_path_violations", process="sh", pod=new.name,
                                   direction="outbound", remote_zone="external",
                                   port=str(SHELL_PORT)), 1)
        # The rollout itself still raises nothing.
        self.assertEqual(h.findings(exp, local_port=str(WEB_PORT), check="unexpected_listener"),
                         [])
        rc, out = h.promtool_check_metrics(exp.raw)
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    netns.install_watchdog(240)
    unittest.main(verbosity=2)
