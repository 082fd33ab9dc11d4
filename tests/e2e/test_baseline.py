#!/usr/bin/env python3
"""The learned baseline: learn for 3 s, freeze, persist, enforce; reload on restart; reset.

Runs in a private network namespace, so a listener on 0.0.0.0 reaches nobody, and the only
sockets are this test's and connwatch's. connwatch serves on a fixed port there (the learned
baseline records listener ports, so its own must not change between restarts).

Steps (in order; each depends on the previous):
 1. Before starting: `connwatch baseline` on the empty storage says so and exits 1.
 2. cw-learned (0.0.0.0:17070) and cw-learned-lo (127.0.0.1:17071) listen; connwatch starts
    with a policy holding only `baseline: {learn_for: 3s}`: learning 1, no findings; after
    ~3 s learning 0; both listeners expected="true" without findings; the non-loopback one
    is an expected service (up 1), the loopback one is not; baseline.yaml exists.
 3. cw-late opens 127.0.0.1:17072 after the freeze: an unexpected_listener finding.
 4. `connwatch baseline --storage.path` prints the baseline; `connwatch validate` accepts it.
 5. Restart: learning 0 at once, same verdicts, still after learn_for has passed, and
    baseline.yaml unchanged (not relearned).
 6. cw-learned stops: connwatch_expected_service_up 0 and an expected_service_down finding.
 7. Restart with --baseline.reset: learning 1 again; after the window cw-late is learned.
"""

import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

INTERVAL = "500ms"
LEARN_FOR = 3.0
APPEAR = 5.0
WEB = "127.0.0.1:19107"
LEARNED, LEARNED_LO, LATE = 17070, 17071, 17072


class BaselineTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.enter_private_netns()
        cls.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-baseline-")
        cls.storage = os.path.join(cls.tmp.name, "storage")
        os.mkdir(cls.storage)
        cls.baseline_file = os.path.join(cls.storage, "baseline.yaml")
        cls.policy = h.write_file(cls.tmp.name, "policy.yaml", "baseline:\n  learn_for: 3s\n")
        cls.cw = None
        cls.holders = {}

    @classmethod
    def tearDownClass(cls):
        if cls.cw is not None:
            cls.cw.stop()
        for holder in cls.holders.values():
            holder.stop()
        cls.tmp.cleanup()

    @classmethod
    def holder(cls, name, address):
        exe = os.path.join(cls.tmp.name, name)
        if not os.path.exists(exe):
            h.install_executable(cls.tmp.name, name)
        holder = h.Holder(exe, ["--tcp-listen", address,
                                f"--netns-inode={os.stat('/proc/self/ns/net').st_ino}"])
        cls.holders[name] = holder
        return holder

    @classmethod
    def start(cls, *extra):
        if cls.cw is not None:
            cls.cw.stop()
        cls.cw = None
        launched = time.monotonic()  # learning cannot start before this
        cls.cw = h.Connwatch(f"--config.file={cls.policy}", f"--storage.path={cls.storage}",
                             *extra, listen=WEB, interval=INTERVAL).start()
        return launched

    # --- helpers ---------------------------------------------------------------------------

    def verdict(self, exp, process, port):
        found = exp.select("connwatch_listener_info", process=process, port=str(port))
        self.assertEqual(len(found), 1, f"listener_info {process}:{port}: {found}")
        return found[0].labels.get("expected")

    def service_up(self, exp, port):
        found = exp.select("connwatch_expected_service_up", port=str(port))
        self.assertLessEqual(len(found), 1, found)
        return found[0].value if found else None

    def unexpected(self, exp, process):
        return h.findings(exp, check="unexpected_listener", process=process)

    def assert_learned_verdicts(self, exp):
        self.assertEqual(exp.value("connwatch_baseline_learning"), 0)
        self.assertEqual(self.verdict(exp, "cw-learned", LEARNED), "true")
        self.assertEqual(self.verdict(exp, "cw-learned-lo", LEARNED_LO), "true")
        self.assertEqual(self.unexpected(exp, "cw-learned"), [])
        self.assertEqual(self.unexpected(exp, "cw-learned-lo"), [])
        self.assertEqual(self.service_up(exp, LEARNED), 1)
        self.assertIsNone(self.service_up(exp, LEARNED_LO), "a loopback listener became an "
                          "expected service")
        self.assertEqual(exp.value("connwatch_check_active", check="unexpected_listener"), 1)
        self.assertEqual(exp.value("connwatch_check_active", check="expected_service_down"), 1)

    def read_baseline(self):
        with open(self.baseline_file, "rb") as f:
            return f.read()

    # --- steps -----------------------------------------------------------------------------

    def test_1_no_baseline_yet(self):
        out = h.run_connwatch("baseline", f"--storage.path={self.storage}", timeout=30)
        self.assertEqual(out.returncode, 1, (out.stdout, out.stderr))
        self.assertTrue(out.stderr.strip(), "no message on stderr")
        self.assertEqual(out.stdout, b"")

    def test_2_learn_then_enforce(self):
        self.holder("cw-learned", f"0.0.0.0:{LEARNED}")
        self.holder("cw-learned-lo", f"127.0.0.1:{LEARNED_LO}")
        started = self.start()
        exp = self.cw.scrape()
        self.assertEqual(exp.value("connwatch_baseline_learning"), 1)
        self.assertEqual(h.findings(exp), [], "findings while learning with an empty policy")
        self.assertFalse(os.path.exists(self.baseline_file), "baseline persisted while learning")

        exp = h.wait_for_scrape(self.cw, lambda e: e.value("connwatch_baseline_learning") == 0,
                                LEARN_FOR + APPEAR, "learning to end")
        took = time.monotonic() - started
        self.assertGreaterEqual(took, LEARN_FOR - 0.25, "learning ended before learn_for")
        self.assert_learned_verdicts(exp)
        rules = {s.labels.get("section"): s.value for s in exp.select("connwatch_baseline_rules")}
        self.assertEqual(set(rules), {"listeners", "expected_services", "network_processes",
                                      "paths"}, rules)
        # The two holders; connwatch's own listeners (its front's loopback one takes a new
        # port every start) are never judged, so never learned.
        self.assertGreaterEqual(rules["listeners"], 2)
        self.assertGreaterEqual(rules["expected_services"], 1)
        self.assertGreaterEqual(rules["network_processes"], 2)  # the holders, not connwatch
        h.wait_until(lambda: os.path.exists(self.baseline_file), APPEAR, "baseline.yaml")

    def test_3_listener_after_freeze_is_unexpected(self):
        late = self.holder("cw-late", f"127.0.0.1:{LATE}")
        exp = h.wait_for_scrape(self.cw, lambda e: self.unexpected(e, "cw-late"), APPEAR,
                                "an unexpected_listener finding for cw-late")
        f = self.unexpected(exp, "cw-late")
        self.assertEqual(len(f), 1, f)
        self.assertEqual((f[0].labels["pid"], f[0].labels["local_port"]),
                         (str(late.pid), str(LATE)))
        self.assertEqual(self.verdict(exp, "cw-late", LATE), "false")
        self.assertGreaterEqual(exp.value("connwatch_unexpected_listeners"), 1)
        self.assert_learned_verdicts(exp)

    def test_4_baseline_command_prints_a_valid_policy(self):
        out = h.run_connwatch("baseline", f"--storage.path={self.storage}", timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout.decode("utf-8")
        for needle in ("cw-learned", str(LEARNED), str(LEARNED_LO), "listeners:",
                       "expected_services:"):
            self.assertIn(needle, text)
        self.assertNotIn(str(LATE), text, "a listener opened after the freeze was learned")
        printed = h.write_file(self.tmp.name, "printed-baseline.yaml", text)
        out = h.run_connwatch("validate", printed, timeout=30)
        self.assertEqual(out.returncode, 0, (out.stdout, out.stderr))

    def test_5_restart_reloads_not_relearns(self):
        before = self.read_baseline()
        started = self.start()
        exp = self.cw.scrape()
        self.assertEqual(exp.value("connwatch_baseline_learning"), 0, "relearning after restart")
        self.assert_learned_verdicts(exp)
        exp = h.wait_for_scrape(self.cw, lambda e: self.unexpected(e, "cw-late"), APPEAR,
                                "cw-late still unexpected after restart")
        # Past the learning window too: still the old baseline, file untouched.
        time.sleep(max(0.0, LEARN_FOR + 0.5 - (time.monotonic() - started)))
        exp = self.cw.scrape()
        self.assertEqual(exp.value("connwatch_baseline_learning"), 0)
        self.assertEqual(len(self.unexpected(exp, "cw-late")), 1)
        self.assertEqual(self.verdict(exp, "cw-late", LATE), "false")
        self.assertEqual(self.read_baseline(), before, "baseline.yaml rewritten after restart")

    def test_6_learned_service_stops(self):
        self.holders.pop("cw-learned").stop()
        exp = h.wait_for_scrape(self.cw, lambda e: self.service_up(e, LEARNED) == 0, APPEAR,
                                f"expected_service_up{{port={LEARNED}}} 0")
        found = h.findings(exp, check="expected_service_down", local_port=str(LEARNED))
        self.assertEqual(len(found), 1, found)
        self.assertEqual(found[0].labels["protocol"], "tcp")

    def test_7_reset_relearns(self):
        before = self.read_baseline()
        self.start("--baseline.reset")
        exp = self.cw.scrape()
        self.assertEqual(exp.value("connwatch_baseline_learning"), 1)
        exp = h.wait_for_scrape(self.cw, lambda e: e.value("connwatch_baseline_learning") == 0,
                                LEARN_FOR + APPEAR, "relearning to end")
        self.assertEqual(self.verdict(exp, "cw-late", LATE), "true")
        self.assertEqual(self.unexpected(exp, "cw-late"), [])
        # cw-learned was not listening while relearning: no longer an expected service.
        self.assertIsNone(self.service_up(exp, LEARNED))
        after = h.wait_until(lambda: self.read_baseline() != before and self.read_baseline(),
                             APPEAR, "baseline.yaml rewritten after --baseline.reset")
        self.assertIn(str(LATE).encode(), after)


if __name__ == "__main__":
    h.install_watchdog(120)
    unittest.main()
