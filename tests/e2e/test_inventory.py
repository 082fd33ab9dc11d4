#!/usr/bin/env python3
"""connwatch sees the sockets a known process holds, attributes them, and serves them well.

A sockholder child copied to the name "cw-e2e-holder" holds a TCP listener on 127.0.0.1, one
on ::1, a bound UDP socket on a fixed port below the ephemeral range, an established loopback
TCP pair (with its listener) and one TIME_WAIT socket; a second child, "cw-e2e-udpconn",
holds two connected UDP sockets. The real connwatch binary must report them in /metrics and
in `connwatch connections`, with both collector sources, over a correct HTTP surface.
"""

import os
import re
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402

HOLDER = "cw-e2e-holder"
UDPCONN = "cw-e2e-udpconn"
KERNEL_STATES = {"established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait",
                 "close", "close_wait", "last_ack", "listen", "closing"}


def port_of(entry, key):
    return int(entry[key])


class InventoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cw-e2e-inventory-")
        exe = h.install_executable(cls.tmp.name, HOLDER)
        cls.holder = None
        for _ in range(5):
            cls.udp_port = h.free_udp_port_outside_ephemeral()
            try:
                cls.holder = h.Holder(exe, ["--tcp-listen", "127.0.0.1:0", "--tcp-listen",
                                            "[::1]:0", "--udp", f"127.0.0.1:{cls.udp_port}",
                                            "--pair", "--time-wait"], timeout_s=240)
                break
            except h.HolderError as e:
                if e.returncode != 3:  # 3: the UDP port was taken meanwhile; pick another
                    raise
        assert cls.holder is not None, "could not bind a UDP port for the holder"
        cls.udp_holder = h.Holder(h.install_executable(cls.tmp.name, UDPCONN), ["--udp-pair"],
                                  timeout_s=240)
        r = cls.holder.ready
        cls.tcp4_port = r["tcp_listen"][0]["port"]
        cls.tcp6_port = r["tcp_listen"][1]["port"]
        cls.pair_listen_port = r["pairs"][0]["listen_port"]
        cls.pair_client_port = r["pairs"][0]["client_port"]
        cls.time_wait_port = r["time_wait"][0]["port"]
        cls.expected_listeners = {
            ("tcp", "127.0.0.1", str(cls.tcp4_port)),
            ("tcp", "::1", str(cls.tcp6_port)),
            ("udp", "127.0.0.1", str(cls.udp_port)),
            ("tcp", "127.0.0.1", str(cls.pair_listen_port)),
        }

        # A listener that no process has in its fd table: its only reference is a message
        # in flight on a unix socket pair (SCM_RIGHTS, never received). connwatch must
        # report it with process="" and count it as unowned.
        cls.inflight = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as orphan:
            orphan.bind(("127.0.0.1", 0))
            orphan.listen(1)
            cls.orphan_port = orphan.getsockname()[1]
            socket.send_fds(cls.inflight[0], [b"x"], [orphan.fileno()])

        # The TIME_WAIT socket lives 60 s: take the snapshots that look for it right away.
        cls.cw = h.Connwatch().start()
        cls.first_scrape = cls.cw.scrape()
        cls.json_all = h.connections_json()

    @classmethod
    def tearDownClass(cls):
        cls.cw.stop()
        cls.holder.stop()
        cls.udp_holder.stop()
        for sock in cls.inflight:
            sock.close()
        cls.tmp.cleanup()

    def scrape_with_holder(self):
        """A scrape whose sample already has the holder's listeners (bounded wait)."""
        def ok():
            exp = self.cw.scrape()
            return exp if exp.select("connwatch_listener_info", process=HOLDER) else None
        return h.wait_until(ok, 15, f"listener_info for {HOLDER}")

    def listeners_of(self, exp, process):
        return {(s.labels.get("protocol"), s.labels.get("address"), s.labels.get("port"))
                for s in exp.select("connwatch_listener_info", process=process)}

    # --- /metrics content ----------------------------------------------------------------

    def test_first_scrape_already_has_a_sample(self):
        # The first sample is taken before the server listens, after the holder was ready.
        self.assertEqual(self.listeners_of(self.first_scrape, HOLDER), self.expected_listeners)
        self.assertTrue(self.first_scrape.select("connwatch_last_sample_timestamp_seconds"))

    def test_listener_info_attributes_each_listener(self):
        exp = self.scrape_with_holder()
        self.assertEqual(self.listeners_of(exp, HOLDER), self.expected_listeners)
        for s in exp.select("connwatch_listener_info", process=HOLDER):
            self.assertEqual(s.value, 1, s)
            self.assertEqual(set(s.labels), h.LISTENER_LABELS,
                             s)
            # The embedded default policy is still learning: nothing is unexpected yet.
            self.assertEqual(s.labels["expected"], "true", s)
        # Only listeners: the pair's client port and the UDP pair are no listeners.
        ports = {s.labels["port"] for s in exp.select("connwatch_listener_info")}
        self.assertNotIn(str(self.pair_client_port), ports)
        self.assertEqual(self.listeners_of(exp, UDPCONN), set())

    def test_process_connections_direction_and_zone(self):
        exp = self.scrape_with_holder()
        mine = {(s.labels["direction"], s.labels["remote_zone"]): s.value
                for s in exp.select("connwatch_process_connections", process=HOLDER)}
        self.assertEqual(mine, {("inbound", "loopback"): 1, ("outbound", "loopback"): 1})
        # Two connected UDP sockets on ephemeral ports: connections, both outbound.
        udp = {(s.labels["direction"], s.labels["remote_zone"]): s.value
               for s in exp.select("connwatch_process_connections", process=UDPCONN)}
        self.assertEqual(udp, {("outbound", "loopback"): 2})
        for s in exp.select("connwatch_process_connections"):
            self.assertEqual(set(s.labels), {"process", "direction", "remote_zone"} |
                             h.WORKLOAD_LABELS, s)
            self.assertIn(s.labels["direction"], {"inbound", "outbound"}, s)
            self.assertIn(s.labels["remote_zone"],
                          {"loopback", "link_local", "multicast", "internal", "external"}, s)
            self.assertGreaterEqual(s.value, 1, s)

    def test_socket_counts_are_consistent(self):
        exp = self.scrape_with_holder()
        sockets = exp.select("connwatch_sockets")
        for s in sockets:
            self.assertEqual(set(s.labels), {"protocol", "family", "state"}, s)
            self.assertIn(s.labels["protocol"], {"tcp", "udp"}, s)
            self.assertIn(s.labels["family"], {"ipv4", "ipv6"}, s)
            self.assertIn(s.labels["state"], KERNEL_STATES | {"unconnected"}, s)
            self.assertGreaterEqual(s.value, 0, s)

        def count(protocol, family, state):
            return exp.value_or("connwatch_sockets", 0, protocol=protocol, family=family,
                                state=state)

        # What this test holds, at least.
        self.assertGreaterEqual(count("tcp", "ipv4", "listen"), 2)
        self.assertGreaterEqual(count("tcp", "ipv6", "listen"), 1)
        self.assertGreaterEqual(count("tcp", "ipv4", "established"), 2)
        self.assertGreaterEqual(count("udp", "ipv4", "established"), 2)
        self.assertGreaterEqual(count("udp", "ipv4", "close") + count("udp", "ipv4", "unconnected"),
                                1)
        # Every listener series is backed by a listening socket of its family.
        for family, is_fam in (("ipv4", lambda a: ":" not in a), ("ipv6", lambda a: ":" in a)):
            tcp_listeners = {(s.labels["address"], s.labels["port"])
                             for s in exp.select("connwatch_listener_info", protocol="tcp")
                             if is_fam(s.labels["address"])}
            self.assertGreaterEqual(count("tcp", family, "listen"), len(tcp_listeners), family)
        # Established connections attributed to processes cannot outnumber established sockets.
        attributed = sum(s.value for s in exp.select("connwatch_process_connections"))
        established = sum(s.value for s in exp.select("connwatch_sockets", state="established"))
        self.assertLessEqual(attributed, established)

    def test_time_wait_is_counted(self):
        self.assertGreaterEqual(self.first_scrape.value_or(
            "connwatch_sockets", 0, protocol="tcp", family="ipv4", state="time_wait"), 1)

    def test_unowned_listener(self):
        exp = self.scrape_with_holder()
        found = exp.select("connwatch_listener_info", protocol="tcp", address="127.0.0.1",
                           port=str(self.orphan_port))
        self.assertEqual([s.labels["process"] for s in found], [""])
        self.assertGreaterEqual(exp.value_or("connwatch_unowned_sockets", 0, protocol="tcp"), 1)
        for s in exp.select("connwatch_unowned_sockets"):
            self.assertEqual(set(s.labels), {"protocol"}, s)
            self.assertIn(s.labels["protocol"], {"tcp", "udp"}, s)
        listed = [e for e in self.json_all if e["protocol"] == "tcp"
                  and port_of(e, "local_port") == self.orphan_port]
        self.assertEqual(len(listed), 1, listed)
        self.assertEqual((listed[0]["role"], listed[0]["owners"]), ("listener", []))

    def test_collectors_succeed(self):
        exp = self.scrape_with_holder()
        success = exp.select("connwatch_collector_success")
        self.assertTrue(success, "no connwatch_collector_success series")
        for s in success:
            self.assertEqual(s.value, 1, f"collector failed: {s}; log:\n{self.cw.log()[-2000:]}")
        durations = {s.labels.get("collector"): s.value
                     for s in exp.select("connwatch_collector_duration_seconds")}
        self.assertEqual(set(durations), {s.labels.get("collector") for s in success})
        for collector, seconds in durations.items():
            self.assertTrue(0 <= seconds < 30, (collector, seconds))

    def test_build_info_matches_version_flag(self):
        exp = self.scrape_with_holder()
        info = exp.select("connwatch_build_info")
        self.assertEqual(len(info), 1, info)
        self.assertEqual(info[0].value, 1)
        self.assertEqual(set(info[0].labels), {"version", "revision"})
        version = info[0].labels["version"]
        self.assertRegex(version, r"^\d+\.\d+\.\d+")
        self.assertTrue(info[0].labels["revision"])
        out = h.run_connwatch("--version")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(version, (out.stdout + out.stderr).decode())

    def test_last_sample_timestamp_recent_and_advancing(self):
        first = self.cw.scrape().value("connwatch_last_sample_timestamp_seconds")
        self.assertLess(abs(time.time() - first), 30, "last sample timestamp is not recent")

        def advanced():
            later = self.cw.scrape().value("connwatch_last_sample_timestamp_seconds")
            return later if later > first else None
        later = h.wait_until(advanced, 10, "a newer sample (collect.interval=1s)")
        self.assertLess(later - first, 10)
        self.assertLessEqual(later, time.time() + 1)

    def test_metric_types(self):
        exp = self.scrape_with_holder()
        expected = {
            "connwatch_sockets": "gauge",
            "connwatch_listener_info": "gauge",
            "connwatch_process_connections": "gauge",
            "connwatch_unowned_sockets": "gauge",
            "connwatch_collector_success": "gauge",
            "connwatch_collector_duration_seconds": "gauge",
            "connwatch_last_sample_timestamp_seconds": "gauge",
            "connwatch_series_dropped_total": "counter",
            "connwatch_build_info": "gauge",
        }
        for name, kind in expected.items():
            self.assertEqual(exp.types.get(name), kind, name)
            self.assertTrue(exp.helps.get(name), f"{name} has no HELP")

    def test_nothing_dropped_below_the_cap(self):
        # Default --metrics.max-series=2000: a family below it has dropped nothing (unless
        # the host itself had more than 2000 such series during this test).
        exp = self.scrape_with_holder()
        dropped = exp.select("connwatch_series_dropped_total")
        for s in dropped:
            self.assertEqual(set(s.labels), {"metric"}, s)
            if len(exp.select(s.labels["metric"])) < 2000:
                self.assertEqual(s.value, 0, s)
        self.assertTrue({"connwatch_listener_info", "connwatch_process_connections"} <=
                        {s.labels["metric"] for s in dropped},
                        "series_dropped_total lacks the capped families")

    def test_promtool_accepts_the_scrape(self):
        resp = self.cw.scrape_raw()
        rc, out = h.promtool_check_metrics(resp.body)
        self.assertEqual(rc, 0, f"promtool check metrics: {out}")

    def test_live_families_match_the_golden_exposition(self):
        # The golden file is what the metric-name checks of README, rules and dashboards
        # compare against; it must list exactly the families the live exporter emits.
        live = set(re.findall(r"^# TYPE (connwatch_\w+) ", self.cw.scrape_raw().body.decode(),
                              re.M))
        golden_path = os.path.join(h.REPO_ROOT, "tests", "fixtures", "golden", "host1.prom")
        with open(golden_path) as f:
            golden = set(re.findall(r"^# TYPE (connwatch_\w+) ", f.read(), re.M))
        self.assertGreater(len(live), 25)
        self.assertEqual(live, golden)

    # --- HTTP surface ----------------------------------------------------------------------

    def test_metrics_content_type(self):
        resp = self.cw.get("/metrics")
        self.assertEqual(resp.status, 200)
        ctype = resp.header("content-type")
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertIn("version=0.0.4", ctype)

    def test_landing_page_links_telemetry_path(self):
        resp = self.cw.get("/")
        self.assertEqual(resp.status, 200)
        self.assertIn("text/html", resp.header("content-type"))
        self.assertRegex(resp.body.decode("utf-8"), r"href=['\"]/metrics['\"]")

    def test_other_paths_are_404(self):
        for path in ("/nope", "/metricsfoo", "/Metrics", "/metrics/x", "/index.html"):
            with self.subTest(path=path):
                self.assertEqual(self.cw.get(path).status, 404)

    def test_post_metrics_is_405(self):
        resp = self.cw.get("/metrics", method="POST", body=b"x=1",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(resp.status, 405)

    def test_custom_telemetry_path_and_implicit_serve(self):
        # No `serve` subcommand: serving is the default.
        with h.Connwatch("--web.telemetry-path=/custom-metrics", subcommand=()) as cw:
            page = cw.get("/")
            self.assertEqual(page.status, 200)
            self.assertRegex(page.body.decode("utf-8"), r"href=['\"]/custom-metrics['\"]")
            exp = cw.scrape("/custom-metrics")
            self.assertEqual(len(exp.select("connwatch_build_info")), 1)
            self.assertEqual(self.listeners_of(exp, HOLDER), self.expected_listeners)
            self.assertEqual(cw.get("/metrics").status, 404)

    def test_both_collector_sources_serve_the_same_sockets(self):
        results = {}
        for source in ("netlink", "procfs"):
            with h.Connwatch(f"--collector.source={source}") as cw:
                exp = cw.scrape()
                results[source] = (
                    self.listeners_of(exp, HOLDER),
                    {(s.labels["direction"], s.labels["remote_zone"]): s.value
                     for s in exp.select("connwatch_process_connections", process=HOLDER)})
                for s in exp.select("connwatch_collector_success"):
                    self.assertEqual(s.value, 1, (source, s))
        for source, (listeners, conns) in results.items():
            with self.subTest(source=source):
                self.assertEqual(listeners, self.expected_listeners)
                self.assertEqual(conns, {("inbound", "loopback"): 1, ("outbound", "loopback"): 1})

    # --- `connwatch connections` ---------------------------------------------------------

    def entries_owned_by(self, data, pid):
        return [e for e in data if any(o.get("pid") == pid for o in e.get("owners", []))]

    def test_connections_json_shows_owner_direction_zone(self):
        mine = self.entries_owned_by(self.json_all, self.holder.pid)
        by_port = {}
        for e in mine:
            by_port.setdefault((e["protocol"], port_of(e, "local_port")), []).append(e)
            owner = [o for o in e["owners"] if o["pid"] == self.holder.pid][0]
            self.assertEqual(owner["name"], HOLDER, e)
            self.assertEqual(owner["user"], h.current_user(), e)
            self.assertEqual(owner["exe"], os.fsdecode(self.holder.exe), e)
            self.assertIn("--time-wait", owner["cmdline"], e)
            self.assertLess(abs(owner["start_time_seconds"] - time.time()), 600, e)
            self.assertEqual(int(e["uid"]), os.getuid(), e)
            self.assertGreater(int(e["inode"]), 0, e)
        listeners = {(e["protocol"], e["local_address"], str(port_of(e, "local_port")))
                     for e in mine if e["role"] == "listener"}
        self.assertEqual(listeners, self.expected_listeners)
        v6 = by_port[("tcp", self.tcp6_port)][0]
        self.assertEqual((v6["family"], v6["state"], v6["role"]), ("ipv6", "listen", "listener"))
        server = by_port[("tcp", self.pair_listen_port)]
        accepted = [e for e in server if e["role"] == "connection"]
        self.assertEqual(len(accepted), 1, server)
        self.assertEqual(accepted[0]["state"], "established")
        self.assertEqual(accepted[0]["direction"], "inbound")
        self.assertEqual(accepted[0]["remote_zone"], "loopback")
        self.assertEqual(port_of(accepted[0], "remote_port"), self.pair_client_port)
        client = by_port[("tcp", self.pair_client_port)]
        self.assertEqual(len(client), 1, client)
        self.assertEqual((client[0]["role"], client[0]["state"], client[0]["direction"],
                          client[0]["remote_zone"]),
                         ("connection", "established", "outbound", "loopback"))
        self.assertEqual(client[0]["remote_address"], "127.0.0.1")
        self.assertEqual(port_of(client[0], "remote_port"), self.pair_listen_port)
        self.assertEqual(len(mine), 6, mine)  # 4 listeners + 2 ends of the pair

    def test_connections_json_time_wait_has_no_owner(self):
        tw = [e for e in self.json_all if e["protocol"] == "tcp" and e["state"] == "time_wait"
              and port_of(e, "local_port") == self.time_wait_port]
        self.assertEqual(len(tw), 1, "TIME_WAIT socket missing from connections JSON")
        self.assertEqual(tw[0]["owners"], [])

    def test_connections_json_udp_pair(self):
        mine = self.entries_owned_by(self.json_all, self.udp_holder.pid)
        self.assertEqual(sorted(port_of(e, "local_port") for e in mine),
                         sorted(self.udp_holder.ready["udp_pairs"][0]["ports"]))
        for e in mine:
            self.assertEqual((e["protocol"], e["role"], e["direction"], e["remote_zone"]),
                             ("udp", "connection", "outbound", "loopback"), e)

    def test_connections_listening_filters(self):
        data = h.connections_json("--listening")
        self.assertTrue(data)
        for e in data:
            self.assertEqual(e["role"], "listener", e)
        mine = self.entries_owned_by(data, self.holder.pid)
        self.assertEqual({(e["protocol"], e["local_address"], str(port_of(e, "local_port")))
                          for e in mine}, self.expected_listeners)

    def test_collector_sources_agree_on_listeners(self):
        seen = {}
        for source in ("netlink", "procfs", "auto"):
            data = h.connections_json("--listening", f"--collector.source={source}")
            seen[source] = {(e["protocol"], e["family"], e["local_address"],
                             str(port_of(e, "local_port")))
                            for e in self.entries_owned_by(data, self.holder.pid)}
        self.assertEqual(seen["netlink"], seen["procfs"])
        self.assertEqual(seen["netlink"], seen["auto"])
        self.assertEqual({(p, a, port) for p, _, a, port in seen["netlink"]},
                         self.expected_listeners)

    def test_connections_table(self):
        for flags in ((), ("--format=table",)):
            with self.subTest(flags=flags):
                out = h.run_connwatch("connections", *flags)
                self.assertEqual(out.returncode, 0, out.stderr)
                text = out.stdout.decode("utf-8")
                self.assertIn(HOLDER, text)
                self.assertIn(str(self.tcp4_port), text)

    def test_bad_usage_exits_2(self):
        for args in (("connections", "--format=bogus"), ("connections", "--no-such-flag"),
                     ("connections", "--collector.source=bogus"), ("--no-such-flag",),
                     ("serve", "--no-such-flag")):
            with self.subTest(args=args):
                out = h.run_connwatch(*args, timeout=30)
                self.assertEqual(out.returncode, 2, (out.stdout, out.stderr))
                self.assertTrue(out.stderr.strip(), "no message on stderr")

    def test_version_and_help(self):
        out = h.run_connwatch("--version", timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex((out.stdout + out.stderr).decode(), r"\d+\.\d+\.\d+")
        out = h.run_connwatch("--help", timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("--web.listen-address", (out.stdout + out.stderr).decode())

    def test_listening_log_line_has_real_address(self):
        m = re.search(r'msg="?listening"?.*address="?127\.0\.0\.1:(\d+)', self.cw.log())
        self.assertIsNotNone(m, self.cw.log())
        self.assertEqual(int(m.group(1)), self.cw.port)
        self.assertNotEqual(self.cw.port, 0)


if __name__ == "__main__":
    h.install_watchdog(280)
    unittest.main()
