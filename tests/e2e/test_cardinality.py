#!/usr/bin/env python3
"""The series cap holds under thousands of uniquely named processes, and drops are counted.

3,000 hardlinks of sockholder named cw-cap-0001..cw-cap-3000 each hold one TCP listener on
127.0.0.1 and one established pair through it: 3,000 would-be connwatch_listener_info series
and 6,000 would-be connwatch_process_connections series (inbound + outbound per process),
against the default --metrics.max-series=2000. The test runs in a private network namespace
(needs root) so that the kernel's socket tables hold exactly what the test made.
"""

import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

N_PROCS = 3000
MAX_SERIES = 2000
BATCH = 250
CAPPED = ("connwatch_listener_info", "connwatch_process_connections")


def setUpModule():
    h.enter_private_netns()
    h.raise_nofile_limit(8192)


class CardinalityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        started = time.monotonic()
        cls.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-cap-")
        base = h.install_executable(cls.tmp.name, "cw-cap-base")
        cls.fleet = h.HolderFleet()
        try:
            for i in range(1, N_PROCS + 1):
                exe = h.install_executable(cls.tmp.name, f"cw-cap-{i:04d}", source=base,
                                           link=True)
                cls.fleet.spawn(exe, ["--pair"], timeout_s=150)
                if i % BATCH == 0 or i == N_PROCS:
                    cls.fleet.collect_ready(i, timeout=60)
        except BaseException:
            cls.fleet.stop()
            raise
        cls.names = {f"cw-cap-{i:04d}" for i in range(1, N_PROCS + 1)}
        sys.stderr.write(f"\n{N_PROCS} holders ready in {time.monotonic() - started:.1f} s\n")

    @classmethod
    def tearDownClass(cls):
        cls.fleet.stop()
        still = [p.pid for p in cls.fleet.procs if p.poll() is None]
        cls.tmp.cleanup()
        assert not still, f"holders left running: {still[:10]}"

    def check_capped_scrape(self, exp, raw):
        counts = exp.series_per_name()
        for name, n in counts.items():
            self.assertLessEqual(n, MAX_SERIES, f"{name} has {n} series")
        rc, out = h.promtool_check_metrics(raw)
        self.assertEqual(rc, 0, f"promtool check metrics: {out[:2000]}")
        # The holders, and connwatch's own listener once it listens.
        own = os.path.basename(os.path.realpath(h.connwatch_bin()))
        for s in exp.select("connwatch_listener_info"):
            self.assertTrue(s.labels["process"] in self.names | {own}, s)
        for s in exp.select("connwatch_process_connections"):
            self.assertEqual(s.value, 1, s)

    def test_single_sample_drop_accounting(self):
        # A collect interval far beyond the test: the only sample is the one taken at start,
        # before the server listens, so the counter holds exactly one sample's drops.
        with h.Connwatch(interval="300s") as cw:
            exp = cw.scrape()
        self.check_capped_scrape(exp, exp.raw)

        listen = exp.value("connwatch_sockets", protocol="tcp", family="ipv4", state="listen")
        established = exp.value("connwatch_sockets", protocol="tcp", family="ipv4",
                                state="established")
        self.assertEqual(listen, N_PROCS, "the sample must see every holder's listener")
        self.assertEqual(established, 2 * N_PROCS)

        would = {"connwatch_listener_info": N_PROCS,
                 "connwatch_process_connections": 2 * N_PROCS}
        for metric in CAPPED:
            with self.subTest(metric=metric):
                emitted = len(exp.select(metric))
                dropped = exp.value("connwatch_series_dropped_total", metric=metric)
                self.assertLessEqual(emitted, MAX_SERIES)
                self.assertGreater(dropped, 0)
                self.assertEqual(dropped, would[metric] - emitted,
                                 f"{metric}: would {would[metric]}, emitted {emitted}")

    def test_drops_accumulate_per_sample(self):
        with h.Connwatch(interval="2s") as cw:
            def sample_pair():
                """Two scrapes of consecutive samples; the later one saw no stray sockets."""
                first = cw.scrape()
                t0 = first.value("connwatch_last_sample_timestamp_seconds")
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    time.sleep(0.25)
                    second = cw.scrape()
                    t1 = second.value("connwatch_last_sample_timestamp_seconds")
                    if t1 != t0:
                        self.assertLess(t1 - t0, 3.0, "samples are not 2 s apart")
                        est = second.value("connwatch_sockets", protocol="tcp",
                                           family="ipv4", state="established")
                        # A scrape connection caught by the sample adds series; retry.
                        return (first, second) if est == 2 * N_PROCS else None
                raise AssertionError("no new sample within 10 s at --collect.interval=2s")

            first, second = h.wait_until(sample_pair, 60, "two consecutive clean samples",
                                         interval=0)
        self.check_capped_scrape(second, second.raw)
        # After the server listens, connwatch's own listeners are two more listener series:
        # the front's on the listen address, civetweb's on 127.0.0.1 behind it.
        listen = second.value("connwatch_sockets", protocol="tcp", family="ipv4",
                              state="listen")
        self.assertEqual(listen, N_PROCS + 2)
        would = {"connwatch_listener_info": N_PROCS + 2,
                 "connwatch_process_connections": 2 * N_PROCS}
        for metric in CAPPED:
            with self.subTest(metric=metric):
                emitted = len(second.select(metric))
                increase = (second.value("connwatch_series_dropped_total", metric=metric) -
                            first.value("connwatch_series_dropped_total", metric=metric))
                self.assertGreater(increase, 0)
                self.assertEqual(increase, would[metric] - emitted)


if __name__ == "__main__":
    h.install_watchdog(280)
    unittest.main()
