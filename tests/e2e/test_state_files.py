#!/usr/bin/env python3
"""The files under --storage.path are distrusted (issue 17, item 4), with the real binary.

1. A FIFO named connections.state does not hang start-up: connwatch answers /metrics within
   a few seconds, and the refusal is counted as one load error of the connection state.
2. A world-writable baseline.yaml that allows everything (`process: "*"`, every port) is
   refused with the reason in the log: connwatch learns again instead of allowing all.
3. SIGTERM during start-up ends connwatch promptly: with a FIFO named baseline.yaml (which a
   blocking open would wait on with the stop signals already blocked), and while start-up
   waits on a FIFO given as --config.file (a slow load: a thread takes the stop signals until
   connwatch listens).
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

ALLOW_ALL = """# connwatch learned baseline, format 1
listeners:
  - process: "*"
expected_services: []
network_processes:
  - process: "*"
paths:
  - process: "*"
"""


class StateFilesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-state-files-")
        self.storage = os.path.join(self.tmp.name, "storage")
        os.mkdir(self.storage, 0o700)
        self.policy = h.write_file(self.tmp.name, "policy.yaml", "baseline:\n  learn_for: 1h\n")

    def tearDown(self):
        self.tmp.cleanup()

    def test_fifo_state_does_not_hang_start_up(self):
        os.mkfifo(os.path.join(self.storage, "connections.state"), 0o600)
        cw = h.Connwatch(f"--storage.path={self.storage}", interval="500ms")
        try:
            cw.start(timeout=5)  # a blocking open of the FIFO never gets here
            exp = cw.scrape()
            self.assertEqual(exp.value("connwatch_state_errors_total", op="load",
                                       file="connections"), 1, cw.log())
            self.assertIn("not a regular file", cw.log())
        finally:
            cw.stop()

    def test_world_writable_allow_all_baseline_is_refused(self):
        path = h.write_file(self.storage, "baseline.yaml", ALLOW_ALL)
        os.chmod(path, 0o666)
        with h.Connwatch(f"--storage.path={self.storage}", f"--config.file={self.policy}",
                         interval="500ms") as cw:
            exp = cw.scrape()
            log = cw.log()
            self.assertIn("refusing the baseline", log)
            self.assertIn("world-writable", log)
            self.assertEqual(exp.value("connwatch_baseline_learning"), 1, log)
            for section in ("listeners", "network_processes", "paths"):
                self.assertEqual(exp.value("connwatch_baseline_rules", section=section), 0)
            self.assertEqual(exp.value("connwatch_state_errors_total", op="load",
                                       file="baseline"), 1, log)
        # Made ours and not writable by others, the globs are still what the learner never
        # writes: refused for that.
        os.chmod(path, 0o600)
        with h.Connwatch(f"--storage.path={self.storage}", f"--config.file={self.policy}",
                         interval="500ms") as cw:
            exp = cw.scrape()
            self.assertIn('process \\"*\\" is a glob', cw.log())
            self.assertEqual(exp.value("connwatch_baseline_learning"), 1, cw.log())

    def test_sigterm_during_start_up_exits_promptly(self):
        os.mkfifo(os.path.join(self.storage, "baseline.yaml"), 0o600)
        self.sigterm_during_start_up(self.policy)

    def test_sigterm_during_a_slow_policy_load_exits_promptly(self):
        policy = os.path.join(self.tmp.name, "policy-fifo.yaml")
        os.mkfifo(policy, 0o600)
        self.sigterm_during_start_up(policy)

    def sigterm_during_start_up(self, policy):
        log = open(os.path.join(self.tmp.name, "log"), "wb")
        proc = subprocess.Popen(
            [h.connwatch_bin(), "serve", "--web.listen-address=127.0.0.1:0",
             f"--storage.path={self.storage}", f"--config.file={policy}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            time.sleep(0.5)  # into start-up: the baseline is loaded before it listens
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        self.assertIn(proc.returncode, (0, -signal.SIGTERM))


if __name__ == "__main__":
    h.install_watchdog(120)
    unittest.main()
