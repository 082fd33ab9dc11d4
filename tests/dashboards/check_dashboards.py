#!/usr/bin/env python3
"""Checks the Grafana dashboards in dashboards/ (Grafana itself is not needed).

Structure checks (always): each dashboard is valid JSON with its fixed uid; it has a
`datasource` variable (type datasource, query prometheus) and `job` and `instance` query
variables on connwatch_build_info; every panel, nested ones in collapsed rows included, and
every target and query variable uses that datasource; panel ids are unique; every target has
an expr, scoped by job and instance; every metric named exists in the exporter's exposition
(tests/fixtures/golden/host1.prom) or is `up`; counters are only used through rate() or
increase(); panels that show seconds use a time unit.

Live checks (with --prometheus URL, env PROMETHEUS_URL, or --start-stack): every variable query
and every panel target, with the variables substituted as Grafana would ($job and $instance by
values the variable queries themselves return, $__range 5m, $__rate_interval 1m, ...), is run
against Prometheus's HTTP API and must return a non-empty result. A failure names the
dashboard, the panel title and the expr.

--start-stack runs, in a private network namespace on 127.0.0.1 (and a pod's namespace linked to
it by a veth pair, 10.237.1.0/30, for the beacon and scans): the real connwatch
(CONNWATCH_BIN, default build/connwatch) with a test policy that makes every panel non-empty
(an unexpected listener, a down service, an unexpected network process, path violations,
connections older than limits.long_connection: 1s, a beacon, an outbound and an inbound scan;
with --collect.events=ebpf and --collector.netns=all), sockholder children (SOCKHOLDER_BIN,
default build/tests/sockholder) holding those sockets, and a Prometheus (PROMETHEUS_BIN)
scraping connwatch every second; then the live checks. Needs root (network namespace).

Usage:
  check_dashboards.py                       structure checks only
  check_dashboards.py --prometheus URL      structure + live checks against URL
  check_dashboards.py --start-stack         structure + live checks against a private stack
Exit status 0 when every check passed, 1 otherwise.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DASHBOARD_DIR = os.path.join(REPO_ROOT, "dashboards")
GOLDEN = os.path.join(REPO_ROOT, "tests", "fixtures", "golden", "host1.prom")
# The rule files the live stack's Prometheus evaluates: the dashboards draw the anomaly
# recordings and the alerts firing (ALERTS) as the rules judge them.
RULE_FILES = [os.path.join(REPO_ROOT, "rules", name)
              for name in ("connwatch_rules.yaml", "connwatch_alerts.yaml")]

# file name -> fixed uid
DASHBOARDS = {
    "connwatch-overview.json": "connwatch-overview",
    "connwatch-host.json": "connwatch-host",
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
JOB_QUERY = "label_values(connwatch_build_info, job)"
INSTANCE_QUERY = 'label_values(connwatch_build_info{job=~"$job"}, instance)'
# The host dashboard's Kubernetes variables: the owner's namespace and pod, from the
# listeners of the selected host; All (".*", the default) keeps the host's own processes,
# whose namespace and pod are empty (a regex of the pod names alone would hide them).
NAMESPACE_QUERY = 'label_values(connwatch_listener_info{job=~"$job",instance=~"$instance"}, namespace)'
POD_QUERY = ('label_values(connwatch_listener_info{job=~"$job",instance=~"$instance",'
             'namespace=~"$namespace"}, pod)')
POD_MATCHERS = 'namespace=~"$namespace",pod=~"$pod"'
POD_LABELS = ("namespace", "pod", "container")
# The connection events' families (issue 15), which the dashboards' "Connection events"
# panels show: their type and the labels the panels group and filter by. The exporter must
# export every one of them (the golden exposition holds them) and the private stack below
# makes each non-empty (a short connection no path allows, a refused connect).
EVENT_FAMILIES = {
    "connwatch_connections_opened_total": ("counter", ("process", "direction", "remote_zone")
                                           + POD_LABELS),
    "connwatch_connections_failed_total": ("counter", ("process", "remote_zone") + POD_LABELS),
    "connwatch_tcp_bytes_total": ("counter", ("process", "direction", "remote_zone", "flow")
                                  + POD_LABELS),
    "connwatch_finding_events_total": ("counter", ("check", "process", "direction",
                                                   "remote_zone") + POD_LABELS),
    "connwatch_events_source_info": ("gauge", ("source",)),
    "connwatch_events_lost_total": ("counter", ("source",)),
}
# The detections' families (issue 16), which the "Alerts and detections" panels show, as
# EVENT_FAMILIES: the exporter must export each, and the private stack make each non-empty.
DETECTION_FAMILIES = {
    "connwatch_beacons": ("gauge", ("process", "remote_zone") + POD_LABELS),
    "connwatch_beacon_score": ("gauge", ("process", "remote_address", "remote_port",
                                         "remote_zone") + POD_LABELS),
    "connwatch_outbound_scan_targets": ("gauge", ("process", "remote_zone") + POD_LABELS),
    "connwatch_inbound_probes_total": ("counter", ("remote_zone",)),
}


def recorded_names():
    """The series names the recording rules of rules/connwatch_rules.yaml write."""
    with open(RULE_FILES[0], encoding="utf-8") as f:
        return set(re.findall(r"^\s*- record: (\S+)\s*$", f.read(), re.M))


# Families with the owner's namespace/pod/container: the host dashboard filters them by its
# variables, and its tables and aggregations keep those labels. The recordings per process
# keep them too.
POD_FAMILIES = {"connwatch_finding_info", "connwatch_listener_info",
                "connwatch_process_connections", "connwatch_connection_max_age_seconds",
                "connwatch_long_connections", "connwatch_path_violations",
                "connwatch_unexpected_network_process_sockets"} | {
                    name for name, (_, labels) in EVENT_FAMILIES.items() if "pod" in labels} | {
                    name for name, (_, labels) in DETECTION_FAMILIES.items() if "pod" in labels} | {
                    name for name in recorded_names() if name.startswith("connwatch:process_")}
# (dashboard, panel title) -> the columns its table must show.
TABLE_COLUMNS = {
    ("connwatch-host.json", "Findings"): ("netns",) + POD_LABELS,
    ("connwatch-host.json", "Listeners"): ("netns",) + POD_LABELS,
    ("connwatch-host.json", "Connections now"): POD_LABELS,
    ("connwatch-host.json", "Oldest connections"): POD_LABELS,
    ("connwatch-overview.json", "Unexpected listener sockets"): ("netns",) + POD_LABELS,
    ("connwatch-overview.json", "Longest connections"): POD_LABELS,
    ("connwatch-overview.json", "Findings by pod"): POD_LABELS,
    ("connwatch-host.json", "Ended connections held as findings"): ("netns",) + POD_LABELS,
    ("connwatch-overview.json", "Ended connections held as findings by host"):
        ("netns",) + POD_LABELS,
    ("connwatch-host.json", "Connwatch alerts firing now"): POD_LABELS,
    ("connwatch-overview.json", "Connwatch alerts firing now"): POD_LABELS,
    ("connwatch-host.json", "Beacon scores"): POD_LABELS,
    ("connwatch-overview.json", "Beacon scores"): POD_LABELS,
    ("connwatch-host.json", "Outbound scan targets"): POD_LABELS,
    ("connwatch-overview.json", "Outbound scan targets"): POD_LABELS,
}
# Metrics a dashboard may use besides the exporter's own: Prometheus's, and the series of
# the recording rules (evaluated by the live stack's Prometheus).
EXTRA_METRICS = {"up", "ALERTS"} | recorded_names()
TIME_UNITS = {"s", "ms", "us", "ns", "m", "h", "d", "dtdurations", "dtdurationms", "clocks",
              "clockms"}
# Values substituted for Grafana's built-in interval variables in live checks.
BUILTIN_VARS = {
    "__rate_interval": "1m", "__interval": "1m", "__range": "5m", "__interval_ms": "60000",
    "__range_s": "300", "__range_ms": "300000",
}
# PromQL functions and keywords, to tell them from metric names.
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "rate", "irate", "increase", "delta", "idelta",
    "time", "vector", "scalar", "abs", "absent", "absent_over_time", "clamp_min", "clamp_max",
    "max_over_time", "min_over_time", "avg_over_time", "sum_over_time", "count_over_time",
    "last_over_time", "label_replace", "label_join", "sort", "sort_desc", "timestamp",
    "changes", "resets", "deriv", "predict_linear", "histogram_quantile", "round", "ceil",
    "floor", "label_values", "query_result", "inf", "nan", "stddev_over_time",
    "quantile_over_time", "present_over_time", "days_in_month", "day_of_month", "hour", "year",
}
COUNTER_WRAPPERS = ("rate(", "irate(", "increase(", "resets(")

# The pod the private stack's rogue holder runs in (a Deployment's pod name).
POD_NAME = "web-7d9f8b6c5d-x2k4q"
# The pod's own network namespace, linked by a veth pair to the stack's: the stack's end and
# the pod's address, in a /30 no other test uses (10.x: the built-in "internal" zone). The
# detections need a peer that is not loopback (loopback is never beacon-scored nor an
# inbound scan).
STACK_ADDR, POD_ADDR = "10.237.1.1", "10.237.1.2"

# Set by main(): the Prometheus base URL for live checks and how long to retry them.
LIVE = {"url": None, "settle": 0.0}


# ---------------------------------------------------------------------------------------------
# Loading


def load_dashboard(name):
    with open(os.path.join(DASHBOARD_DIR, name), encoding="utf-8") as f:
        return json.load(f)


def iter_panels(panels):
    """Every panel, rows and the panels nested in (collapsed) rows included."""
    for panel in panels or []:
        yield panel
        yield from iter_panels(panel.get("panels"))


def variables(dashboard):
    return {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}


def variable_query(var):
    q = var.get("query")
    if isinstance(q, dict):
        q = q.get("query")
    return q


def golden_families():
    """{family name: type} from the golden exposition, which holds every family."""
    families = {}
    with open(GOLDEN, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"# TYPE (\S+) (\S+)", line)
            if m:
                families[m.group(1)] = m.group(2)
    return families


def golden_label_names():
    """{family name: set of label names on its samples} from the golden exposition."""
    names = {}
    with open(GOLDEN, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} \S+$", line.rstrip("\n"))
            if m:
                labels = set(re.findall(r'(\w+)="(?:[^"\\]|\\.)*"', m.group(2)))
                names.setdefault(m.group(1), set()).update(labels)
    return names


def strip_strings(expr):
    """The expr with string literals emptied (label values are not metric names)."""
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_names(expr):
    """Metric names used in a PromQL expr (best effort: identifiers that are not label names,
    functions, keywords or durations)."""
    text = strip_strings(expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)  # ranges
    names = set()
    for m in re.finditer(r"(?<![\w$])([a-zA-Z_:][a-zA-Z0-9_:]*)", text):
        word = m.group(1)
        if word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def selectors(expr):
    """(metric, matchers text) for every `metric{...}` or bare metric in expr."""
    out = []
    text = expr
    for name in metric_names(expr):
        for m in re.finditer(r"(?<![\w$])" + re.escape(name) + r"(?![\w:])(\s*\{([^}]*)\})?", text):
            out.append((name, m.group(2) or ""))
    return out


def all_targets(dashboard):
    """(panel, target) for every target of every panel."""
    for panel in iter_panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            yield panel, target


# ---------------------------------------------------------------------------------------------
# Structure


class StructureTest(unittest.TestCase):
    maxDiff = None

    def each_dashboard(self):
        out = []
        for name, uid in DASHBOARDS.items():
            try:
                dashboard = load_dashboard(name)
            except (OSError, json.JSONDecodeError) as e:
                self.fail(f"{name}: not readable JSON: {e}")
            out.append((name, uid, dashboard))
        return out

    def test_valid_json_and_fixed_uid(self):
        for name, uid, d in self.each_dashboard():
            self.assertIsInstance(d, dict, name)
            self.assertEqual(d.get("uid"), uid, f"{name}: uid")
            self.assertTrue(d.get("title"), f"{name}: title")
            self.assertIsInstance(d.get("schemaVersion"), int, f"{name}: schemaVersion")
            self.assertGreaterEqual(d["schemaVersion"], 36, f"{name}: schemaVersion")
            self.assertIsNone(d.get("id"), f"{name}: id must be null (import assigns it)")
            self.assertIsInstance(d.get("panels"), list, f"{name}: panels")
            self.assertTrue(d["panels"], f"{name}: no panels")

    def test_variables(self):
        for name, _, d in self.each_dashboard():
            vs = variables(d)
            ds = vs.get("datasource")
            self.assertIsNotNone(ds, f"{name}: no datasource variable")
            self.assertEqual((ds.get("type"), ds.get("query")), ("datasource", "prometheus"),
                             f"{name}: datasource variable")
            job, instance = vs.get("job"), vs.get("instance")
            self.assertIsNotNone(job, f"{name}: no job variable")
            self.assertIsNotNone(instance, f"{name}: no instance variable")
            self.assertEqual(variable_query(job), JOB_QUERY, f"{name}: job query")
            self.assertEqual(variable_query(instance), INSTANCE_QUERY, f"{name}: instance query")
            names = [v.get("name") for v in d["templating"]["list"]]
            self.assertEqual(len(names), len(set(names)), f"{name}: duplicate variables {names}")
            # Grafana resolves variables in order: the ones used by a query come first.
            self.assertLess(names.index("datasource"), names.index("job"), name)
            self.assertLess(names.index("job"), names.index("instance"), name)
            for v in d["templating"]["list"]:
                if v.get("type") == "query":
                    self.assertEqual(v.get("datasource"), DATASOURCE,
                                     f"{name}: variable {v.get('name')} datasource")
                    self.assertTrue(variable_query(v), f"{name}: variable {v.get('name')} query")

    def test_host_namespace_and_pod_variables(self):
        d = load_dashboard("connwatch-host.json")
        vs = variables(d)
        names = [v.get("name") for v in d["templating"]["list"]]
        for vname, query in (("namespace", NAMESPACE_QUERY), ("pod", POD_QUERY)):
            var = vs.get(vname)
            self.assertIsNotNone(var, f"connwatch-host.json: no {vname} variable")
            self.assertEqual(variable_query(var), query, f"{vname} query")
            self.assertEqual((var.get("type"), var.get("includeAll"), var.get("allValue")),
                             ("query", True, ".*"),
                             f"{vname}: a query variable with All = .* (the host's empty "
                             f"{vname} must match)")
            self.assertEqual((var.get("current") or {}).get("value"), ["$__all"],
                             f"{vname}: All by default")
        self.assertLess(names.index("instance"), names.index("namespace"))
        self.assertLess(names.index("namespace"), names.index("pod"))

    def test_pod_families_keep_and_filter_the_pod(self):
        for name, _, d in self.each_dashboard():
            host = name == "connwatch-host.json"
            for panel, target in all_targets(d):
                expr = target.get("expr") or ""
                where = f"{name}: panel {panel.get('title')!r}: {expr}"
                for metric, matchers in selectors(expr):
                    if metric not in POD_FAMILIES:
                        continue
                    if host:
                        self.assertIn(POD_MATCHERS, matchers, f"{where}: not filtered by pod")
                    for m in re.finditer(r"\b(sum|max|min|avg|count)\s+by\s*\(([^)]*)\)", expr):
                        by = {x.strip() for x in m.group(2).split(",")}
                        if "process" in by:  # per process: per pod too
                            self.assertLessEqual(set(POD_LABELS), by,
                                                 f"{where}: aggregates the pod away")

    def test_tables_show_netns_and_pod_columns(self):
        found = set()
        for name, _, d in self.each_dashboard():
            for panel in iter_panels(d["panels"]):
                want = TABLE_COLUMNS.get((name, panel.get("title")))
                if want is None:
                    continue
                found.add((name, panel["title"]))
                self.assertEqual(panel.get("type"), "table", panel["title"])
                organize = [t for t in panel.get("transformations") or []
                            if t.get("id") == "organize"]
                self.assertEqual(len(organize), 1, f"{name}: {panel['title']}: one organize")
                options = organize[0]["options"]
                for column in want:
                    self.assertIn(column, options.get("indexByName", {}),
                                  f"{name}: {panel['title']}: no {column} column")
                    self.assertFalse(options.get("excludeByName", {}).get(column),
                                     f"{name}: {panel['title']}: {column} hidden")
                for target in panel.get("targets") or []:
                    expr = target.get("expr", "")
                    by = re.search(r"\bby\s*\(([^)]*)\)", expr)
                    if by:  # an aggregation must keep the columns it shows
                        kept = {x.strip() for x in by.group(1).split(",")}
                        self.assertLessEqual(set(want) - {"netns"}, kept,
                                             f"{name}: {panel['title']}: {expr}")
        self.assertEqual(found, set(TABLE_COLUMNS), "tables named in TABLE_COLUMNS missing")

    def test_every_panel_and_target_uses_the_datasource_variable(self):
        for name, _, d in self.each_dashboard():
            for panel in iter_panels(d["panels"]):
                where = f"{name}: panel {panel.get('id')} {panel.get('title')!r}"
                self.assertEqual(panel.get("datasource"), DATASOURCE, f"{where}: datasource")
                if panel.get("type") == "row":
                    self.assertFalse(panel.get("targets"), f"{where}: a row with targets")
                    continue
                self.assertTrue(panel.get("targets"), f"{where}: no targets")
                for target in panel["targets"]:
                    self.assertEqual(target.get("datasource"), DATASOURCE,
                                     f"{where}: target {target.get('refId')} datasource")

    def test_unique_panel_ids_and_layout(self):
        for name, _, d in self.each_dashboard():
            ids = [p.get("id") for p in iter_panels(d["panels"])]
            for i in ids:
                self.assertIsInstance(i, int, f"{name}: panel id {i!r}")
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            self.assertEqual(dupes, [], f"{name}: duplicate panel ids")
            titles = [p.get("title") for p in iter_panels(d["panels"])]
            for panel in iter_panels(d["panels"]):
                where = f"{name}: panel {panel.get('id')} {panel.get('title')!r}"
                self.assertTrue(panel.get("title"), f"{where}: no title")
                self.assertEqual(titles.count(panel["title"]), 1, f"{where}: title not unique")
                gp = panel.get("gridPos") or {}
                for key in ("h", "w", "x", "y"):
                    self.assertIsInstance(gp.get(key), int, f"{where}: gridPos.{key}")
                self.assertLessEqual(gp["x"] + gp["w"], 24, f"{where}: wider than the grid")
            for row in (p for p in d["panels"] if p.get("type") == "row"):
                if not row.get("collapsed"):
                    self.assertEqual(row.get("panels"), [],
                                     f"{name}: open row {row['title']!r} must not nest panels")

    def test_every_target_has_a_scoped_expr(self):
        for name, _, d in self.each_dashboard():
            for panel, target in all_targets(d):
                where = f"{name}: panel {panel.get('title')!r} target {target.get('refId')}"
                expr = target.get("expr")
                self.assertIsInstance(expr, str, f"{where}: no expr")
                self.assertTrue(expr.strip(), f"{where}: empty expr")
                self.assertTrue(target.get("refId"), f"{where}: no refId")
                for metric, matchers in selectors(expr):
                    self.assertIn('job=~"$job"', matchers,
                                  f"{where}: {metric} not scoped by job=~\"$job\": {expr}")
                    self.assertIn('instance=~"$instance"', matchers,
                                  f"{where}: {metric} not scoped by instance=~\"$instance\": "
                                  f"{expr}")
            for panel in iter_panels(d["panels"]):
                refs = [t.get("refId") for t in panel.get("targets") or []]
                self.assertEqual(len(refs), len(set(refs)),
                                 f"{name}: panel {panel.get('title')!r}: duplicate refIds")

    def test_metrics_exist_in_the_exposition(self):
        families = golden_families()
        self.assertIn("connwatch_finding_info", families, "golden exposition unreadable")
        for name, _, d in self.each_dashboard():
            exprs = [(f"panel {p.get('title')!r}", t.get("expr") or "") for p, t in all_targets(d)]
            for v in d["templating"]["list"]:
                if v.get("type") == "query":
                    query = variable_query(v) or ""
                    m = LABEL_VALUES.match(query)
                    exprs.append((f"variable {v.get('name')}",
                                  (m.group(1) or "") if m else query))
            for where, expr in exprs:
                for metric in metric_names(expr):
                    self.assertTrue(metric in families or metric in EXTRA_METRICS,
                                    f"{name}: {where}: unknown metric {metric} in {expr}")
                    if families.get(metric) == "counter":
                        for m in re.finditer(re.escape(metric), expr):
                            before = expr[:m.start()].rstrip()
                            self.assertTrue(before.endswith(COUNTER_WRAPPERS),
                                            f"{name}: {where}: counter {metric} used without "
                                            f"rate()/increase(): {expr}")

    def test_connection_event_families_in_the_exposition(self):
        """The families the connection-event panels need, with their type and labels, are in
        the golden exposition (the exporter's connection events, issue 15)."""
        families, labels = golden_families(), golden_label_names()
        for name, (kind, want) in EVENT_FAMILIES.items():
            with self.subTest(family=name):
                self.assertEqual(families.get(name), kind,
                                 f"{name}: type in {GOLDEN} (missing: the exporter does not "
                                 f"export the connection events yet)")
                self.assertLessEqual(set(want), labels.get(name, set()),
                                     f"{name}: labels the dashboards use")

    def test_detection_families_in_the_exposition(self):
        """The families the detection panels need, with their type and labels, are in the
        golden exposition (the exporter's beacons and scans, issue 16)."""
        families, labels = golden_families(), golden_label_names()
        for name, (kind, want) in DETECTION_FAMILIES.items():
            with self.subTest(family=name):
                self.assertEqual(families.get(name), kind,
                                 f"{name}: type in {GOLDEN} (missing: the exporter does not "
                                 f"export the beacon and scan detections yet)")
                self.assertLessEqual(set(want), labels.get(name, set()),
                                     f"{name}: labels the dashboards use")

    def test_seconds_have_time_units(self):
        duration = re.compile(r"connwatch_\w*(age|duration)_seconds|time\(\)\s*-")
        for name, _, d in self.each_dashboard():
            for panel in iter_panels(d["panels"]):
                exprs = [t.get("expr") or "" for t in panel.get("targets") or []]
                if not exprs or not all(duration.search(e) for e in exprs):
                    continue
                if all(re.match(r"\s*count\(", e) for e in exprs):
                    continue  # counting hosts, not seconds
                fc = panel.get("fieldConfig") or {}
                units = {(fc.get("defaults") or {}).get("unit")}
                for o in fc.get("overrides") or []:
                    units |= {p.get("value") for p in o.get("properties") or []
                              if p.get("id") == "unit"}
                self.assertTrue(units & TIME_UNITS,
                                f"{name}: panel {panel.get('title')!r} shows seconds with units "
                                f"{units - {None}}")


# ---------------------------------------------------------------------------------------------
# Live


def prom_get(base, path, params):
    url = base.rstrip("/") + path + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url, timeout=15) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        body = e.read()
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        raise AssertionError(f"GET {url}: not JSON: {body[:300]!r}")
    if data.get("status") != "success":
        raise AssertionError(f"GET {url}: {data.get('errorType')}: {data.get('error')}")
    return data["data"]


def regex_escape(value):
    """Grafana's escaping of a variable value inside a Prometheus =~ "..." matcher."""
    escaped = re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\1", value)
    return escaped.replace("\\", "\\\\").replace('"', '\\"')


def substitute(expr, values):
    """Replaces $var, ${var}, ${var:fmt} and [[var]] by values[var]; unknown ones stay."""
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return values.get(name, m.group(0))
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", repl, expr)


LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*?)\s*,\s*)?(\w+)\s*\)\s*$", re.S)


def run_variable_query(base, query):
    m = LABEL_VALUES.match(query)
    if m:
        params = {}
        if m.group(1):
            params["match[]"] = m.group(1)
        return prom_get(base, f"/api/v1/label/{m.group(2)}/values", params)
    data = prom_get(base, "/api/v1/query", {"query": query})
    return [json.dumps(r.get("metric", {}), sort_keys=True) for r in data["result"]]


def resolve_variables(base, dashboard, failures, name):
    """Runs the variable queries in order; returns the substitution values."""
    values = dict(BUILTIN_VARS)
    for var in dashboard.get("templating", {}).get("list", []):
        vname = var.get("name")
        if var.get("type") == "datasource":
            values[vname] = "prometheus"
            continue
        if var.get("type") != "query":
            continue
        query = substitute(variable_query(var), values)
        try:
            result = run_variable_query(base, query)
        except (AssertionError, OSError) as e:
            failures.append(f"{name}: variable {vname}: {query}: {e}")
            continue
        if not result and var.get("includeAll") and var.get("allValue"):
            # Grafana offers only All then: a host without pods has no pod to choose.
            values[vname] = var["allValue"]
            continue
        if not result:
            failures.append(f"{name}: variable {vname}: empty result for {query}")
            continue
        chosen = sorted(result) if var.get("multi") or var.get("includeAll") else sorted(result)[:1]
        escaped = [regex_escape(v) for v in chosen]
        values[vname] = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    return values


def live_failures(base, name, dashboard):
    failures = []
    values = resolve_variables(base, dashboard, failures, name)
    if failures:
        return failures
    now = time.time()
    for panel, target in all_targets(dashboard):
        expr = substitute(target.get("expr", ""), values)
        where = f"{name}: panel {panel.get('title')!r} target {target.get('refId')}: {expr}"
        if re.search(r"\$\{?\w|\[\[\w", expr):
            failures.append(f"{where}: variable left unsubstituted")
            continue
        try:
            data = prom_get(base, "/api/v1/query", {"query": expr})
            if data["resultType"] in ("vector", "matrix") and not data["result"]:
                failures.append(f"{where}: empty result")
                continue
            if not target.get("instant"):
                data = prom_get(base, "/api/v1/query_range",
                                {"query": expr, "start": f"{now - 30:.3f}", "end": f"{now:.3f}",
                                 "step": "2"})
                if not data["result"]:
                    failures.append(f"{where}: empty range result")
        except (AssertionError, OSError) as e:
            failures.append(f"{where}: {e}")
    return failures


class LiveTest(unittest.TestCase):
    def setUp(self):
        if not LIVE["url"]:
            self.skipTest("no Prometheus: give --prometheus URL, PROMETHEUS_URL or --start-stack")

    def check(self, file_name):
        dashboard = load_dashboard(file_name)
        deadline = time.monotonic() + LIVE["settle"]
        while True:
            failures = live_failures(LIVE["url"], file_name, dashboard)
            if not failures or time.monotonic() >= deadline:
                break
            time.sleep(1)
        if failures:
            self.fail(f"{len(failures)} queries failed against {LIVE['url']}:\n  " +
                      "\n  ".join(failures))

    def test_overview_queries_return_data(self):
        self.check("connwatch-overview.json")

    def test_host_queries_return_data(self):
        self.check("connwatch-host.json")

    def test_an_empty_result_fails(self):
        """The live check itself: a query for a label value nobody has is reported."""
        dashboard = load_dashboard("connwatch-overview.json")
        bogus = 'sum(connwatch_listener_info{job=~"$job",instance=~"$instance",expected="maybe"})'
        dashboard["panels"] = [{"id": 1, "type": "stat", "title": "Bogus", "datasource": DATASOURCE,
                                "targets": [{"refId": "A", "datasource": DATASOURCE,
                                             "expr": bogus, "instant": True}]}]
        failures = live_failures(LIVE["url"], "self-test", dashboard)
        self.assertEqual(len(failures), 1, failures)
        self.assertIn("self-test: panel 'Bogus' target A: sum(connwatch_listener_info{job=~",
                      failures[0])
        self.assertTrue(failures[0].endswith("empty result"), failures[0])


# ---------------------------------------------------------------------------------------------
# The private stack


class Stack:
    """connwatch + sockholders + Prometheus in a private network namespace on 127.0.0.1, and
    a pod's namespace linked to it (STACK_ADDR, POD_ADDR), removed with the stack."""

    def __init__(self):
        import tempfile
        build = os.path.join(REPO_ROOT, "build")
        os.environ.setdefault("CONNWATCH_BIN", os.path.join(build, "connwatch"))
        holder = os.path.join(build, "tests", "sockholder")
        if "SOCKHOLDER_BIN" not in os.environ and os.access(holder, os.X_OK):
            os.environ["SOCKHOLDER_BIN"] = holder
        sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "e2e"))
        import cgroups
        import connwatch_harness as h
        import netns  # before enter_private_netns: it remembers the namespace started in
        self.h = h
        self.cgroups = cgroups
        self.netns = netns
        self.lab = None
        self.tmp = tempfile.TemporaryDirectory(prefix="cw-dashboards-")
        self.holders = []
        self.cw = None
        self.pod_cgroup = None
        self.prom = None

    def exe(self, name):
        directory = os.path.join(self.tmp.name, "bin")
        os.makedirs(directory, exist_ok=True)
        if not os.path.exists(os.path.join(directory, name)):
            self.h.install_executable(directory, name)
        return os.path.join(directory, name)

    def start(self):
        h = self.h
        self.netns.install_watchdog(120)  # h's, and it deletes the pod's namespace
        h.enter_private_netns()
        web_port = h.free_tcp_port()
        down_port = h.free_tcp_port()
        # An allowed, expected web server...
        self.holders.append(h.Holder(self.exe("cw-dash-web"),
                                     ["--tcp-listen", f"127.0.0.1:{web_port}"]))
        # ...and a rogue: a listener no rule allows, not a network process, with an
        # established loopback pair no path allows that becomes a long connection after 1 s.
        self.holders.append(h.Holder(self.exe("cw-dash-rogue"),
                                     ["--tcp-listen", "127.0.0.1:0", "--pair"]))
        # Its binary deleted once it runs: a deleted_executable finding.
        os.unlink(self.exe("cw-dash-rogue"))
        # It runs in a pod: a Kubernetes-shaped cgroup v2 directory (containerd, systemd
        # driver) and the container's bundle under --path.rootfs name shop/POD/nginx, so the
        # namespace and pod variables have values and the pod filter selects its findings.
        self.rootfs = os.path.join(self.tmp.name, "rootfs")
        self.pod_cgroup = self.into_pod(self.holders[-1].pid)
        with open("/proc/self/comm") as f:
            me = f.read().strip()
        policy = h.write_file(self.tmp.name, "policy.yaml", f"""\
listeners:
  - {{process: connwatch, bind: loopback}}
  - {{process: prometheus, bind: loopback}}
  - {{process: cw-dash-web, port: {web_port}, protocol: tcp}}
  - {{process: cw-dash-app, protocol: tcp}}
expected_services:
  - {{name: web, port: {web_port}, protocol: tcp, process: cw-dash-web}}
  - {{name: db, port: {down_port}, protocol: tcp, process: cw-dash-db}}
network_processes: [connwatch, prometheus, cw-dash-web, cw-dash-app, {json.dumps(me)}]
# Prometheus inbound: this check's own queries, each a short connection that would otherwise
# be a held path_violation finding and, a few hundred queries on, push the stack's real
# findings past --findings.max-series.
paths:
  - {{process: prometheus, direction: outbound, remote_zone: loopback}}
  - {{process: prometheus, direction: inbound, remote_zone: loopback}}
  - {{process: connwatch, direction: inbound, remote_zone: loopback}}
  - {{process: {json.dumps(me)}, direction: outbound, remote_zone: loopback}}
  - {{process: {json.dumps(me)}, direction: outbound, remote_zone: internal}}
  - {{process: cw-dash-app, direction: inbound, remote_zone: internal}}
# The detections within seconds: the beacon below makes 16 connections in 4 s, the scan 60
# failed connects to 60 closed ports of one peer.
limits:
  long_connection: 1s
  beacon: {{window: 1m, min_connections: 12, min_score: 0.8}}
  scan: {{targets: 40, ports: 20}}
baseline:
  learn_for: 0s
""")
        storage = os.path.join(self.tmp.name, "storage")
        os.mkdir(storage)
        # The connection events from eBPF (the harness turns them off unless asked): the
        # failed connects and the short connection below never live through a sample, the
        # beacon's starts are exact, and only eBPF sees probes of closed ports.
        # Every namespace (the harness reads only its own unless asked): the inbound scan's
        # pod is the one whose socket connwatch sees in the probed namespace. That brings in
        # the machine's other namespaces too, and their findings: room for them all.
        self.cw = h.Connwatch(f"--config.file={policy}", f"--storage.path={storage}",
                              f"--path.rootfs={self.rootfs}", "--collect.events=ebpf",
                              "--collector.netns=all", "--findings.max-series=2000",
                              interval="1s").start()
        self.prom = h.Prometheus([f"127.0.0.1:{self.cw.port}"], job="connwatch",
                                 scrape_interval="1s", rule_files=RULE_FILES).start()
        self.connection_events(web_port, down_port)

        def ready():
            got = self.prom.query('count by (check) (connwatch_finding_info{check=~".+"})')
            checks = {r["metric"].get("check") for r in got}
            want = {"unexpected_listener", "expected_service_down", "unexpected_network_process",
                    "path_violation", "long_connection", "deleted_executable", "beacon",
                    "outbound_scan", "inbound_scan"}
            assert want <= checks, f"findings so far: {sorted(checks)}"
            if self.pod_cgroup:
                assert self.prom.query(f'connwatch_finding_info{{pod="{POD_NAME}"}}'), "no pod"
                assert self.prom.query(f'connwatch_finding_info{{check="inbound_scan",'
                                       f'pod="{POD_NAME}"}}'), "no inbound scan of the pod"
            assert self.prom.query("rate(connwatch_samples_total[1m])"), "no rate yet"
            # The rules evaluate (every second, as the scrape): the recordings the anomaly
            # panels draw, and an alert without `for` firing (the short connection below).
            assert self.prom.query("connwatch:process_tcp_bytes_sent:rate5m_stddev_over_time_1d"), \
                "no recordings yet"
            assert self.prom.query('ALERTS{alertstate="firing"}'), "no alert firing yet"
            return True

        h.wait_until(ready, 30, "every kind of finding in Prometheus", interval=0.5)
        return self

    def connection_events(self, web_port, closed_port):
        """What the connection-event panels show, made once connwatch watches, inside the pod
        (the host dashboard's live check selects the pod): a connection that opens and closes
        at once, by a process neither network_processes nor paths allow (opened, per-
        connection findings, a finding held after it ended), bytes sent to the web listener,
        and connects to a port nobody listens on (failed); then a beacon and a scan."""
        # It listens too, as a pod's process would: its closed connection is the pod's
        # through the live socket it owns.
        self.holders.append(self.h.Holder(self.exe("cw-dash-beacon"),
                                          ["--time-wait=127.0.0.1", "--tcp-listen", "127.0.0.1:0"],
                                          prefix=self.in_pod()))
        script = f"""
import socket
for port, data in (({closed_port}, None), ({closed_port}, None), ({web_port}, b"x" * 20000)):
    with socket.create_connection(("127.0.0.1", port), timeout=5) if data else socket.socket() as s:
        if data:
            s.sendall(data)
            continue
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            continue
        raise SystemExit(f"127.0.0.1:{{port}} accepted a connection")
"""
        subprocess.run(self.in_pod() + [sys.executable, "-c", script], check=True, timeout=30)
        # The detection panels (issue 16), from the pod too, to the pod's own namespace (not
        # loopback): a client calling the pod's listener there on a strict 0.25 s rhythm, more
        # connections than limits.beacon.min_connections within its window (a beacon), then
        # connects to 60 distinct closed ports there (an outbound scan of the client, and
        # probes from STACK_ADDR of ports nobody listens on in the pod's namespace: an inbound
        # scan, whose pod is the one whose socket connwatch sees in that namespace).
        app_port = self.pod_listener()
        detections = f"""
import socket, time
for _ in range(16):
    socket.create_connection(("{POD_ADDR}", {app_port}), timeout=5).close()
    time.sleep(0.25)
for port in range(1024, 1084):
    with socket.socket() as s:
        try:
            s.connect(("{POD_ADDR}", port))
        except ConnectionRefusedError:
            continue
        raise SystemExit(f"{POD_ADDR}:{{port}} accepted a connection")
"""
        subprocess.run(self.in_pod() + [sys.executable, "-c", detections], check=True, timeout=30)

    def pod_listener(self):
        """The pod's own network namespace, linked to the stack's, with a listener in it owned
        by a process of the pod (which accepts, so no backlog fills); returns its port."""
        netns = self.netns
        self.lab = netns.Lab()
        name = self.lab.add_namespace("pod")
        self.lab.link(name, [f"{STACK_ADDR}/30"], [f"{POD_ADDR}/30"])
        app = self.h.Holder(self.exe("cw-dash-app"),
                            [f"--netns-inode={netns.netns_inode(name)}", "--accept",
                             "--tcp-listen", f"{POD_ADDR}:0"],
                            prefix=self.in_pod() + netns.exec_prefix(name))
        self.holders.append(app)
        return app.ready["tcp_listen"][0]["port"]

    def in_pod(self):
        """A command prefix that runs what follows inside the pod's container cgroup (from its
        first instruction: connections are attributed at connect), none without a pod."""
        if not self.pod_cgroup:
            return []
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.pod_cgroup]

    def into_pod(self, pid):
        """Moves pid into a pod's container cgroup; None (no pod) without a cgroup2 mount."""
        import uuid
        cgroups = self.cgroups
        mount = cgroups.mount()
        if mount is None:
            sys.stderr.write("check_dashboards: no cgroup2: the stack has no pod\n")
            return None
        pod_uid = str(uuid.uuid5(uuid.NAMESPACE_URL, POD_NAME))
        container_id = cgroups.hex_id(POD_NAME)
        cgroups.bundle(os.path.join(self.rootfs, "run/containerd/io.containerd.runtime.v2.task/k8s.io",
                                    container_id), {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.sandbox-name": POD_NAME,
            "io.kubernetes.cri.sandbox-namespace": "shop",
            "io.kubernetes.cri.sandbox-uid": pod_uid,
            "io.kubernetes.cri.container-name": "nginx"})
        self.cgroup_home = os.path.join(mount, cgroups.own().lstrip("/"))
        self.cgroup_made = []
        pod_slice = "kubepods-besteffort-pod" + pod_uid.replace("-", "_") + ".slice"
        path = cgroups.make(os.path.join(mount, f"cw-dashboards-{os.getpid()}"),
                            f"kubepods.slice/kubepods-besteffort.slice/{pod_slice}/"
                            f"cri-containerd-{container_id}.scope", self.cgroup_made)
        cgroups.move(pid, path)
        return path

    def stop(self):
        for holder in self.holders:
            if getattr(self, "pod_cgroup", None):  # out of the pod first, then removable
                self.cgroups.move(holder.pid, self.cgroup_home, missing_ok=True)
            holder.stop()
        if getattr(self, "cgroup_made", None):
            self.cgroups.remove(self.cgroup_made)
        if self.lab is not None:
            self.lab.close()
        if self.prom is not None:
            self.prom.stop()
        if self.cw is not None:
            self.cw.stop()
        self.h.kill_all_children()
        self.tmp.cleanup()


def main():
    global DASHBOARD_DIR
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prometheus", default=os.environ.get("PROMETHEUS_URL"),
                    help="Prometheus base URL for the live checks (env PROMETHEUS_URL)")
    ap.add_argument("--start-stack", action="store_true",
                    help="start connwatch + Prometheus privately and run the live checks")
    ap.add_argument("--dashboards-dir", default=DASHBOARD_DIR,
                    help="where the dashboards are (default: <repo>/dashboards)")
    ap.add_argument("--settle", type=float, default=None,
                    help="retry failing live checks for this many seconds (default 0, or 15 "
                         "with --start-stack)")
    args, rest = ap.parse_known_args()
    DASHBOARD_DIR = os.path.abspath(args.dashboards_dir)
    stack = None
    started = time.monotonic()
    try:
        if args.start_stack:
            stack = Stack()
            try:
                stack.start()
            except BaseException as e:
                sys.stderr.write(f"check_dashboards: the stack did not start: {e}\n")
                if stack.cw is not None:
                    sys.stderr.write(f"connwatch log:\n{stack.cw.log()[-3000:]}\n")
                if stack.prom is not None:
                    sys.stderr.write(f"prometheus log:\n{stack.prom.log()[-3000:]}\n")
                return 1
            LIVE["url"] = stack.prom.url
            LIVE["settle"] = 15.0 if args.settle is None else args.settle
            sys.stderr.write(f"check_dashboards: stack up in {time.monotonic() - started:.1f} s "
                             f"(Prometheus {stack.prom.url}, connwatch {stack.cw.url})\n")
        elif args.prometheus:
            LIVE["url"] = args.prometheus
            LIVE["settle"] = args.settle or 0.0
        prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
        ok = prog.result.wasSuccessful()
    finally:
        if stack is not None:
            stack.stop()
    sys.stderr.write(f"check_dashboards: {'ok' if ok else 'FAILED'} in "
                     f"{time.monotonic() - started:.1f} s\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
