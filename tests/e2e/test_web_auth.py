#!/usr/bin/env python3
"""--web.config.file: basic auth on every path, security headers, a real Prometheus scraping
with basic_auth, and the same accept/reject verdict as
`promtool check web-config` on every file in tests/fixtures/web_config/{good,bad}.
"""

import base64
import http.client
import glob
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

FIXTURES = os.path.join(h.REPO_ROOT, "tests", "fixtures", "web_config")
USER, PASSWORD = "alice", "s3cret"  # good/basic_auth.yml, cost 10
HEADERS = {
    "Strict-Transport-Security": "max-age=31536000",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "deny",
}


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def connwatch_verdict(path):
    """(accepted, output): accepted when connwatch listens (over HTTPS for TLS configs)."""
    cw = h.Connwatch(f"--web.config.file={path}")
    try:
        cw.start(timeout=30)
        return True, cw.log()
    except RuntimeError:
        log = cw.log()
        if cw.proc.returncode != 2:
            raise AssertionError(f"{path}: exit {cw.proc.returncode}, want 2; log:\n{log}")
        if "invalid --web.config.file" not in log:
            raise AssertionError(f"{path}: exit 2 without a web config error:\n{log}")
        return False, log
    finally:
        cw.stop()


class PromtoolParity(unittest.TestCase):
    def test_same_verdict_as_promtool(self):
        files = sorted(glob.glob(os.path.join(FIXTURES, "good", "*.yml")) +
                       glob.glob(os.path.join(FIXTURES, "bad", "*.yml")))
        self.assertGreaterEqual(len(files), 20)
        for path in files:
            with self.subTest(file=os.path.relpath(path, FIXTURES)):
                ref = subprocess.run([h.promtool_bin(), "check", "web-config", path],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
                promtool_ok = ref.returncode == 0
                self.assertEqual(promtool_ok, "/good/" in path,
                                 f"fixture in the wrong directory: {ref.stdout.decode()}")
                ours, log = connwatch_verdict(path)
                self.assertEqual(ours, promtool_ok,
                                 f"promtool: {ref.stdout.decode()}\nconnwatch: {log}")
                if not ours:
                    # file:line:column and a key or message, e.g.
                    # "bad.yml:3:1: unknown: unknown key; expected one of: ..."
                    self.assertRegex(log, re.escape(os.path.basename(path)) + r":\d+:\d+: ")


class WebAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        with open(os.path.join(FIXTURES, "good", "basic_auth.yml")) as f:
            users = f.read()
        cls.config = os.path.join(cls.tmp.name, "web.yml")
        with open(cls.config, "w") as f:
            f.write(users + "http_server_config:\n  headers:\n" +
                    "".join(f"    {k}: {v}\n" for k, v in HEADERS.items()))
        # Lifecycle on: /-/reload exists, and is behind basic auth like every path.
        cls.cw = h.Connwatch(f"--web.config.file={cls.config}", "--web.enable-lifecycle").start()

    @classmethod
    def tearDownClass(cls):
        cls.cw.stop()
        cls.tmp.cleanup()

    def assert_unauthorized(self, resp):
        self.assertEqual(resp.status, 401)
        self.assertEqual(resp.header("WWW-Authenticate"), 'Basic realm="connwatch"')
        self.assertNotIn(b"connwatch_", resp.body)

    def test_every_path_needs_auth(self):
        for path, method in [("/metrics", "GET"), ("/", "GET"), ("/-/reload", "POST"),
                             ("/nope", "GET"), ("/metrics", "HEAD")]:
            with self.subTest(path=path, method=method):
                self.assert_unauthorized(self.cw.get(path, method=method))

    def test_wrong_credentials(self):
        for headers in [basic(USER, "wrong"), basic("mallory", PASSWORD), basic(USER, ""),
                        {"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"}]:
            with self.subTest(headers=headers):
                self.assert_unauthorized(self.cw.get("/metrics", headers=headers))

    def test_right_credentials_and_headers(self):
        resp = self.cw.get("/metrics", headers=basic(USER, PASSWORD))
        self.assertEqual(resp.status, 200)
        self.assertIn(b"connwatch_build_info", resp.body)
        for name, value in HEADERS.items():
            self.assertEqual(resp.header(name), value)
        # Headers go on every response, 401 included.
        self.assertEqual(self.cw.get("/").header("X-Frame-Options"), "deny")

    def test_cve_2022_46146_wrong_password_after_right_one(self):
        self.assertEqual(self.cw.get("/", headers=basic(USER, PASSWORD)).status, 200)
        self.assert_unauthorized(self.cw.get("/", headers=basic(USER, PASSWORD + "x")))
        self.assert_unauthorized(self.cw.get("/", headers=basic(USER, "wrong")))

    def test_prometheus_scrapes_with_basic_auth(self):
        target = f"127.0.0.1:{self.cw.port}"
        prom = h.Prometheus([target], basic_auth=(USER, PASSWORD)).start()
        try:
            def up():
                result = prom.query('up{job="connwatch"}')
                return bool(result) and result[0]["value"][1] == "1"
            h.wait_until(up, 30, "target up with basic auth")
            time.sleep(3)  # a few more scrapes, still up
            self.assertTrue(up())
        finally:
            prom.stop()


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get_from(source, port, path, headers):
    """GET from a chosen loopback source address (another peer, as connwatch sees it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Connection": "close", **headers})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Retry-After")
    finally:
        conn.close()


class BcryptBudget(unittest.TestCase):
    """Issue 17: wrong passwords cost a full bcrypt each (32 clients used 1.3 of 2 cores). Now
    a peer gets a burst of checks and then a steady rate; the rest is answered 429 at once."""

    @classmethod
    def setUpClass(cls):
        cls.cw = h.Connwatch(f"--web.config.file={os.path.join(FIXTURES, 'good', 'basic_auth.yml')}",
                             "--collect.interval=10s").start()

    @classmethod
    def tearDownClass(cls):
        cls.cw.stop()

    def test_a_flood_of_wrong_passwords_is_throttled(self):
        import concurrent.futures
        flood = 60
        cpu_before = cpu_seconds(self.cw.proc.pid)
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(
                lambda i: get_from("127.0.0.3", self.cw.port, "/metrics",
                                   basic(USER, f"wrong{i}")), range(flood)))
        cpu = cpu_seconds(self.cw.proc.pid) - cpu_before
        statuses = [status for status, _ in answers]
        self.assertEqual(set(statuses) - {401, 429}, set(), statuses)
        # The burst (10) and the rate (2/s) over the flood's few seconds: far fewer than 60.
        self.assertLessEqual(statuses.count(401), 20, statuses)
        self.assertTrue(all(retry == "1" for status, retry in answers if status == 429), answers)
        # 60 cost-10 runs are ~3 s of CPU here; the throttled flood costs a fraction of it.
        self.assertLess(cpu, 1.5, f"connwatch used {cpu:.2f} s of CPU for the flood")
        # Another peer is not locked out by the flood.
        self.assertEqual(get_from("127.0.0.4", self.cw.port, "/metrics", basic(USER, PASSWORD))[0],
                         200)
        # And the flooding peer gets its checks back after a pause.
        time.sleep(1.5)
        self.assertEqual(get_from("127.0.0.3", self.cw.port, "/metrics",
                                  basic(USER, PASSWORD))[0], 200)


class TlsAndErrors(unittest.TestCase):
    def test_tls_config_served_over_https(self):
        # Served, never plain HTTP: test_tls.py covers the TLS settings themselves.
        path = os.path.join(FIXTURES, "good", "tls_relative.yml")
        with h.Connwatch(f"--web.config.file={path}") as cw:
            self.assertIn("tls=true", cw.log())
            with self.assertRaises((OSError, http.client.HTTPException)):
                cw.get("/metrics", timeout=1)

    def test_invalid_file_names_file_line_column_and_key(self):
        path = os.path.join(FIXTURES, "bad", "unknown_key.yml")
        out = h.run_connwatch("serve", f"--web.config.file={path}",
                              "--web.listen-address=127.0.0.1:0", timeout=30)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn(f"{path}:3:1: unknown: unknown key; expected one of: tls_server_config, "
                      "http_server_config, basic_auth_users".encode(), out.stderr)


if __name__ == "__main__":
    h.install_watchdog(280)
    unittest.main(verbosity=2)
