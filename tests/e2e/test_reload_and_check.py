#!/usr/bin/env python3
"""Policy reloads (SIGHUP, POST /-/reload), strict loading, and the one-shot subcommands.

Runs in a private network namespace: the only listeners are this test's and connwatch's, so
`connwatch check` can be clean, and fixed ports are safe. The policies and the malformed files
(whose error positions are asserted) are in tests/fixtures/e2e_policies/.
"""

import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

FIXTURES = os.path.join(h.REPO_ROOT, "tests", "fixtures", "e2e_policies")
INTERVAL = "500ms"
APPEAR = 5.0
FINDING_JSON_KEYS = {"check", "process", "pid", "user", "exe", "protocol", "local_address",
                     "local_port", "remote_address", "remote_port", "direction", "remote_zone",
                     "service", "reason", "age_seconds", "age_source", "ppid", "parent",
                     "process_start", "cmdline", "netns", "namespace", "pod", "container"}


def fixture(name):
    return os.path.join(FIXTURES, name)


def setUpModule():
    h.enter_private_netns()
    global TMP
    TMP = tempfile.TemporaryDirectory(prefix="cw-e2e-reload-")


def tearDownModule():
    h.kill_all_children()
    TMP.cleanup()


def holder(name, *addresses):
    exe = os.path.join(TMP.name, name)
    if not os.path.exists(exe):
        h.install_executable(TMP.name, name)
    args = []
    for a in addresses:
        args += ["--tcp-listen", a]
    return h.Holder(exe, args)


def storage_dir():
    return tempfile.mkdtemp(prefix="storage-", dir=TMP.name)


def error_lines(text, path):
    """(line, column, key, message) of each FILE:LINE:COL: KEY: MESSAGE line for path."""
    pattern = re.compile(rf"^{re.escape(path)}:(\d+):(\d+): ([^:\s][^:]*?): (.+)$", re.M)
    return [(int(m.group(1)), int(m.group(2)), m.group(3), m.group(4))
            for m in pattern.finditer(text)]


class ValidateTest(unittest.TestCase):
    def validate(self, path):
        out = h.run_connwatch("validate", path, timeout=30)
        return out.returncode, out.stdout.decode("utf-8"), out.stderr.decode("utf-8")

    def test_good_policies_exit_0_with_a_summary(self):
        for name in ("allow_svc_16001.yaml", "allow_svc_16001_16002.yaml"):
            with self.subTest(name=name):
                rc, out, err = self.validate(fixture(name))
                self.assertEqual(rc, 0, err)
                self.assertTrue(out.strip(), "no summary")
                self.assertEqual(error_lines(out + err, fixture(name)), [])

    def test_unknown_key_names_file_line_column_and_key(self):
        path = fixture("bad_unknown_key.yaml")
        rc, out, err = self.validate(path)
        self.assertEqual(rc, 2, (out, err))
        errors = error_lines(err, path)
        self.assertEqual([e[:3] for e in errors], [(3, 5, "listeners[0].prot")], err)

    def test_bad_port(self):
        path = fixture("bad_port.yaml")
        rc, out, err = self.validate(path)
        self.assertEqual(rc, 2, (out, err))
        errors = error_lines(err, path)
        self.assertEqual(len(errors), 1, err)
        line, column, key, message = errors[0]
        self.assertEqual((line, key), (4, "listeners[0].port"), err)
        self.assertIn(column, (5, 11), "column of the key or of the value")
        self.assertIn("70000", message)

    def test_all_errors_at_once(self):
        path = fixture("bad_two_errors.yaml")
        rc, out, err = self.validate(path)
        self.assertEqual(rc, 2, (out, err))
        errors = sorted(error_lines(err, path))
        self.assertEqual(len(errors), 2, err)
        self.assertEqual(errors[0][0], 3, err)
        self.assertTrue(errors[0][2].startswith("zones[0].cidrs"), errors[0])
        self.assertEqual(errors[1][:3], (4, 1, "listners"), err)

    def test_syntax_error(self):
        path = fixture("bad_syntax.yaml")
        rc, out, err = self.validate(path)
        self.assertEqual(rc, 2, (out, err))
        self.assertRegex(err, rf"(?m)^{re.escape(path)}:\d+:\d+: ")

    def test_missing_file_and_usage(self):
        missing = os.path.join(TMP.name, "no-such-policy.yaml")
        rc, out, err = self.validate(missing)
        self.assertEqual(rc, 2, (out, err))
        self.assertIn(missing, err)
        out = h.run_connwatch("validate", timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertTrue(out.stderr.strip())

    def test_default_policy_is_valid(self):
        out = h.run_connwatch("policy", "--default", timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        text = out.stdout.decode("utf-8")
        self.assertRegex(text, r"(?m)^baseline:\s*$")
        self.assertRegex(text, r"(?m)^\s+learn_for:\s*5m\s*$")
        path = h.write_file(TMP.name, "default.yaml", text)
        rc, out, err = self.validate(path)
        self.assertEqual(rc, 0, err)

    def test_serve_refuses_a_bad_policy(self):
        for name in ("bad_syntax.yaml", "bad_unknown_key.yaml"):
            with self.subTest(name=name):
                path = fixture(name)
                out = h.run_connwatch("serve", f"--config.file={path}",
                                      "--web.listen-address=127.0.0.1:0",
                                      f"--storage.path={storage_dir()}", timeout=30)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertRegex(out.stderr.decode("utf-8"), rf"{re.escape(path)}:\d+:\d+: ")


class CheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = holder("cw-svc", "127.0.0.1:16001")

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()

    def check(self, *args, policy=fixture("allow_svc_16001.yaml")):
        flags = [f"--storage.path={storage_dir()}"]
        if policy:
            flags.append(f"--config.file={policy}")
        out = h.run_connwatch("check", *flags, *args, timeout=60)
        return out.returncode, out.stdout.decode("utf-8"), out.stderr.decode("utf-8")

    def check_json(self, expect_rc):
        rc, out, err = self.check("--format=json")
        self.assertEqual(rc, expect_rc, (out, err))
        data = json.loads(out)
        # The findings of this snapshot, and those a running exporter holds (none here: no
        # exporter writes this storage path).
        self.assertEqual(set(data), {"findings", "held", "held_from"}, data)
        self.assertIsInstance(data["findings"], list)
        self.assertEqual((data["held"], data["held_from"]), ([], None), data)
        return data["findings"]

    def test_clean_exits_0(self):
        self.assertEqual(self.check_json(0), [])
        rc, out, err = self.check()
        self.assertEqual(rc, 0, (out, err))

    def test_findings_exit_1_with_details(self):
        rogue = holder("cw-rogue", "127.0.0.1:0")
        try:
            port = rogue.ready["tcp_listen"][0]["port"]
            findings = self.check_json(1)
            mine = [f for f in findings if f.get("process") == "cw-rogue"]
            self.assertEqual(len(mine), 1, findings)
            f = mine[0]
            self.assertEqual(set(f), FINDING_JSON_KEYS, f)
            self.assertEqual(f["check"], "unexpected_listener")
            self.assertEqual(int(f["pid"]), rogue.pid)
            self.assertEqual(f["user"], h.current_user())
            self.assertEqual(f["exe"], os.fsdecode(rogue.exe))
            self.assertEqual(f["protocol"], "tcp")
            self.assertEqual(f["local_address"], "127.0.0.1")
            self.assertEqual(int(f["local_port"]), port)
            self.assertTrue(f["reason"], f)
            self.assertEqual(len(findings), 1, f"only cw-rogue is unexpected: {findings}")

            rc, out, err = self.check("--format=text")
            self.assertEqual(rc, 1, (out, err))
            for needle in ("cw-rogue", str(rogue.pid), str(port), h.current_user()):
                self.assertIn(needle, out)
        finally:
            rogue.stop()
        self.assertEqual(self.check_json(0), [])

    def test_bad_policy_exits_2(self):
        path = fixture("bad_unknown_key.yaml")
        rc, out, err = self.check(policy=path)
        self.assertEqual(rc, 2, (out, err))
        self.assertIn(f"{path}:3:5: listeners[0].prot: ", err)
        rc, out, err = self.check("--format=bogus")
        self.assertEqual(rc, 2, (out, err))


FIXED_RELOAD_FAILURE = b"failed to reload config; the running policy is kept (see connwatch's log)\n"


class ReloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = holder("cw-svc", "127.0.0.1:16001", "127.0.0.1:16002")
        cls.dir = tempfile.mkdtemp(prefix="reload-", dir=TMP.name)
        cls.policy = os.path.join(cls.dir, "policy.yaml")
        shutil.copyfile(fixture("allow_svc_16001.yaml"), cls.policy)
        cls.cw = h.Connwatch(f"--config.file={cls.policy}", f"--storage.path={storage_dir()}",
                             "--web.enable-lifecycle", interval=INTERVAL).start()

    @classmethod
    def tearDownClass(cls):
        cls.cw.stop()
        cls.svc.stop()

    def install(self, name):
        shutil.copyfile(fixture(name), self.policy + ".tmp")
        os.rename(self.policy + ".tmp", self.policy)

    def verdict(self, exp, port):
        found = exp.select("connwatch_listener_info", process="cw-svc", port=str(port))
        self.assertEqual(len(found), 1, found)
        return found[0].labels.get("expected")

    def reload_status(self, exp):
        return (exp.value("connwatch_config_last_reload_successful"),
                exp.value("connwatch_config_last_reload_success_timestamp_seconds"))

    def post_reload(self):
        return self.cw.get("/-/reload", method="POST", body=b"")

    def wait_verdict(self, port, expected, what):
        return h.wait_for_scrape(self.cw, lambda e: self.verdict(e, port) == expected, APPEAR,
                                 what)

    def assert_old_policy_still_enforced(self, since):
        """Samples taken after `since` (wall clock) still judge by allow_svc_16001."""
        exp = h.wait_for_scrape(
            self.cw, lambda e: e.value("connwatch_last_sample_timestamp_seconds") > since + 1,
            APPEAR, "two more samples")
        self.assertEqual(self.verdict(exp, 16001), "true")
        self.assertEqual(self.verdict(exp, 16002), "false")
        self.assertEqual(len(h.findings(exp, check="unexpected_listener", process="cw-svc",
                                        local_port="16002")), 1)
        self.assertIsNone(self.cw.proc.poll(), "connwatch exited")
        return exp

    def test_reloads(self):
        exp = h.wait_for_scrape(self.cw, lambda e: e.select("connwatch_listener_info",
                                                            process="cw-svc"),
                                APPEAR, "cw-svc's listeners")
        self.assertEqual((self.verdict(exp, 16001), self.verdict(exp, 16002)), ("true", "false"))
        ok, ts0 = self.reload_status(exp)
        self.assertEqual(ok, 1)
        self.assertLess(abs(time.time() - ts0), 60, "startup load timestamp is not recent")

        # A good policy by SIGHUP: 16002 becomes expected.
        time.sleep(1.1)  # the timestamp may have whole-second resolution
        self.install("allow_svc_16001_16002.yaml")
        self.cw.proc.send_signal(signal.SIGHUP)
        exp = self.wait_verdict(16002, "true", "16002 expected after SIGHUP")
        exp = h.wait_for_scrape(self.cw, lambda e: self.reload_status(e)[1] > ts0, APPEAR,
                                "reload timestamp to advance after SIGHUP")
        ok, ts1 = self.reload_status(exp)
        self.assertEqual(ok, 1)
        self.assertLessEqual(ts1, time.time() + 1)
        self.assertEqual(exp.value("connwatch_unexpected_listeners"), 0)

        # The first policy again, by POST /-/reload.
        time.sleep(1.1)
        self.install("allow_svc_16001.yaml")
        resp = self.post_reload()
        self.assertEqual(resp.status, 200, resp.body)
        exp = self.wait_verdict(16002, "false", "16002 unexpected after POST /-/reload")
        exp = h.wait_for_scrape(self.cw, lambda e: self.reload_status(e)[1] > ts1, APPEAR,
                                "reload timestamp to advance after POST")
        ok, ts2 = self.reload_status(exp)
        self.assertEqual(ok, 1)

        # A syntax error by POST: 500 with a fixed answer (issue 17: it used to send the
        # policy's path and values); the log names the file and position; the old policy stays.
        self.install("bad_syntax.yaml")
        before = time.time()
        resp = self.post_reload()
        self.assertEqual(resp.status, 500, resp.body)
        self.assertEqual(resp.body, FIXED_RELOAD_FAILURE)
        h.wait_until(lambda: re.search(rf"{re.escape(self.policy)}:\d+:\d+: ", self.cw.log()),
                     APPEAR, "the error position in connwatch's log")
        exp = h.wait_for_scrape(self.cw, lambda e: self.reload_status(e)[0] == 0, APPEAR,
                                "last_reload_successful 0")
        self.assertEqual(self.reload_status(exp)[1], ts2, "timestamp moved on a failed reload")
        self.assert_old_policy_still_enforced(before)

        # Recover, then an unknown key by SIGHUP.
        self.install("allow_svc_16001.yaml")
        self.assertEqual(self.post_reload().status, 200)
        h.wait_for_scrape(self.cw, lambda e: self.reload_status(e)[0] == 1, APPEAR,
                          "last_reload_successful 1 again")
        self.install("bad_unknown_key.yaml")
        before = time.time()
        self.cw.proc.send_signal(signal.SIGHUP)
        h.wait_for_scrape(self.cw, lambda e: self.reload_status(e)[0] == 0, APPEAR,
                          "last_reload_successful 0 after a bad SIGHUP")
        h.wait_until(lambda: f"{self.policy}:3:5" in self.cw.log(), APPEAR,
                     "the error position in connwatch's log")
        self.assert_old_policy_still_enforced(before)

        # The same by POST: the fixed answer; nothing of the policy in it.
        resp = self.post_reload()
        self.assertEqual(resp.status, 500, resp.body)
        self.assertEqual(resp.body, FIXED_RELOAD_FAILURE)
        self.assertNotIn(b"prot", resp.body)
        self.assert_old_policy_still_enforced(time.time())

        # And a good one brings it back to 1 with a newer timestamp.
        self.install("allow_svc_16001_16002.yaml")
        resp = self.post_reload()
        self.assertEqual(resp.status, 200, resp.body)
        exp = self.wait_verdict(16002, "true", "16002 expected after recovering")
        exp = h.wait_for_scrape(self.cw, lambda e: self.reload_status(e)[0] == 1, APPEAR,
                                "last_reload_successful 1")
        self.assertGreater(self.reload_status(exp)[1], ts2)
        rc, out = h.promtool_check_metrics(self.cw.scrape_raw().body)
        self.assertEqual(rc, 0, f"promtool check metrics: {out}")

    def test_reload_needs_post(self):
        self.assertEqual(self.cw.get("/-/reload").status, 405)


class LifecycleOffTest(unittest.TestCase):
    """Without --web.enable-lifecycle (Prometheus's default) POST /-/reload changes nothing:
    before issue 17 anyone who could reach the port could make connwatch reload at will."""

    @classmethod
    def setUpClass(cls):
        cls.svc = holder("cw-svc-off", "127.0.0.1:16003")
        cls.dir = tempfile.mkdtemp(prefix="lifecycle-", dir=TMP.name)
        cls.policy = os.path.join(cls.dir, "policy.yaml")
        shutil.copyfile(fixture("allow_svc_16001.yaml"), cls.policy)
        cls.cw = h.Connwatch(f"--config.file={cls.policy}", f"--storage.path={storage_dir()}",
                             interval=INTERVAL).start()

    @classmethod
    def tearDownClass(cls):
        cls.cw.stop()
        cls.svc.stop()

    def test_reload_is_forbidden_and_does_nothing(self):
        exp = h.wait_for_scrape(self.cw, lambda e: e.value(
            "connwatch_config_last_reload_success_timestamp_seconds") > 0, APPEAR, "a sample")
        ts0 = exp.value("connwatch_config_last_reload_success_timestamp_seconds")
        time.sleep(1.1)
        for method in ("POST", "PUT"):
            resp = self.cw.get("/-/reload", method=method, body=b"")
            self.assertEqual(resp.status, 403, resp.body)
            self.assertIn(b"--web.enable-lifecycle", resp.body)
        exp = h.wait_for_scrape(
            self.cw, lambda e: e.value("connwatch_last_sample_timestamp_seconds") > ts0 + 2,
            APPEAR, "samples after the refused reloads")
        self.assertEqual(exp.value("connwatch_config_last_reload_success_timestamp_seconds"), ts0)
        self.assertNotIn("policy reloaded", self.cw.log())


# Every flag each subcommand declares, as `connwatch SUB --help` must list it (NAME=default;
# the print flags --version and --help bare).
SUBCOMMAND_FLAGS = {
    "serve": ["--web.listen-address=:10107", "--web.telemetry-path=/metrics",
              '--web.config.file=""', "--web.enable-lifecycle=false", "--collect.interval=10s", "--collect.full-scan-every=30",
              "--metrics.max-series=2000", "--collector.source=auto", "--path.procfs=/proc", "--path.rootfs=/", "--collector.netns=all", "--path.sysfs=/sys",
              "--log.level=info", '--config.file=""', "--storage.path=/var/lib/connwatch",
              "--baseline.reset=false", "--collect.events=auto", "--metrics.series-ttl=1h",
              "--findings.max-series=200", "--version", "--help"],
    "connections": ["--listening=false", "--format=table", "--path.procfs=/proc", "--path.rootfs=/", "--collector.netns=all", '--netns=""', "--path.sysfs=/sys",
                    "--collector.source=auto", "--storage.path=/var/lib/connwatch",
                    "--log.level=warn", "--help"],
    "check": ['--config.file=""', "--storage.path=/var/lib/connwatch", "--format=text",
              "--syslog=false", "--path.procfs=/proc", "--path.rootfs=/", "--collector.netns=all", '--netns=""', "--path.sysfs=/sys", "--collector.source=auto", "--help"],
    "validate": ["--help"],
    "policy": ["--default=false", "--help"],
    "baseline": ["--storage.path=/var/lib/connwatch", "--help"],
}

# One bad value (or argument) per subcommand and the message naming it.
SUBCOMMAND_BAD_VALUES = {
    "serve": (["--collect.interval=50ms"],
              '--collect.interval: must be a duration of at least 100ms (e.g. 10s); got "50ms"'),
    "connections": (["--format=xml"], '--format: must be one of table, json; got "xml"'),
    "check": (["--format=xml"], '--format: must be one of text, json; got "xml"'),
    "validate": (["a.yaml", "b.yaml"], 'unexpected argument "b.yaml"'),
    "policy": (["--default=maybe"], '--default: must be true or false; got "maybe"'),
    "baseline": (["--storage.path"], "--storage.path: needs a value"),
}


class SubcommandUsageTest(unittest.TestCase):
    """One flag parser for every subcommand: --help, unknown flags and bad values."""

    def run_cw(self, *args):
        out = h.run_connwatch(*args, timeout=30)
        return out.returncode, out.stdout.decode("utf-8"), out.stderr.decode("utf-8")

    def test_every_subcommand_answers_help(self):
        self.assertEqual(set(SUBCOMMAND_FLAGS), set(SUBCOMMAND_BAD_VALUES))
        for sub, flags in SUBCOMMAND_FLAGS.items():
            with self.subTest(sub=sub):
                rc, out, err = self.run_cw(sub, "--help")
                self.assertEqual((rc, err), (0, ""), out)
                self.assertRegex(out, r"^usage: connwatch ")
                listed = re.findall(r"(?m)^  (--\S+)$", out)
                self.assertEqual(listed, flags, out)
                for flag in flags:  # each flag has a help line under it
                    self.assertRegex(out, rf"(?m)^  {re.escape(flag)}\n      \S")

    def test_help_without_subcommand_is_serves(self):
        rc, out, err = self.run_cw("--help")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, self.run_cw("serve", "--help")[1])
        self.assertRegex(out, r"^usage: connwatch \[serve\] \[flags\]\n")

    def test_unknown_flag_exits_2_naming_it(self):
        for args, sub in ((("--no-such-flag",), "serve"),
                          *(((sub, "--no-such-flag"), sub) for sub in SUBCOMMAND_FLAGS)):
            with self.subTest(args=args):
                rc, out, err = self.run_cw(*args)
                self.assertEqual(rc, 2, (out, err))
                self.assertEqual(out, "")
                self.assertEqual(err, f"connwatch {sub}: unknown flag --no-such-flag\n"
                                      f"(see connwatch {sub} --help)\n")

    def test_bad_value_exits_2_naming_the_flag(self):
        for sub, (args, message) in SUBCOMMAND_BAD_VALUES.items():
            with self.subTest(sub=sub):
                rc, out, err = self.run_cw(sub, *args)
                self.assertEqual(rc, 2, (out, err))
                self.assertEqual(out, "")
                self.assertEqual(err, f"connwatch {sub}: {message}\n(see connwatch {sub} --help)\n")

    def test_unknown_subcommand_exits_2(self):
        rc, out, err = self.run_cw("frobnicate")
        self.assertEqual(rc, 2, (out, err))
        self.assertEqual(out, "")
        self.assertIn('unknown subcommand "frobnicate"', err)


if __name__ == "__main__":
    h.install_watchdog(120)
    unittest.main()
