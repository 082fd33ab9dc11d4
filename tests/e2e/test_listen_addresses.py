#!/usr/bin/env python3
"""Issue 17, item 8, and the listen sockets: --web.listen-address takes [::1]:P, [::]:P
(dual-stack) and several addresses (repeatable, as exporter-toolkit's); TLS and basic auth
behave on IPv6 as on IPv4, and the log names the real (IPv6) peer; and connwatch restarts on
a port where a connection of its last run is still in TIME_WAIT (the front's listeners set
SO_REUSEADDR, as civetweb's did: a regression guard, it passed before the front too).
"""

import base64
import http.client
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

USER, PASSWORD = "alice", "s3cret"
AUTH_CONFIG = os.path.join(h.REPO_ROOT, "tests", "fixtures", "web_config", "good",
                           "basic_auth.yml")


def get(host, port, context=None, headers=None, source=None):
    """(status, body) of GET /metrics over a fresh connection to host (an IP address)."""
    kwargs = {"timeout": 10}
    if source:
        kwargs["source_address"] = (source, 0)
    if context is None:
        conn = http.client.HTTPConnection(host, port, **kwargs)
    else:
        conn = http.client.HTTPSConnection(host, port, context=context, **kwargs)
    try:
        conn.request("GET", "/metrics", headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def bound_ports(cw):
    """Every address connwatch logged as listening on."""
    return re.findall(r'msg="?listening"?.*?\baddress="?([^"\s]+)"?', cw.log())


def port_of(address):
    return int(address.rpartition(":")[2])


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class ListenAddresses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.cert, key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1,IP:::1", "-keyout", key, "-out", cls.cert],
                       check=True, capture_output=True, timeout=60)
        with open(AUTH_CONFIG) as f:
            users = f.read()
        cls.tls_auth = os.path.join(d, "tls_auth.yml")
        with open(cls.tls_auth, "w") as f:
            f.write(f"tls_server_config:\n  cert_file: {cls.cert}\n  key_file: {key}\n" + users)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start(self, *flags, listen=None):
        cw = h.Connwatch(*flags, "--log.level=debug", listen=listen).start()
        self.addCleanup(cw.stop)
        return cw

    def test_ipv6_loopback_plain(self):
        cw = self.start(listen="[::1]:0")
        self.assertEqual(bound_ports(cw)[0][:6], "[::1]:")
        status, body = get("::1", cw.port)
        self.assertEqual(status, 200)
        self.assertIn(b"connwatch_build_info", body)
        with self.assertRaises(OSError):  # IPv6 only: 127.0.0.1 is not served
            get("127.0.0.1", cw.port)
        h.wait_until(lambda: re.search(r'msg="HTTP request" peer=::1 ', cw.log()), 5,
                     "the request logged with its IPv6 peer")

    def test_ipv6_tls_with_basic_auth(self):
        cw = self.start(f"--web.config.file={self.tls_auth}", listen="[::1]:0")
        context = ssl.create_default_context(cafile=self.cert)
        self.assertEqual(get("::1", cw.port, context)[0], 401)
        self.assertEqual(get("::1", cw.port, context, basic(USER, "wrong"))[0], 401)
        status, body = get("::1", cw.port, context, basic(USER, PASSWORD))
        self.assertEqual(status, 200)
        self.assertIn(b"connwatch_build_info", body)
        with self.assertRaises(ssl.SSLError):
            get("::1", cw.port, ssl.create_default_context())  # not trusted: no scrape
        h.wait_until(lambda: len(re.findall(r'msg="HTTP request" peer=::1 ', cw.log())) >= 3, 5,
                     "the requests logged with their IPv6 peer")

    def test_dual_stack_answers_ipv4_and_ipv6(self):
        cw = self.start(listen="[::]:0")
        self.assertEqual(bound_ports(cw)[0][:5], "[::]:")
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host=host):
                self.assertEqual(get(host, cw.port)[0], 200)
        # An IPv4 peer is logged as IPv4, not as ::ffff:127.0.0.1.
        self.assertEqual(get("127.0.0.1", cw.port, source="127.0.0.9")[0], 200)
        h.wait_until(lambda: 'peer=127.0.0.9 ' in cw.log(), 5, "the IPv4 peer logged")

    def test_two_listen_addresses_both_serve(self):
        cw = self.start("--web.listen-address=[::1]:0", listen="127.0.0.1:0")
        addresses = bound_ports(cw)
        self.assertEqual(len(addresses), 2, cw.log())
        self.assertTrue(addresses[0].startswith("127.0.0.1:"), addresses)
        self.assertTrue(addresses[1].startswith("[::1]:"), addresses)
        self.assertEqual(get("127.0.0.1", port_of(addresses[0]))[0], 200)
        self.assertEqual(get("::1", port_of(addresses[1]))[0], 200)

    def test_a_bad_listen_address_is_a_usage_error(self):
        out = h.run_connwatch("serve", "--web.listen-address=::1:80")
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn(b"--web.listen-address", out.stderr)

    def test_restart_with_a_connection_in_time_wait(self):
        port = h.free_tcp_port()
        first = self.start(listen=f"127.0.0.1:{port}")
        # "Connection: close", read to the end: the server closes first, so its side of the
        # connection enters TIME_WAIT.
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:100])
        ss = subprocess.run(["ss", "-Htan", "state", "time-wait", f"sport = :{port}"],
                            capture_output=True, text=True, timeout=10)
        self.assertIn(f":{port}", ss.stdout, "no server-side TIME_WAIT to restart into")
        first.stop()
        second = self.start(listen=f"127.0.0.1:{port}")
        self.assertEqual(second.port, port)
        self.assertEqual(second.get("/metrics").status, 200)


if __name__ == "__main__":
    h.install_watchdog(200)
    unittest.main(verbosity=2)
