#!/usr/bin/env python3
"""Container and pod of each socket, from real cgroup v2 directories and the node's files.

The test makes Kubernetes- and Docker-shaped cgroups under the host's cgroup2 mount (read from
/proc/self/mountinfo: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts), all below
one directory of its own so that no real kubelet's tree is touched, and moves one listening
sockholder into each (writing its pid to cgroup.procs). A temporary --path.rootfs holds the
OCI bundles and kubelet's /var/log/pods directories the real node would have:

  web     containerd, systemd driver, bundle config.json with the CRI annotations
  dns     cri-o, systemd driver, bundle with cri-o's annotations
  batch   containerd, cgroupfs driver, no bundle: names from /var/log/pods and the
          /var/log/containers link
  redis   Docker, cgroupfs driver, no metadata file at all: id and runtime only
  evil    cri-o, annotations with a newline, quotes and braces; a valid exposition anyway
  huge    containerd, a 100 MB config.json: refused unread, counted, id and runtime kept
  host    a plain listener: empty namespace/pod/container, no container_info

Checks over HTTP: connwatch_listener_info and connwatch_finding_info carry namespace, pod and
container; connwatch_container_info names id and runtime for every container (also without
metadata files); promtool accepts the exposition. Teardown moves every process out again
before it removes the cgroups, also when connwatch fails to start.
"""

import os
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cgroups  # noqa: E402
import connwatch_harness as h  # noqa: E402

INTERVAL = "500ms"
APPEAR = 10.0
POLICY = "listeners:\n  - {process: connwatch}\n"


class Workload:
    def __init__(self, key, runtime, cgroup, ns="", pod="", container=""):
        self.key, self.runtime, self.cgroup = key, runtime, cgroup
        self.ns, self.pod, self.container = ns, pod, container


class WorkloadsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mount = cgroups.mount()
        if cls.mount is None:
            raise unittest.SkipTest("no cgroup2 mounted")
        h.enter_private_netns()
        cls.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-workloads-")
        cls.rootfs = os.path.join(cls.tmp.name, "rootfs")
        cls.top = os.path.join(cls.mount, f"cw-e2e-workloads-{os.getpid()}")
        cls.home = os.path.join(cls.mount, cgroups.own().lstrip("/"))
        cls.made, cls.holders, cls.cw = [], [], None
        try:
            cls.workloads = cls.plan()
            for w in cls.workloads.values():
                cls.start_in_cgroup(w)
            cls.host = h.Holder(h.named_holder(cls.tmp.name, "host-daemon"),
                                ["--tcp-listen", "127.0.0.1:0"])
            cls.holders.append(cls.host)
            cls.policy = h.write_file(cls.tmp.name, "policy.yaml", POLICY)
            cls.cw = h.Connwatch(f"--config.file={cls.policy}", f"--path.rootfs={cls.rootfs}",
                                 interval=INTERVAL).start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.cw is not None:
            cls.cw.stop()
        for holder in cls.holders:
            cgroups.move(holder.pid, cls.home, missing_ok=True)  # out first, then removable
            holder.stop()
        cgroups.remove(cls.made)
        cls.tmp.cleanup()

    @classmethod
    def plan(cls):
        uid = {k: str(uuid.uuid5(uuid.NAMESPACE_URL, k)) for k in
               ("web", "dns", "batch", "evil", "huge")}
        sd = {k: v.replace("-", "_") for k, v in uid.items()}
        ids = {k: cgroups.hex_id(k) for k in ("web", "dns", "batch", "redis", "evil", "huge")}
        slice_ = "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice"
        w = {
            "web": Workload("web", "containerd",
                            f"{slice_.format(sd['web'])}/cri-containerd-{ids['web']}.scope",
                            "shop", "web-7d9f8b6c5d-x2k4q", "nginx"),
            "dns": Workload("dns", "cri-o", f"{slice_.format(sd['dns'])}/crio-{ids['dns']}.scope",
                            "kube-system", "coredns-5d78c9869d-abcde", "coredns"),
            "batch": Workload("batch", "containerd",
                              f"kubepods/besteffort/pod{uid['batch']}/{ids['batch']}",
                              "jobs", "report-28391-x7b2d", "report"),
            "redis": Workload("redis", "docker", f"docker/{ids['redis']}"),
            "evil": Workload("evil", "cri-o",
                             f"{slice_.format(sd['evil'])}/crio-{ids['evil']}.scope",
                             'ev\nil"ns', 'pod"} x="1', "c\\"),
            "huge": Workload("huge", "containerd",
                             f"{slice_.format(sd['huge'])}/cri-containerd-{ids['huge']}.scope"),
        }
        for key, workload in w.items():
            workload.id, workload.uid = ids[key], uid.get(key, "")
        containerd = os.path.join(cls.rootfs, "run/containerd/io.containerd.runtime.v2.task/k8s.io")
        crio = os.path.join(cls.rootfs, "run/containers/storage/overlay-containers")
        cgroups.bundle(os.path.join(containerd, ids["web"]), {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.sandbox-name": w["web"].pod,
            "io.kubernetes.cri.sandbox-namespace": w["web"].ns,
            "io.kubernetes.cri.sandbox-uid": uid["web"],
            "io.kubernetes.cri.container-name": w["web"].container})
        for key in ("dns", "evil"):
            cgroups.bundle(os.path.join(crio, ids[key], "userdata"), {
                "io.kubernetes.pod.name": w[key].pod,
                "io.kubernetes.pod.namespace": w[key].ns,
                "io.kubernetes.pod.uid": uid[key],
                "io.kubernetes.container.name": w[key].container})
        huge = os.path.join(containerd, ids["huge"])
        os.makedirs(huge)
        with open(os.path.join(huge, "config.json"), "wb") as f:
            f.write(b'{"annotations":{')
            f.truncate(100 << 20)  # sparse
        b = w["batch"]
        os.makedirs(os.path.join(cls.rootfs, "var/log/pods", f"{b.ns}_{b.pod}_{b.uid}", b.container))
        logs = os.path.join(cls.rootfs, "var/log/containers")
        os.makedirs(logs)
        open(os.path.join(logs, f"{b.pod}_{b.ns}_{b.container}-{b.id}.log"), "w").close()
        return w

    @classmethod
    def start_in_cgroup(cls, workload):
        path = cgroups.make(cls.top, workload.cgroup, cls.made)
        holder = h.Holder(h.named_holder(cls.tmp.name, f"{workload.key}-server"),
                          ["--tcp-listen", "127.0.0.1:0"])
        cls.holders.append(holder)
        cgroups.move(holder.pid, path)
        with open(f"/proc/{holder.pid}/cgroup") as f:
            assert workload.cgroup in f.read(), f"pid {holder.pid} did not move"
        workload.holder = holder
        workload.port = str(holder.ready["tcp_listen"][0]["port"])

    def listener(self, exp, port):
        series = exp.select("connwatch_listener_info", port=port)
        return series[0].labels if len(series) == 1 else None

    def scrape_when_ready(self):
        def ready():
            exp = self.cw.scrape()
            for w in self.workloads.values():
                labels = self.listener(exp, w.port)
                if labels is None or labels.get("pod") != w.pod:
                    return None
            return exp
        return h.wait_until(ready, APPEAR, "every listener with its pod")

    def test_listeners_carry_namespace_pod_container(self):
        exp = self.scrape_when_ready()
        for w in self.workloads.values():
            labels = self.listener(exp, w.port)
            self.assertEqual((labels["namespace"], labels["pod"], labels["container"]),
                             (w.ns, w.pod, w.container), w.key)
            self.assertEqual(labels["process"], f"{w.key}-server")
        host = self.listener(exp, str(self.host.ready["tcp_listen"][0]["port"]))
        self.assertEqual((host["namespace"], host["pod"], host["container"]), ("", "", ""))

    def test_container_info_names_id_and_runtime(self):
        exp = self.scrape_when_ready()
        info = {s.labels["container_id"]: s.labels for s in exp.select("connwatch_container_info")}
        self.assertEqual(set(info), {w.id for w in self.workloads.values()})
        for w in self.workloads.values():
            labels = info[w.id]
            self.assertEqual(labels["runtime"], w.runtime, w.key)
            self.assertEqual((labels["namespace"], labels["pod"], labels["container"]),
                             (w.ns, w.pod, w.container), w.key)
            self.assertEqual(labels["netns"], "")
            self.assertNotIn(w.uid or "no-uid", "".join(labels.values()))

    def test_findings_carry_the_pod_and_never_the_uid(self):
        exp = self.scrape_when_ready()
        for w in self.workloads.values():
            found = h.findings(exp, check="unexpected_listener", local_port=w.port)
            self.assertEqual(len(found), 1, w.key)
            labels = found[0].labels
            self.assertEqual((labels["namespace"], labels["pod"], labels["container"]),
                             (w.ns, w.pod, w.container), w.key)
        for series in exp.select("connwatch_listener_info") + exp.select("connwatch_finding_info"):
            self.assertNotIn("pod_uid", series.labels)
            self.assertNotIn("container_id", series.labels)

    def test_refused_bundle_is_counted_and_exposition_stays_valid(self):
        exp = self.scrape_when_ready()
        self.assertGreaterEqual(
            exp.value("connwatch_parse_errors_total", source="oci_config"), 1)
        self.assertIn(b'pod="pod\\"} x=\\"1"', exp.raw)
        self.assertIn(b'namespace="ev\\nil\\"ns"', exp.raw)
        rc, out = h.promtool_check_metrics(exp.raw)
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    h.install_watchdog(240)
    unittest.main()
