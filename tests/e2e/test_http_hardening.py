#!/usr/bin/env python3
"""The HTTP front against hostile clients (issue 17): civetweb's error pages replaced by fixed
ones that carry the configured headers and no byte of the request; HTTP/1.0 keep-alive
answered without a stall; start-up failures of any kind end with exit 1 and one log line.
"""

import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

HEADERS = {"X-Frame-Options": "deny", "X-Content-Type-Options": "nosniff"}


def raw_exchange(port, request, timeout=5.0):
    """Sends raw bytes; returns (everything answered until the server closed, seconds)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data, time.monotonic() - start
            data += chunk


def read_response(s):
    """One response with a Content-Length from a kept connection: (head, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed mid-response: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += s.recv(65536)
    return head.decode("latin-1"), body


class HostileRequests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.config = os.path.join(cls.tmp.name, "web.yml")
        with open(cls.config, "w") as f:
            f.write("http_server_config:\n  headers:\n" +
                    "".join(f"    {k}: {v}\n" for k, v in HEADERS.items()))
        cls.cw = h.Connwatch(f"--web.config.file={cls.config}").start()

    @classmethod
    def tearDownClass(cls):
        cls.cw.stop()
        cls.tmp.cleanup()

    def test_error_pages_are_fixed_and_carry_the_headers(self):
        # Each made civetweb reflect request bytes: its status line echoed the version field
        # ("HTTP/y HTTP/1.1\r\nHost: x\r\n\r 400"), its body the parser's message.
        cases = [
            (b"BREW /evil%0d%0aX: y HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505),
            (b"GET /\x1b[31mEVIL\r\nX-Injected: 1 HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 411),
        ]
        for request, status in cases:
            with self.subTest(request=request):
                data, seconds = raw_exchange(self.cw.port, request)
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                self.assertRegex(lines[0], rf"^HTTP/1\.1 {status} [A-Za-z ]+$", data)
                for name, value in HEADERS.items():
                    self.assertIn(f"{name}: {value}", lines, data)
                self.assertNotIn("X-Injected", head.decode("latin-1"))
                self.assertRegex(body.decode("ascii"), rf"^Error {status}: [A-Za-z ]+\n$")
                for reflected in (b"EVIL", b"9.9", b"evil", b"BREW", b"X: y", b"\x1b"):
                    self.assertNotIn(reflected, data)
                self.assertLess(seconds, 2, "the connection must close after an error page")
        self.assertIsNone(self.cw.proc.poll())

    def test_http10_keep_alive_is_answered_without_a_stall(self):
        # Before issue 17 the answer had no "Connection: keep-alive", so an HTTP/1.0 client
        # took it for a closing connection and waited (0.5 s per request).
        with socket.create_connection(("127.0.0.1", self.cw.port), timeout=5) as s:
            for i in range(5):
                start = time.monotonic()
                s.sendall(b"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                head, body = read_response(s)
                self.assertIn("\r\nConnection: keep-alive", head, head)
                self.assertIn(b"connwatch_build_info", body)
                self.assertLess(time.monotonic() - start, 0.3, f"request {i}")
        # Without keep-alive an HTTP/1.0 request is answered and closed at once.
        data, seconds = raw_exchange(self.cw.port, b"GET / HTTP/1.0\r\n\r\n")
        self.assertIn(b"\r\nConnection: close\r\n", data)
        self.assertLess(seconds, 0.3)


class OwnSockets(unittest.TestCase):
    """Issue 17: a policy that does not name connwatch made its own listener and the scrapes
    it answers findings. They are not; the same policy still flags another process."""

    def test_own_listener_and_scrapes_are_no_findings(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        policy = os.path.join(tmp.name, "policy.yaml")
        with open(policy, "w") as f:
            f.write("listeners: []\nnetwork_processes: []\npaths: []\n")
        h.install_executable(tmp.name, "cw-other")
        other = h.Holder(os.path.join(tmp.name, "cw-other"), ["--tcp-listen", "127.0.0.1:0"])
        self.addCleanup(other.stop)
        cw = h.Connwatch(f"--config.file={policy}", f"--storage.path={tmp.name}/state").start()
        self.addCleanup(cw.stop)
        # Scrapes on kept connections, so that an established socket of connwatch's exists
        # while it samples.
        exp = h.wait_for_scrape(cw, lambda e: h.findings(e, check="unexpected_listener",
                                                         process="cw-other"),
                                30, "the other process's listener flagged")
        exp = h.wait_for_scrape(
            cw, lambda e: e.value("connwatch_last_sample_timestamp_seconds") >
            exp.value("connwatch_last_sample_timestamp_seconds") + 1, 30, "two more samples")
        self.assertTrue(h.findings(exp, check="unexpected_network_process", process="cw-other"))
        self.assertEqual(h.findings(exp, process="connwatch"), [])
        self.assertTrue(exp.select("connwatch_listener_info", process="connwatch"),
                        "connwatch's listener is still shown, only not judged")


class StartUpFailures(unittest.TestCase):
    def test_a_tight_address_space_limit_is_exit_1_with_one_line(self):
        # std::thread threw std::system_error out of serve's start-up: "terminate called
        # after throwing...", SIGABRT and a core. Several limits, since where start-up runs
        # out depends on the machine; at least one of them must fail it.
        outcomes = {}
        for mib in (16, 20, 24, 28, 32):
            with tempfile.TemporaryDirectory() as storage:
                limit = mib << 20
                proc = subprocess.Popen(
                    [h.connwatch_bin(), "--web.listen-address=127.0.0.1:0",
                     f"--storage.path={storage}"],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
                try:
                    _, err = proc.communicate(timeout=4)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    outcomes[mib] = "ran"
                    continue
                text = err.decode("utf-8", "replace")
                if proc.returncode == 127 and "error while loading shared libraries" in text:
                    outcomes[mib] = "loader"  # too tight for connwatch to exist at all
                    continue
                outcomes[mib] = proc.returncode
                self.assertEqual(proc.returncode, 1, f"{mib} MiB: {text}")
                problems = [line for line in text.splitlines() if "level=info" not in line]
                self.assertEqual(len(problems), 1, f"{mib} MiB: {text}")
                self.assertRegex(problems[0], r'^ts=\S+ level=error msg=')
        self.assertIn(1, outcomes.values(), f"no limit made start-up fail: {outcomes}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
