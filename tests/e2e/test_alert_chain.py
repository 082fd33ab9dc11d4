#!/usr/bin/env python3
"""The whole alerting chain, for real: connwatch -> Prometheus -> rules -> Alertmanager -> webhook.

Everything runs in a private network namespace on 127.0.0.1 (free ports): the real connwatch
with a test policy (--collect.interval=1s), the real Prometheus (Debian `prometheus`, scrape
and evaluation every 1 s) loading a copy of rules/connwatch_alerts.yaml and
rules/connwatch_rules.yaml in which every `for:` is rewritten to 2s (the production files keep
their values), and the real Alertmanager (`prometheus-alertmanager --cluster.listen-address=`)
running a copy of deploy/alertmanager/alertmanager.yml whose webhook URLs point at a small
HTTP receiver this test runs (group_wait and group_interval 1s, repeat_interval 1h; the
`null` receiver of info alerts gets a test-only webhook so that routing can be asserted).

Steps (each wait bounded, at most WAIT seconds):
  0. promtool check config deploy/prometheus/prometheus.yml and amtool check-config
     deploy/alertmanager/alertmanager.yml pass; the chain is up and nothing is firing for the
     holders the policy allows.
  1. cw-rogue opens a listener no rule allows -> ConnwatchUnexpectedListener firing reaches
     the webhook with instance, process="cw-rogue" and its port; cw-rogue closes it -> the
     resolved notice for the same labels arrives.
  2. cw-svc, the holder serving an expected service, stops -> ConnwatchExpectedServiceDown
     arrives (service, port); it comes back -> resolved.
  3. cw-outsider, not in network_processes, connects -> ConnwatchUnexpectedNetworkProcess
     arrives with process="cw-outsider".
  4. cw-long holds an established pair beyond limits.long_connection (3s) ->
     ConnwatchLongConnection arrives with process="cw-long", not before the limit.
  5. cw-beacon (a copy of the Python interpreter, so that its process name is its own)
     connects every 0.25 s with 30% jitter to a server in a peer namespace the test made
     (10.237.0.2, over a veth from 10.237.0.1: 10.237.0.0/30, zone internal), each
     connection a few bytes and closed, seen by the connection events (--collect.events=auto)
     under limits.beacon {window: 10s, min_connections: 12} -> ConnwatchBeacon arrives with
     process="cw-beacon", its description naming the peer and its score; the client stops ->
     the window empties and the resolved notice arrives.
  6. connwatch is killed (SIGKILL, as an attacker would) -> ConnwatchHostNotReporting
     arrives for its instance.
Every notification must arrive at the receiver its severity routes to (critical -> pager,
warning -> ticket, info -> null).

CONNWATCH_E2E_STANDIN_RULES=1 runs against a minimal stand-in alert file (same alert names)
instead of rules/connwatch_alerts.yaml: only for working on the chain itself.
"""

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402

WAIT = 30.0  # seconds: the bound of every wait for a notification
FOR = "2s"  # every `for:` of the rules under test
LONG_LIMIT = 3.0  # limits.long_connection of the test policy, seconds
# The beacon's peer: a namespace of this test's own, on a /30 no other test uses.
BEACON_HOST, BEACON_PEER, BEACON_PORT = "10.237.0.1", "10.237.0.2", 18300
BEACON_WINDOW = 10.0  # limits.beacon.window of the test policy, seconds

# The peer's server: accepts on BEACON_PORT and reads each connection to its end.
BEACON_SERVER = """\
import socket, sys, threading
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((sys.argv[1], int(sys.argv[2])))
listener.listen(64)
print("READY", flush=True)
def drain(conn):
    with conn:
        while conn.recv(4096):
            pass
while True:
    conn, _ = listener.accept()
    threading.Thread(target=drain, args=(conn,), daemon=True).start()
"""

# The beacon: until its standard input closes (or 120 s pass), a connection every 0.25 s
# with 30% uniform jitter, each sending a few bytes and closed.
BEACON_CLIENT = """\
import random, select, socket, sys, time
rng = random.Random(7)
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
        s.sendall(b"beat")
    if select.select([sys.stdin], [], [], rng.uniform(0.175, 0.325))[0]:
        break
"""

RULES_DIR = os.path.join(h.REPO_ROOT, "rules")
ALERTS_FILE = os.path.join(RULES_DIR, "connwatch_alerts.yaml")
RECORDING_FILE = os.path.join(RULES_DIR, "connwatch_rules.yaml")
PROM_CONFIG = os.path.join(h.REPO_ROOT, "deploy", "prometheus", "prometheus.yml")
AM_CONFIG = os.path.join(h.REPO_ROOT, "deploy", "alertmanager", "alertmanager.yml")

# Where each severity must be delivered (the receivers of deploy/alertmanager/alertmanager.yml;
# "null" only has a webhook in the test's copy).
SEVERITY_RECEIVER = {"critical": "pager", "warning": "ticket", "info": "null"}

STANDIN_ALERTS = """\
groups:
  - name: connwatch.standin
    rules:
      - alert: ConnwatchUnexpectedListener
        expr: connwatch_listener_info{job="connwatch", expected="false"} == 1
        for: 1m
        labels: {severity: critical}
        annotations: &ann
          summary: 'stand-in {{ $labels.alertname }}'
          description: 'host {{ $labels.instance }} process {{ $labels.process }} port {{ $labels.port }} service {{ $labels.service }}'
          runbook_url: 'https://example.invalid/RUNBOOK.md'
      - alert: ConnwatchExpectedServiceDown
        expr: connwatch_expected_service_up{job="connwatch"} == 0
        for: 1m
        labels: {severity: critical}
        annotations: *ann
      - alert: ConnwatchUnexpectedNetworkProcess
        expr: connwatch_unexpected_network_process_sockets{job="connwatch"} > 0
        for: 1m
        labels: {severity: critical}
        annotations: *ann
      - alert: ConnwatchLongConnection
        expr: sum by (job, instance, process) (connwatch_long_connections{job="connwatch"}) > 0
        for: 1m
        labels: {severity: warning}
        annotations: *ann
      - alert: ConnwatchBeacon
        expr: connwatch_beacons{job="connwatch"} > 0
        for: 1m
        labels: {severity: warning, mitre_technique: T1071}
        annotations:
          summary: 'stand-in {{ $labels.alertname }}'
          description: 'host {{ $labels.instance }} process {{ $labels.process }} peers {{ range printf "connwatch_finding_info{check=\\"beacon\\",instance=%q}" $labels.instance | query }}{{ .Labels.remote_address }} {{ end }}score {{ with printf "connwatch_beacon_score{instance=%q}" $labels.instance | query }}{{ . | first | value }}{{ end }}'
          runbook_url: 'https://example.invalid/RUNBOOK.md'
      - alert: ConnwatchHostNotReporting
        expr: up{job="connwatch"} == 0
        for: 1m
        labels: {severity: critical}
        annotations: *ann
"""

_FOR_LINE = re.compile(r"^(\s*(?:-\s+)?)for:[ \t]*[^\s#]+", re.M)


def shorten_for(text, value=FOR):
    """Every `for: DURATION` of a rule file rewritten to `value`; returns (text, count)."""
    return _FOR_LINE.subn(lambda m: f"{m.group(1)}for: {value}", text)


def test_alertmanager_config(webhook_url):
    """deploy/alertmanager/alertmanager.yml with test URLs and short timings."""
    with open(AM_CONFIG) as f:
        text = f.read()
    text, n = re.subn(r'(url:\s*)"?http://(?:127\.0\.0\.1|localhost):\d+/connwatch/(\w+)"?',
                      lambda m: f'{m.group(1)}"{webhook_url}/{m.group(2)}"', text)
    assert n >= 2, f"expected the pager and ticket webhook URLs in {AM_CONFIG}, found {n}"
    text, n = re.subn(r'^(\s*)- name: "null"[ \t]*$',
                      lambda m: (f'{m.group(1)}- name: "null"\n'
                                 f'{m.group(1)}  webhook_configs:\n'
                                 f'{m.group(1)}    - url: "{webhook_url}/null"\n'
                                 f'{m.group(1)}      send_resolved: true'), text, flags=re.M)
    assert n == 1, f"expected one receiver named \"null\" in {AM_CONFIG}"
    for key, value in (("group_wait", "1s"), ("group_interval", "1s"),
                       ("repeat_interval", "1h")):
        text = re.sub(rf"^(\s*){key}:[ \t]*\S+", rf"\g<1>{key}: {value}", text, flags=re.M)
    return text


class Webhook:
    """An HTTP receiver on 127.0.0.1 recording every Alertmanager notification."""

    def __init__(self):
        self.lock = threading.Lock()
        self.notifications = []  # (monotonic time, receiver path, payload)
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"unparsable": body.decode("utf-8", "replace")}
                with hook.lock:
                    hook.notifications.append((time.monotonic(), self.path.strip("/"), payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, alertname, status=None, since=0.0, **labels):
        """[(time, receiver, alert)] of notifications received after `since` for matching
        alerts (labels must include the given ones)."""
        found = []
        with self.lock:
            notes = list(self.notifications)
        for t, receiver, payload in notes:
            if t < since:
                continue
            for alert in payload.get("alerts", []):
                lab = alert.get("labels", {})
                if lab.get("alertname") != alertname:
                    continue
                if status is not None and alert.get("status") != status:
                    continue
                if all(lab.get(k) == v for k, v in labels.items()):
                    found.append((t, receiver, alert))
        return found

    def wait(self, alertname, status, since, timeout=WAIT, **labels):
        """The first matching notification (time, receiver, alert); bounded."""
        def seen():
            found = self.alerts(alertname, status, since, **labels)
            if not found:
                names = sorted({(a.get("labels", {}).get("alertname"), a.get("status"))
                                for _, _, p in self.notifications
                                for a in p.get("alerts", [])})
                raise AssertionError(f"notifications so far (alertname, status): {names}")
            return found[0]
        return h.wait_until(seen, timeout, f"{alertname} {status} {labels} at the webhook",
                            interval=0.1)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def run_tool(*args):
    proc = subprocess.run(list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=60)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")


class AlertChainTest(unittest.TestCase):
    """Test methods run in name order on one chain; the last one kills connwatch."""

    cw = prom = am = hook = lab = None
    holders = []
    children = []
    timings = []

    @classmethod
    def setUpClass(cls):
        h.enter_private_netns()  # before any thread: the webhook thread inherits it
        netns.install_watchdog(280)
        cls.tmp = tempfile.mkdtemp(prefix="cw-e2e-alerts-")
        cls.t0 = time.monotonic()
        try:
            cls._start_chain()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start_chain(cls):
        bindir = os.path.join(cls.tmp, "bin")
        os.mkdir(bindir)
        for name in ("cw-svc", "cw-rogue", "cw-outsider", "cw-long"):
            h.install_executable(bindir, name)
        cls.exe = lambda name: os.path.join(bindir, name)
        cls.bindir = bindir
        # The interpreter copied under the beacon's own name: its comm and its executable's
        # basename are both cw-beacon, alive or exited.
        h.install_executable(bindir, "cw-beacon", source=os.path.realpath(sys.executable))

        cls.lab = netns.Lab()
        cls.peer = cls.lab.add_namespace("beacon")
        cls.lab.link(cls.peer, [f"{BEACON_HOST}/30"], [f"{BEACON_PEER}/30"])
        cls.children.append(netns.start_ready(cls.peer, [
            sys.executable, "-c", BEACON_SERVER, BEACON_PEER, str(BEACON_PORT)]))

        # The rules under test: a copy with every `for:` shortened.
        if os.environ.get("CONNWATCH_E2E_STANDIN_RULES") == "1":
            alerts_text, cls.rules_source = STANDIN_ALERTS, "stand-in (CONNWATCH_E2E_STANDIN_RULES)"
        else:
            if not os.path.exists(ALERTS_FILE):
                raise AssertionError(f"{ALERTS_FILE} does not exist")
            with open(ALERTS_FILE) as f:
                alerts_text = f.read()
            cls.rules_source = ALERTS_FILE
        rule_files = []
        alerts_copy, n_for = shorten_for(alerts_text)
        rule_files.append(h.write_file(cls.tmp, "connwatch_alerts.yaml", alerts_copy))
        cls.for_rewritten = n_for
        if os.path.exists(RECORDING_FILE):
            with open(RECORDING_FILE) as f:
                rec_copy, n = shorten_for(f.read())
            cls.for_rewritten += n
            rule_files.append(h.write_file(cls.tmp, "connwatch_rules.yaml", rec_copy))
        rc, out = run_tool(h.promtool_bin(), "check", "rules", *rule_files)
        if rc != 0:
            raise AssertionError(f"promtool check rules on the shortened copies: {out}")

        # The expected service: cw-svc listening on its port (before connwatch starts, so
        # the service is never down while the chain settles).
        cls.svc_port = h.free_tcp_port()
        cls.svc = cls._holder("cw-svc", ["--tcp-listen", f"127.0.0.1:{cls.svc_port}"])

        policy = f"""\
listeners:
  - {{process: connwatch, bind: loopback}}
  - {{process: prometheus, bind: loopback}}
  - {{process: prometheus-alertmanager, bind: loopback}}
  - {{process: "python3*", bind: loopback}}
  - {{process: cw-svc, port: {cls.svc_port}, protocol: tcp}}
  - {{process: cw-outsider, bind: loopback}}
  - {{process: cw-long, bind: loopback}}
expected_services:
  - {{name: e2esvc, port: {cls.svc_port}, protocol: tcp, process: cw-svc}}
network_processes: [connwatch, prometheus, prometheus-alertmanager, "python3*", cw-svc,
                    cw-rogue, cw-long, cw-beacon]
limits:
  long_connection: {int(LONG_LIMIT)}s
  beacon: {{window: {int(BEACON_WINDOW)}s, min_connections: 12, min_score: 0.8}}
baseline:
  learn_for: 0s
"""
        policy_path = h.write_file(cls.tmp, "policy.yaml", policy)
        storage = os.path.join(cls.tmp, "storage")
        os.mkdir(storage)
        # Connection events (eBPF as root, else sock_diag): the beacon's connections last
        # milliseconds, between the samples.
        cls.cw = h.Connwatch(f"--config.file={policy_path}", f"--storage.path={storage}",
                             "--collect.events=auto", interval="1s").start()
        cls.instance = f"127.0.0.1:{cls.cw.port}"

        cls.hook = Webhook()
        cls.am = h.Alertmanager(test_alertmanager_config(cls.hook.url)).start()
        cls.prom = h.Prometheus([cls.instance], job="connwatch", scrape_interval="1s",
                                evaluation_interval="1s", rule_files=rule_files,
                                alertmanagers=[f"127.0.0.1:{cls.am.port}"]).start()

        # Up: the target scraped and the rule groups loaded.
        def target_up():
            r = cls.prom.query(f'up{{job="connwatch",instance="{cls.instance}"}}')
            return r and r[0]["value"][1] == "1"
        h.wait_until(target_up, WAIT, "Prometheus scraping connwatch")
        groups = cls.prom.api("/api/v1/rules")["groups"]
        cls.alert_names = {r["name"] for g in groups for r in g["rules"]
                           if r["type"] == "alerting"}
        cls.mark("chain up")

    @classmethod
    def _holder(cls, name, args):
        holder = h.Holder(cls.exe(name), args, timeout_s=300)
        cls.holders.append(holder)
        return holder

    @classmethod
    def _child(cls, args):
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, preexec_fn=h._set_pdeathsig)
        cls.children.append(proc)
        return proc

    @classmethod
    def mark(cls, what):
        cls.timings.append((what, time.monotonic() - cls.t0))

    @classmethod
    def tearDownClass(cls):
        for holder in cls.holders:
            holder.stop()
        for child in cls.children:
            h.kill_process(child)
        if cls.lab is not None:
            cls.lab.close()
        for server in (cls.prom, cls.am, cls.cw):
            if server is not None:
                server.stop()
        if cls.hook is not None:
            cls.hook.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        h.kill_all_children()
        sys.stderr.write(f"\nrules: {getattr(cls, 'rules_source', '?')} "
                         f"({getattr(cls, 'for_rewritten', '?')} `for:` rewritten to {FOR})\n")
        last = 0.0
        for what, t in cls.timings:
            sys.stderr.write(f"  {t:6.1f} s  (+{t - last:5.1f})  {what}\n")
            last = t

    def failure_context(self):
        return (f"\nAlertmanager alerts: {json.dumps(self.am.alerts())[:3000]}"
                f"\nPrometheus alerts: "
                f"{json.dumps(self.prom.api('/api/v1/alerts'))[:3000]}"
                f"\nAlertmanager log:\n{self.am.log()[-2000:]}"
                f"\nPrometheus log:\n{self.prom.log()[-2000:]}")

    def expect(self, alertname, status, since, mentions=(), **labels):
        """Waits for the notification; checks instance, severity routing and annotations
        (a rendered summary, a description naming the host and each of `mentions`, a
        runbook_url); returns (seconds since `since`, alert)."""
        try:
            t, receiver, alert = self.hook.wait(alertname, status, since,
                                                instance=self.instance, **labels)
        except AssertionError as e:
            raise AssertionError(f"{e}{self.failure_context()}") from None
        lab = alert["labels"]
        severity = lab.get("severity")
        self.assertIn(severity, SEVERITY_RECEIVER, f"{alertname}: severity {severity!r}")
        self.assertEqual(receiver, SEVERITY_RECEIVER[severity],
                         f"{alertname} with severity {severity} reached receiver {receiver}")
        self.assertEqual(lab.get("job"), "connwatch", lab)
        ann = alert.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            self.assertTrue(ann.get(key), f"{alertname}: annotation {key} missing: {ann}")
            self.assertNotIn("error expanding template", ann[key], f"{alertname}: {ann}")
            self.assertNotIn("{{", ann[key], f"{alertname}: {ann}")
        for word in (self.instance,) + tuple(mentions):
            self.assertIn(word, ann["description"], f"{alertname}: description lacks {word!r}")
        return t - since, alert

    def assert_alert_defined(self, name):
        self.assertIn(name, self.alert_names, f"alert {name} not loaded from {self.rules_source}")

    # -----------------------------------------------------------------------------------------

    def test_0_deploy_configs_check(self):
        rc, out = run_tool(h.promtool_bin(), "check", "config", PROM_CONFIG)
        self.assertEqual(rc, 0, f"promtool check config {PROM_CONFIG}: {out}")
        # Both rule files of the repository are named and checked (paths relative to the
        # config file).
        self.assertRegex(out, r"SUCCESS: 2 rule files found")
        for rules_file in ("connwatch_alerts.yaml", "connwatch_rules.yaml"):
            self.assertRegex(out, rf"Checking \S*rules/{re.escape(rules_file)}\s+SUCCESS")
        with open(PROM_CONFIG) as f:
            # The rules select job="connwatch".
            self.assertRegex(f.read(), re.compile(r'job_name:\s*"?connwatch"?\s*$', re.M))
        rc, out = run_tool(h.amtool_bin(), "check-config", AM_CONFIG)
        self.assertEqual(rc, 0, f"amtool check-config {AM_CONFIG}: {out}")
        self.assertIn("SUCCESS", out)
        # The test's copy (rewritten URLs and timings) is valid too.
        copy = h.write_file(self.tmp, "am-check.yml", test_alertmanager_config(self.hook.url))
        rc, out = run_tool(h.amtool_bin(), "check-config", copy)
        self.assertEqual(rc, 0, f"amtool check-config on the test copy: {out}")
        for name in ("ConnwatchUnexpectedListener", "ConnwatchExpectedServiceDown",
                     "ConnwatchUnexpectedNetworkProcess", "ConnwatchLongConnection",
                     "ConnwatchBeacon", "ConnwatchHostNotReporting"):
            self.assert_alert_defined(name)

    def test_1_unexpected_listener_fires_and_resolves(self):
        start = time.monotonic()
        rogue = self._holder("cw-rogue", ["--tcp-listen", "127.0.0.1:0"])
        port = str(rogue.ready["tcp_listen"][0]["port"])
        took, alert = self.expect("ConnwatchUnexpectedListener", "firing", start,
                                  mentions=("cw-rogue", port), process="cw-rogue", port=port)
        self.mark(f"UnexpectedListener firing (cw-rogue:{port}) after {took:.1f} s")
        # Nothing the policy allows is reported as an unexpected listener.
        others = {a["labels"].get("process") for _, _, a in
                  self.hook.alerts("ConnwatchUnexpectedListener", "firing")}
        self.assertEqual(others, {"cw-rogue"}, "unexpected listeners other than cw-rogue")

        start = time.monotonic()
        rogue.stop()
        took, alert = self.expect("ConnwatchUnexpectedListener", "resolved", start,
                                  process="cw-rogue", port=port)
        self.assertNotEqual(alert.get("endsAt", ""), "0001-01-01T00:00:00Z", alert)
        self.mark(f"UnexpectedListener resolved after {took:.1f} s")

    def test_2_expected_service_down(self):
        self.assertEqual(self.hook.alerts("ConnwatchExpectedServiceDown"), [],
                         "ConnwatchExpectedServiceDown before the service stopped")
        start = time.monotonic()
        self.svc.stop()
        took, alert = self.expect("ConnwatchExpectedServiceDown", "firing", start,
                                  mentions=("e2esvc", str(self.svc_port)), service="e2esvc")
        if "port" in alert["labels"]:
            self.assertEqual(alert["labels"]["port"], str(self.svc_port), alert)
        self.mark(f"ExpectedServiceDown firing after {took:.1f} s")

        start = time.monotonic()
        self._holder("cw-svc", ["--tcp-listen", f"127.0.0.1:{self.svc_port}"])
        took, _ = self.expect("ConnwatchExpectedServiceDown", "resolved", start,
                              service="e2esvc")
        self.mark(f"ExpectedServiceDown resolved after {took:.1f} s")

    def test_3_unexpected_network_process(self):
        self.assertEqual(self.hook.alerts("ConnwatchUnexpectedNetworkProcess",
                                          process="cw-outsider"), [])
        # Allowed processes (connwatch, prometheus, the holders, this test) never alert.
        self.assertEqual(self.hook.alerts("ConnwatchUnexpectedNetworkProcess"), [],
                         "unexpected network processes before cw-outsider")
        start = time.monotonic()
        outsider = self._holder("cw-outsider", ["--pair"])
        took, _ = self.expect("ConnwatchUnexpectedNetworkProcess", "firing", start,
                              mentions=("cw-outsider",), process="cw-outsider")
        self.mark(f"UnexpectedNetworkProcess firing (cw-outsider) after {took:.1f} s")
        outsider.stop()

    def test_4_long_connection(self):
        start = time.monotonic()
        self._holder("cw-long", ["--pair"])
        took, _ = self.expect("ConnwatchLongConnection", "firing", start,
                              mentions=("cw-long",), process="cw-long")
        self.assertGreaterEqual(took, LONG_LIMIT,
                                "ConnwatchLongConnection arrived before the pair was 3 s old")
        self.mark(f"LongConnection firing (cw-long) after {took:.1f} s")

    def test_5_beacon_fires_and_resolves(self):
        self.assertEqual(self.hook.alerts("ConnwatchBeacon"), [],
                         "ConnwatchBeacon before any beacon ran")
        start = time.monotonic()
        beacon = self._child([os.path.join(self.bindir, "cw-beacon"), "-c", BEACON_CLIENT, BEACON_PEER,
                              str(BEACON_PORT)])
        try:
            took, alert = self.expect("ConnwatchBeacon", "firing", start,
                                      mentions=("cw-beacon", BEACON_PEER), process="cw-beacon")
        finally:
            beacon.stdin.close()  # the client stops at its next wait
            beacon.wait(timeout=10)
        self.assertEqual(beacon.returncode, 0, beacon.stderr.read().decode()[-500:])
        # Twelve connections take about 3 s; with `for` shortened to 2s, firing cannot come
        # sooner than that.
        self.assertGreaterEqual(took, 3.0, "ConnwatchBeacon before twelve connections")
        self.assertEqual(alert["labels"].get("remote_zone"), "internal", alert)
        self.assertEqual(alert["labels"].get("mitre_technique"), "T1071", alert)
        self.mark(f"Beacon firing (cw-beacon -> {BEACON_PEER}) after {took:.1f} s")

        start = time.monotonic()
        took, _ = self.expect("ConnwatchBeacon", "resolved", start, process="cw-beacon")
        self.assertGreaterEqual(took, BEACON_WINDOW - 12 * 0.325,
                                "ConnwatchBeacon resolved before its connections left the window")
        self.mark(f"Beacon resolved after {took:.1f} s")

    def test_6_host_not_reporting(self):
        self.assertEqual(self.hook.alerts("ConnwatchHostNotReporting"), [],
                         "ConnwatchHostNotReporting while connwatch was running")
        start = time.monotonic()
        self.cw.proc.send_signal(signal.SIGKILL)
        self.cw.proc.wait(timeout=10)
        took, _ = self.expect("ConnwatchHostNotReporting", "firing", start)
        self.mark(f"HostNotReporting firing after {took:.1f} s")


if __name__ == "__main__":
    unittest.main(verbosity=2)
