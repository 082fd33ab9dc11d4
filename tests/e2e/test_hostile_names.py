#!/usr/bin/env python3
"""Hostile process names neither break the exposition nor a real Prometheus scrape.

Any unprivileged user can name an executable with arbitrary bytes and write arbitrary bytes
to /proc/self/comm. sockholder copies named with invalid UTF-8, spaces, parentheses, quotes,
a newline, a backslash, label syntax, and long names each hold a listener and an established
pair. The scrape must stay valid UTF-8 that `promtool check metrics` accepts and that a real
Prometheus ingests (target up), with each name recoverable: invalid bytes as U+FFFD, the
rest exactly.
"""

import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

HOSTILE_NAMES = [
    b"\xff\xfe",
    b"a b",
    b"(x) y",
    b'"q"',
    b"new\nline",
    b"back\\slash",
    b"fifteen-bytes15",                 # exactly the comm limit
    b"cw-a-name-longer-than-comm-limit",  # exe basename, not the truncated comm
    b"tab\there",
    b'x{y="z"},=',
    b"caf\xc3\xa9-\xe2\x9c\x93",         # valid UTF-8 must survive unchanged
    b"mixed\xc3(\xa0ok",                 # truncated/invalid sequences inside valid text
]
# A plain executable name with a hostile comm: the label must come from the exe.
COMM_HOLDER = b"cw-e2e-comm"
HOSTILE_COMM = b'\xff\xfe"\\\n{x="1"}'


def expected_label(raw):
    return raw.decode("utf-8", "replace")


class HostileNamesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert len(b"fifteen-bytes15") == 15
        cls.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-hostile-")
        cls.holders = []  # (expected label, Holder)
        for raw in HOSTILE_NAMES:
            exe = h.install_executable(cls.tmp.name, raw)
            holder = h.Holder(exe, ["--tcp-listen", "127.0.0.1:0", "--pair",
                                    "--comm", raw[:15].replace(b"\0", b"?").hex()],
                              timeout_s=240)
            cls.holders.append((expected_label(raw), holder))
        exe = h.install_executable(cls.tmp.name, COMM_HOLDER)
        cls.comm_holder = h.Holder(exe, ["--tcp-listen", "127.0.0.1:0", "--pair",
                                         "--comm", HOSTILE_COMM.hex()], timeout_s=240)
        cls.holders.append((COMM_HOLDER.decode(), cls.comm_holder))
        with open(f"/proc/{cls.comm_holder.pid}/comm", "rb") as f:
            assert f.read() == HOSTILE_COMM + b"\n", "the hostile comm was not set"
        cls.cw = h.Connwatch().start()

    @classmethod
    def tearDownClass(cls):
        cls.cw.stop()
        for _, holder in cls.holders:
            holder.stop()
        cls.tmp.cleanup()

    def scrape_with_all(self):
        ports = {str(holder.ready["tcp_listen"][0]["port"]) for _, holder in self.holders}

        def ok():
            exp = self.cw.scrape()
            seen = {s.labels.get("port") for s in exp.select("connwatch_listener_info")}
            return exp if ports <= seen else None
        return h.wait_until(ok, 15, "listener_info for every hostile holder")

    def test_names_in_listener_info(self):
        exp = self.scrape_with_all()
        for label, holder in self.holders:
            port = str(holder.ready["tcp_listen"][0]["port"])
            with self.subTest(name=label):
                found = exp.select("connwatch_listener_info", protocol="tcp", port=port)
                self.assertEqual([s.labels["process"] for s in found], [label])

    def test_names_in_process_connections(self):
        exp = self.scrape_with_all()
        for label, holder in self.holders:
            with self.subTest(name=label):
                mine = {(s.labels["direction"], s.labels["remote_zone"]): s.value
                        for s in exp.select("connwatch_process_connections", process=label)}
                self.assertEqual(mine, {("inbound", "loopback"): 1,
                                        ("outbound", "loopback"): 1})

    def test_raw_escaping_in_the_exposition(self):
        body = self.scrape_with_all().raw
        # Exposition escaping: the newline and backslash appear escaped, never raw.
        self.assertIn(b'process="new\\nline"', body)
        self.assertIn(b'process="back\\\\slash"', body)
        self.assertIn(b'process="\\"q\\""', body)
        self.assertIn('process="\ufffd\ufffd"'.encode(), body)
        self.assertNotIn(b"\xff", body)
        for line in body.split(b"\n"):
            self.assertFalse(line.startswith((b"line", b"\tline")), line)

    def test_promtool_accepts_the_scrape(self):
        exp = self.scrape_with_all()
        rc, out = h.promtool_check_metrics(exp.raw)
        self.assertEqual(rc, 0, f"promtool check metrics: {out}")

    def test_connections_json_is_valid_utf8_with_the_names(self):
        data = h.connections_json()  # asserts valid UTF-8 and valid JSON
        for label, holder in self.holders:
            with self.subTest(name=label):
                owners = [o for e in data for o in e.get("owners", [])
                          if o.get("pid") == holder.pid]
                self.assertTrue(owners, "holder's sockets missing")
                self.assertEqual({o["name"] for o in owners}, {label})
                self.assertEqual({o["exe"] for o in owners},
                                 {os.fsencode(holder.exe).decode("utf-8", "replace")})
                if holder is self.comm_holder:
                    self.assertEqual({o.get("comm", HOSTILE_COMM.decode("utf-8", "replace"))
                                      for o in owners},
                                     {HOSTILE_COMM.decode("utf-8", "replace")})

    def test_connections_table_does_not_crash(self):
        out = h.run_connwatch("connections")
        self.assertEqual(out.returncode, 0, out.stderr)
        out.stdout.decode("utf-8")  # valid UTF-8 even with hostile names

    def test_real_prometheus_ingests_the_scrape(self):
        self.scrape_with_all()
        prom = h.Prometheus([f"127.0.0.1:{self.cw.port}"], scrape_interval="1s").start()
        try:
            def scraped_a_few_times():
                result = prom.query('count_over_time(up{job="connwatch"}[1m])')
                return result and float(result[0]["value"][1]) >= 3
            h.wait_until(scraped_a_few_times, 45, "three scrapes by Prometheus", interval=0.5)

            result = prom.query('min_over_time(up{job="connwatch"}[1m])')
            self.assertEqual(len(result), 1, result)
            targets = prom.api("/api/v1/targets")["activeTargets"]
            self.assertEqual(len(targets), 1, targets)
            self.assertEqual(targets[0]["health"], "up", targets[0].get("lastError"))
            self.assertEqual(targets[0]["lastError"], "")
            self.assertEqual(float(result[0]["value"][1]), 1.0,
                             f"a scrape failed; target: {targets[0]}")

            series = prom.query("connwatch_listener_info")
            by_port = {r["metric"].get("port"): r["metric"].get("process") for r in series}
            for label, holder in self.holders:
                port = str(holder.ready["tcp_listen"][0]["port"])
                with self.subTest(name=label):
                    self.assertEqual(by_port.get(port), label)
                    # A PromQL string literal round trip of the hostile value (JSON string
                    # escapes are valid PromQL escapes).
                    sel = (f"connwatch_listener_info{{process={json.dumps(label)},"
                           f"port={json.dumps(port)}}}")
                    self.assertEqual(len(prom.query(sel)), 1, sel)
                    conns = prom.query("connwatch_process_connections{process=%s}"
                                       % json.dumps(label))
                    self.assertEqual(sorted(r["metric"]["direction"] for r in conns),
                                     ["inbound", "outbound"])
        finally:
            prom.stop()


if __name__ == "__main__":
    h.install_watchdog(280)
    unittest.main()
