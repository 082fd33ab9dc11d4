#!/usr/bin/env python3
"""Identity by executable: Debian's redis by name, a copied binary, a deleted executable.

Runs in a private network namespace with one peer namespace (10.234.1.0/24): redis and the
clients live here, the peer only accepts. connwatch sees exactly the sockets the test made.

Steps (in order; each depends on the previous):
 1. Debian's redis-server (its /usr/bin/redis-server is a symlink to redis-check-rdb) on
    10.234.1.1:16379, and the allowed client (the sockholder binary, by its path) connected
    to the peer: a policy naming `redis-server` in listeners, expected_services and
    network_processes raises no finding at all.
 2. A copy of the allowed binary, same name, in a temporary directory, connecting to the same
    peer: unexpected_network_process and path_violation for its pid, with `exe` (the copy's
    path) in connwatch_finding_info and in `connwatch check --format=json`, whose reason names
    the path; the original stays clean.
 3. A copy started holding a socket, then unlinked: a deleted_executable finding with its
    path (none before the unlink), connwatch_deleted_executable_processes 1; no other process
    has one.
 4. Under a learned baseline (learned with the original binary only): `connwatch baseline`
    prints the paths; the original restarted (a new process, the same path: an upgrade) is no
    finding; the copy is flagged with its path, in the metrics and in `check`.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402

INTERVAL = "500ms"
APPEAR = 8.0
HOST, PEER = "10.234.1.1", "10.234.1.2"
REDIS_PORT, PEER_PORT = 16379, 15000
REDIS_SERVER = "/usr/bin/redis-server"


def policy_text(allowed):
    return f"""\
listeners:
  - {{process: redis-server, port: {REDIS_PORT}, protocol: tcp}}
  - {{process: connwatch}}
expected_services:
  - {{name: redis, port: {REDIS_PORT}, process: redis-server}}
network_processes:
  - redis-server
  - connwatch
  - python3            # this test's scrapes; python3.11 by its argv[0] or comm
  - {{process: sockholder, exe: {json.dumps(allowed)}}}
paths:
  - {{remote_zone: loopback}}
  - {{process: sockholder, exe: {json.dumps(allowed)}, direction: outbound,
     remote_zone: internal, port: {PEER_PORT}}}
"""


class IdentityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.enter_private_netns()
        cls.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-identity-")
        cls.procs, cls.holders, cls.cws = [], [], []
        cls.lab = netns.Lab()
        try:
            cls.peer = cls.lab.add_namespace("id")
            cls.lab.link(cls.peer, [f"{HOST}/24"], [f"{PEER}/24"])
            cls.holders.append(h.Holder(h.sockholder_bin(), [
                "--accept", f"--netns-inode={netns.netns_inode(cls.peer)}",
                "--tcp-listen", f"0.0.0.0:{PEER_PORT}"], prefix=netns.exec_prefix(cls.peer)))
            cls.allowed = os.path.realpath(h.sockholder_bin())
            cls.redis = cls.start_redis()
            cls.client = cls.connect(cls.allowed)
            cls.policy = h.write_file(cls.tmp.name, "policy.yaml", policy_text(cls.allowed))
            cls.cw = cls.start_connwatch(f"--config.file={cls.policy}")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for cw in cls.cws:
            cw.stop()
        for holder in cls.holders:
            holder.stop()
        for proc in cls.procs:
            h.kill_process(proc)
        cls.lab.close()
        cls.tmp.cleanup()

    @classmethod
    def start_redis(cls):
        data = os.path.join(cls.tmp.name, "redis")
        os.mkdir(data)
        proc = subprocess.Popen(
            [REDIS_SERVER, "--bind", HOST, "--port", str(REDIS_PORT), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--dir", data, "--logfile", "",
             "--protected-mode", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=h._set_pdeathsig)
        cls.procs.append(h._track(proc))

        def accepting():
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            try:
                with socket.create_connection((HOST, REDIS_PORT), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False
        h.wait_until(accepting, 15, "redis-server to answer PING")
        return proc

    @classmethod
    def connect(cls, exe):
        holder = h.Holder(exe, ["--connect", f"{PEER}:{PEER_PORT}",
                                f"--netns-inode={netns.current_netns_inode()}"])
        cls.holders.append(holder)
        return holder

    @classmethod
    def copy_of_allowed(cls, directory):
        path = os.path.join(cls.tmp.name, directory)
        os.makedirs(path, exist_ok=True)
        return os.fsdecode(h.install_executable(path, "sockholder", source=cls.allowed))

    @classmethod
    def start_connwatch(cls, *flags):
        cw = h.Connwatch(*flags, interval=INTERVAL).start()
        cls.cws.append(cw)
        return cw

    def check_json(self, *flags):
        out = h.run_connwatch("check", "--format=json", *flags, timeout=60)
        self.assertIn(out.returncode, (0, 1), out.stderr)
        return json.loads(out.stdout)["findings"]

    def only_pid(self, findings, pid):
        return [f for f in findings if f.labels.get("pid") == str(pid)]

    # --- steps -----------------------------------------------------------------------------

    def test_1_redis_server_by_name_no_finding(self):
        self.assertEqual(os.path.realpath(REDIS_SERVER), "/usr/bin/redis-check-rdb",
                         "this test needs Debian's redis-server symlink")
        exp = h.wait_for_scrape(
            self.cw, lambda e: e.select("connwatch_listener_info", port=str(REDIS_PORT)) and
            e.select("connwatch_process_connections", process="sockholder"), APPEAR,
            "redis's listener and the client's connection")
        # Two more samples, so a finding raised by any of them would show.
        time.sleep(1.2)
        exp = self.cw.scrape()
        self.assertEqual(h.findings(exp), [], "findings on a healthy host")
        listener = exp.select("connwatch_listener_info", port=str(REDIS_PORT))
        self.assertEqual([(s.labels["process"], s.labels["expected"]) for s in listener],
                         [("redis-check-rdb", "true")], "reported by its exe basename")
        self.assertEqual(exp.value("connwatch_expected_service_up", service="redis"), 1)
        self.assertEqual(exp.value("connwatch_unexpected_network_processes"), 0)
        self.assertEqual(exp.value("connwatch_check_active", check="deleted_executable"), 1)
        self.assertEqual(
            [f for f in self.check_json(f"--config.file={self.policy}")
             if f["pid"] in (self.redis.pid, self.client.pid)], [])

    def test_2_copy_of_allowed_binary_is_flagged_with_its_path(self):
        copy_path = self.copy_of_allowed("copy")
        copy = self.connect(copy_path)
        exp = h.wait_for_scrape(
            self.cw, lambda e: len(self.only_pid(h.findings(e), copy.pid)) >= 2, APPEAR,
            "findings for the copy")
        mine = self.only_pid(h.findings(exp), copy.pid)
        self.assertEqual(sorted(f.labels["check"] for f in mine),
                         ["path_violation", "unexpected_network_process"], mine)
        for f in mine:
            self.assertEqual(f.labels["exe"], copy_path)
            self.assertEqual(f.labels["process"], "sockholder")
        self.assertEqual(self.only_pid(h.findings(exp), self.client.pid), [],
                         "the original binary, same name, is allowed")
        self.assertEqual(h.findings(exp, check="unexpected_network_process",
                                    exe=self.allowed), [])
        found = [f for f in self.check_json(f"--config.file={self.policy}")
                 if f["pid"] == copy.pid]
        self.assertEqual(sorted(f["check"] for f in found),
                         ["path_violation", "unexpected_network_process"], found)
        for f in found:
            self.assertEqual(f["exe"], copy_path)
        reason = [f["reason"] for f in found if f["check"] == "unexpected_network_process"][0]
        self.assertIn(copy_path, reason)
        copy.stop()

    def test_3_deleted_executable(self):
        path = self.copy_of_allowed("dropper")
        dropper = h.Holder(path, ["--tcp-listen", "127.0.0.1:0"])
        self.holders.append(dropper)
        exp = h.wait_for_scrape(
            self.cw, lambda e: self.only_pid(h.findings(e), dropper.pid), APPEAR,
            "the dropper's listener finding")
        time.sleep(1.2)
        exp = self.cw.scrape()
        self.assertEqual(h.findings(exp, check="deleted_executable"), [],
                         "deleted_executable before anything was deleted")
        os.unlink(path)
        exp = h.wait_for_scrape(
            self.cw, lambda e: h.findings(e, check="deleted_executable"), APPEAR,
            "a deleted_executable finding")
        found = h.findings(exp, check="deleted_executable")
        self.assertEqual([(f.labels["pid"], f.labels["exe"], f.labels["process"]) for f in found],
                         [(str(dropper.pid), path, "sockholder")])
        self.assertEqual(exp.value("connwatch_deleted_executable_processes",
                                   process="sockholder"), 1)
        found = [f for f in self.check_json(f"--config.file={self.policy}")
                 if f["check"] == "deleted_executable"]
        self.assertEqual([(f["pid"], f["exe"]) for f in found], [(dropper.pid, path)], found)
        self.assertIn("deleted", found[0]["reason"])
        dropper.stop()
        h.wait_for_scrape(self.cw, lambda e: not h.findings(e, check="deleted_executable"),
                          APPEAR, "the deleted_executable finding to clear")

    def test_4_learned_baseline_records_paths(self):
        storage = os.path.join(self.tmp.name, "storage")
        os.mkdir(storage)
        learn = h.write_file(self.tmp.name, "learn.yaml", "baseline:\n  learn_for: 2s\n")
        cw = self.start_connwatch(f"--config.file={learn}", f"--storage.path={storage}")
        h.wait_for_scrape(cw, lambda e: e.value("connwatch_baseline_learning") == 0, APPEAR,
                          "learning to end")
        h.wait_until(lambda: os.path.exists(os.path.join(storage, "baseline.yaml")), APPEAR,
                     "baseline.yaml")
        out = h.run_connwatch("baseline", f"--storage.path={storage}", timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        printed = out.stdout.decode()
        self.assertIn(f'  - process: sockholder\n    exe: "{self.allowed}"\n', printed)
        self.assertIn('exe: "/usr/bin/redis-check-rdb"', printed)

        # An upgrade: the same path, a new process.
        self.client.stop()
        upgraded = self.connect(self.allowed)
        copy_path = self.copy_of_allowed("copy2")
        copy = self.connect(copy_path)
        exp = h.wait_for_scrape(
            cw, lambda e: h.findings(e, check="unexpected_network_process", pid=str(copy.pid)),
            APPEAR, "the copy flagged under the learned baseline")
        found = h.findings(exp, check="unexpected_network_process", pid=str(copy.pid))
        self.assertEqual([f.labels["exe"] for f in found], [copy_path])
        time.sleep(1.2)
        exp = cw.scrape()
        self.assertEqual(self.only_pid(h.findings(exp), upgraded.pid), [],
                         "the restarted original (same path) is no finding")
        self.assertEqual(self.only_pid(h.findings(exp), self.redis.pid), [])
        found = [f for f in self.check_json(f"--config.file={learn}", f"--storage.path={storage}")
                 if f["pid"] in (copy.pid, upgraded.pid)]
        self.assertEqual(sorted((f["pid"], f["check"]) for f in found),
                         [(copy.pid, "path_violation"), (copy.pid, "unexpected_network_process")],
                         found)
        self.assertIn(copy_path, [f for f in found
                                  if f["check"] == "unexpected_network_process"][0]["reason"])
        copy.stop()


if __name__ == "__main__":
    netns.install_watchdog(120)
    unittest.main()
