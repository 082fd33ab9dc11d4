#!/usr/bin/env python3
"""Issue 17, item 1: idle or slow connections must not blind the exporter.

civetweb's 16 worker threads each sat on a connection until it closed or its 10 s request
timeout passed: 200 slowloris connections let 0 of 6 scrapes through in 60 s, 64 idle ones
reopened once a second 0 of 6 TLS scrapes. Here 500 connections (half idle, half trickling a
header byte a second, each reopened a second after the server closes it) come from one peer
(127.0.0.1) or from many (127.0.0.2 to 127.0.0.51), over plain HTTP and over TLS, while a
scraper on 127.0.0.200 (a peer under its limit) scrapes every 0.5 s: every scrape must
succeed within 2 s for the whole attack, and connwatch_http_connections_rejected_total must
show the refusals.

CONNWATCH_ATTACK_SECONDS sets each attack's duration (default 12; the issue's 60 s run is in
the README's measurements).
"""

import http.client
import os
import selectors
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

ATTACK_SECONDS = float(os.environ.get("CONNWATCH_ATTACK_SECONDS", "12"))
CONNECTIONS = 500
SCRAPER = "127.0.0.200"
SCRAPE_DEADLINE = 2.0


class Attack(threading.Thread):
    """CONNECTIONS sockets from `sources` to 127.0.0.1:port, bounded: each slot reconnects at
    most once a second. Odd slots stay idle, even ones send a request head's byte a second."""

    def __init__(self, port, sources):
        super().__init__(daemon=True)
        self.port, self.sources = port, sources
        self.stop_event = threading.Event()
        self.opened = 0
        self.closed_by_server = 0
        self.bytes_sent = 0
        self.max_open = 0

    def run(self):
        selector = selectors.DefaultSelector()
        slots = [{"sock": None, "next": 0.0, "sent": 0.0} for _ in range(CONNECTIONS)]
        head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000
        try:
            while not self.stop_event.is_set():
                now = time.monotonic()
                for i, slot in enumerate(slots):
                    if slot["sock"] is None and now >= slot["next"]:
                        self._open(selector, slot, i, now)
                    elif slot["sock"] is not None and i % 2 == 0 and now - slot["sent"] >= 1:
                        self._trickle(selector, slot, head, now)
                self.max_open = max(self.max_open, sum(s["sock"] is not None for s in slots))
                for key, _ in selector.select(timeout=0.05):
                    slot = key.data
                    try:
                        data = slot["sock"].recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self.closed_by_server += 1
                        self._close(selector, slot, time.monotonic())
        finally:
            for slot in slots:
                if slot["sock"] is not None:
                    self._close(selector, slot, 0)
            selector.close()

    def _open(self, selector, slot, i, now):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((self.sources[i % len(self.sources)], 0))
        sock.connect_ex(("127.0.0.1", self.port))
        slot.update(sock=sock, next=now + 1.0, sent=now, pos=0)
        selector.register(sock, selectors.EVENT_READ, slot)
        self.opened += 1

    def _trickle(self, selector, slot, head, now):
        slot["sent"] = now
        try:
            slot["sock"].send(head[slot["pos"] % len(head):][:1])
            slot["pos"] += 1
            self.bytes_sent += 1
        except BlockingIOError:
            pass
        except OSError:
            self.closed_by_server += 1
            self._close(selector, slot, now)

    def _close(self, selector, slot, now):
        selector.unregister(slot["sock"])
        slot["sock"].close()
        slot["sock"] = None
        slot["next"] = max(slot["next"], now + 1.0)


def make_certificate(directory):
    cert, key = os.path.join(directory, "server.crt"), os.path.join(directory, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,IP:::1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


def scrape(port, context=None):
    """Seconds one GET /metrics took from SCRAPER on a fresh connection; raises on failure."""
    start = time.monotonic()
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=SCRAPE_DEADLINE,
                                          source_address=(SCRAPER, 0))
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=SCRAPE_DEADLINE,
                                           source_address=(SCRAPER, 0), context=context)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status != 200 or b"connwatch_build_info" not in body:
        raise AssertionError(f"status {resp.status}")
    return time.monotonic() - start, body


class ConnectionExhaustion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.raise_nofile_limit(4096)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cert, key = make_certificate(cls.tmp.name)
        cls.web_config = os.path.join(cls.tmp.name, "web.yml")
        with open(cls.web_config, "w") as f:
            f.write(f"tls_server_config:\n  cert_file: {cls.cert}\n  key_file: {key}\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def attack(self, tls, sources):
        flags = [f"--web.config.file={self.web_config}"] if tls else []
        cw = h.Connwatch(*flags).start()
        self.addCleanup(cw.stop)
        context = ssl.create_default_context(cafile=self.cert) if tls else None
        attack = Attack(cw.port, sources)
        attack.start()
        self.addCleanup(attack.join, 10)
        self.addCleanup(attack.stop_event.set)
        time.sleep(2)  # let the attack take hold before the first scrape
        latencies, failures = [], []
        end = time.monotonic() + ATTACK_SECONDS
        while time.monotonic() < end:
            try:
                seconds, body = scrape(cw.port, context)
                latencies.append(seconds)
                if seconds > SCRAPE_DEADLINE:
                    failures.append(f"took {seconds:.2f} s")
            except (OSError, AssertionError, http.client.HTTPException) as e:
                failures.append(repr(e))
            time.sleep(0.5)
        attack.stop_event.set()
        attack.join(10)
        summary = (f"{len(latencies)} scrapes ok, {len(failures)} failed "
                   f"({failures[:3]}); max {max(latencies, default=0):.3f} s; attacker opened "
                   f"{attack.opened}, at most {attack.max_open} at once, "
                   f"{attack.closed_by_server} closed by the server")
        print(f"\n  {'TLS' if tls else 'plain'}, {len(sources)} peer(s): {summary}")
        self.assertEqual(failures, [], summary)
        self.assertGreaterEqual(len(latencies), ATTACK_SECONDS / 0.6, summary)
        self.assertGreaterEqual(attack.max_open, CONNECTIONS * 0.9, summary)
        exp = h.Exposition(body.decode())
        rejected = {s.labels["reason"]: s.value
                    for s in exp.select("connwatch_http_connections_rejected_total")}
        self.assertEqual(set(rejected), {"header_timeout", "peer_limit", "total_limit",
                                         "tls_handshake", "request_too_large",
                                         "response_timeout"})
        return rejected

    def test_plain_one_peer(self):
        rejected = self.attack(False, ["127.0.0.1"])
        self.assertGreater(rejected["peer_limit"], 0, rejected)
        self.assertGreater(rejected["header_timeout"], 0, rejected)

    def test_plain_many_peers(self):
        rejected = self.attack(False, [f"127.0.0.{i}" for i in range(2, 52)])
        self.assertGreater(rejected["header_timeout"], CONNECTIONS / 2, rejected)

    def test_tls_one_peer(self):
        rejected = self.attack(True, ["127.0.0.1"])
        self.assertGreater(rejected["peer_limit"], 0, rejected)
        # The trickled bytes are no ClientHello: the handshake fails or times out.
        self.assertGreater(rejected["header_timeout"] + rejected["tls_handshake"], 0, rejected)

    def test_tls_many_peers(self):
        rejected = self.attack(True, [f"127.0.0.{i}" for i in range(2, 52)])
        self.assertGreater(rejected["header_timeout"] + rejected["tls_handshake"],
                           CONNECTIONS / 2, rejected)


if __name__ == "__main__":
    h.install_watchdog(60 + 4 * (ATTACK_SECONDS + 30))
    unittest.main(verbosity=2)
