#!/usr/bin/env python3
"""Benchmark driver: connwatch against `ss` and node_exporter on loopback socket farms.

Not a test (ctest does not run it). Each case runs on sockfarm loads (tests/bench/sockfarm.c,
built by CMake: N established loopback connections = 2N sockets, spread over P processes),
and everything a ratio compares is measured side by side on the same farm in the same run:

  sample  cold and steady samples (tests/bench/connwatch_bench --mode=cold/steady: core path
          and the full Sampler path) against `ss -tanp` and `ss -tan`; the steady sample's
          owners are checked against cold samples (any mismatch fails the run, exit 3).
          Default farms: 1k, 10k, 50k, 100k connections x 100 and 1,000 processes.
  node    a node_exporter tcpstat scrape (prometheus-node-exporter on 127.0.0.1, only
          --collector.tcpstat) against the steady sample and `ss -tan`. Farms: 10k, 50k x 100.
  serve   `connwatch serve` (default 10 s interval) under wrk -t2 -c20 -d60s --latency on
          /metrics: failures, p99, and connwatch_samples_total before/after (scrapes must not
          take samples). Farm: 50k x 100.
  cpu     CPU seconds per hour at the default 10 s interval, on the idle host (no farm) and
          at 50k x 100: utime+stime of `connwatch serve --collect.interval=200ms` (idle) or
          1s (50k) over --cpu-cycles whole cycles of 30 samples (the owner cache walks every
          process every 30th sample), per sample, x 360.
  peak    VmHWM of `connwatch serve --collect.interval=1s` after --peak-samples samples
          and a plain and a gzip scrape. Farm: 100k x 1,000.
  churn   tests/bench/churn (built by CMake) opens and closes connections and forks
          short-lived owners every --churn-interval-ms beside the farm while
          connwatch_bench --mode=churn takes 1,000 steady samples (verified against cold
          samples every 10th) and `connwatch serve --collect.interval=100ms` runs; VmRSS of
          both at sample 100 and 1,000. Farm: 10k x 100.

Every child gets PR_SET_PDEATHSIG and is killed at exit; waits are bounded, farms hold at
most --hold seconds, and the whole run is capped by --max-seconds. One farm at a time: the
driver refuses to start while another sockfarm runs (pgrep), unless --wait-for-farm.

Examples (one command per case; --build-dir holds connwatch, connwatch_bench, sockfarm and
churn, all built with -DCONNWATCH_TESTS=ON):
  python3 tests/bench/run_bench.py --build-dir build --case sample
  python3 tests/bench/run_bench.py --build-dir build --case churn
  python3 tests/bench/run_bench.py --build-dir build --case all --json results.json
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "e2e"))
import connwatch_harness as h  # noqa: E402  (process lifetime, HTTP, connwatch serve)

CASES = ("sample", "node", "serve", "cpu", "peak", "churn")
# (connections, processes) each case runs on unless --conns/--procs say otherwise.
DEFAULT_FARMS = {
    "sample": [(c, p) for c in (1000, 10000, 50000, 100000) for p in (100, 1000)],
    "node": [(10000, 100), (50000, 100)],
    "serve": [(50000, 100)],
    "cpu": [None, (50000, 100)],  # None: the idle host
    "peak": [(100000, 1000)],
    "churn": [(10000, 100)],
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


class CorrectnessError(RuntimeError):
    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result  # the bench's JSON line, still worth reporting


def int_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--build-dir", default=os.path.join(REPO_ROOT, "build"))
    p.add_argument("--case", default="sample",
                   help=f"comma-separated, from {', '.join(CASES)}, or all (default sample)")
    p.add_argument("--conns", type=int_list, help="farm sizes for every chosen case")
    p.add_argument("--procs", type=int_list, help="farm process counts for every chosen case")
    p.add_argument("--samples", type=int, default=5, help="timed samples per bench mode")
    p.add_argument("--ss-runs", type=int, default=3, help="runs of each ss command")
    p.add_argument("--ss-budget", type=int, default=120,
                   help="seconds after which an ss command is not repeated past 2 runs")
    p.add_argument("--node-scrapes", type=int, default=10)
    p.add_argument("--cpu-cycles", type=int, default=1,
                   help="cpu case: full-walk cycles (30 samples each) to average over")
    p.add_argument("--wrk-seconds", type=int, default=60)
    p.add_argument("--peak-samples", type=int, default=6)
    p.add_argument("--churn-samples", type=int, default=1000)
    p.add_argument("--churn-interval-ms", type=int, default=50)
    p.add_argument("--hold", type=int, default=900, help="sockfarm -d (upper bound per farm)")
    p.add_argument("--setup-timeout", type=int, default=300)
    p.add_argument("--max-seconds", type=int, default=3600, help="hard cap for the whole run")
    p.add_argument("--wait-for-farm", type=int, default=0,
                   help="seconds to wait for someone else's sockfarm to end (default: refuse)")
    p.add_argument("--json", metavar="FILE", help="also write every result as JSON to FILE")
    opts = p.parse_args()
    opts.cases = CASES if opts.case == "all" else tuple(opts.case.split(","))
    for case in opts.cases:
        if case not in CASES:
            p.error(f"unknown case {case!r}")
    return opts


# ---------------------------------------------------------------------------------------------
# Children


def popen(args, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    return h._track(subprocess.Popen(args, preexec_fn=h._set_pdeathsig, **kw))


def run_timed(args, timeout):
    """Runs args with stdout to /dev/null; returns wall seconds. Killed after `timeout`."""
    with open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        proc = popen(args, stdout=devnull, stderr=subprocess.PIPE)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, err = proc.communicate()
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
    h.kill_process(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {err.decode()[:300]}")
    return wall


def run_json(args, timeout):
    """Runs a connwatch_bench command and returns its JSON line; exit 3 = CorrectnessError."""
    proc = popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        h.kill_process(proc)
        raise RuntimeError(f"{' '.join(args)}: no result within {timeout} s")
    h.kill_process(proc)
    err = err.decode("utf-8", "replace")
    lines = [l for l in out.decode().splitlines() if l.startswith("{")]
    if proc.returncode == 3:
        raise CorrectnessError(f"{' '.join(args)}:\n{err.strip()}",
                               json.loads(lines[-1]) if lines else None)
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {err.strip()[-2000:]}")
    return json.loads(lines[-1])


def proc_cpu_seconds(pid):
    """utime + stime of a process (all threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------
# Farms


def other_farms():
    out = subprocess.run(["pgrep", "sockfarm"], stdout=subprocess.PIPE, text=True).stdout
    return out.split()


class Farm:
    """A running sockfarm; None conns means the idle host."""

    def __init__(self, sockfarm, conns, procs, opts, tmp):
        self.conns, self.procs, self.proc, self.summary = conns, procs, None, "idle host"
        if conns is None:
            return
        ready = os.path.join(tmp, f"farm-{conns}-{procs}.ready")
        args = [sockfarm, "-n", str(conns), "-p", str(procs), "-d", str(opts.hold), "-t",
                str(opts.setup_timeout), "-r", ready, "-q"]
        self.proc = popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        start = time.monotonic()
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise RuntimeError(f"sockfarm exited {self.proc.returncode}: "
                                   f"{self.proc.stderr.read().decode()[:500]}")
            if time.monotonic() - start > opts.setup_timeout + 10:
                self.stop()
                raise RuntimeError("sockfarm not ready in time")
            time.sleep(0.1)
        self.setup_seconds = time.monotonic() - start
        with open(ready) as f:
            self.summary = f.readline().strip()

    def stop(self):
        if self.proc:
            h.kill_process(self.proc, grace=60)
            self.proc.stderr.close()
            self.proc = None


def established_sockets():
    out = subprocess.run(["ss", "-Htan", "state", "established"], stdout=subprocess.PIPE,
                         timeout=300, check=True).stdout
    return out.count(b"\n")


# ---------------------------------------------------------------------------------------------
# Measurements. Each takes the context and fills ctx.row (one dict per farm).


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def measure_ss(ctx, flags):
    key = "ss" + flags
    if key not in ctx.row:
        walls = []
        # `ss -tanp` takes over a minute at 100k: past --ss-budget seconds, two runs do.
        while len(walls) < ctx.opts.ss_runs and (len(walls) < 2 or
                                                 sum(walls) < ctx.opts.ss_budget):
            walls.append(run_timed(["ss", flags], timeout=600))
        ctx.row[key] = spread(walls)
    return ctx.row[key]


def measure_bench(ctx, mode):
    key = "bench_" + mode
    if key not in ctx.row:
        args = [ctx.bench, f"--mode={mode}", f"--samples={ctx.opts.samples}", "--warmup=3"]
        try:
            ctx.row[key] = run_json(args, timeout=1800)
        except CorrectnessError as e:
            ctx.row[key] = e.result
            raise
    return ctx.row[key]


def case_sample(ctx):
    ctx.row["established"] = established_sockets()
    measure_ss(ctx, "-tanp")
    measure_ss(ctx, "-tan")
    measure_bench(ctx, "cold")
    measure_bench(ctx, "steady")


def scrape_seconds(url, n):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        resp = h.http_request(url, timeout=60)
        times.append(time.perf_counter() - start)
        if resp.status != 200:
            raise RuntimeError(f"GET {url}: {resp.status}")
    return times, resp.body


def case_node(ctx):
    node_bin = "/usr/bin/prometheus-node-exporter"
    if not os.access(node_bin, os.X_OK):
        raise RuntimeError("prometheus-node-exporter not installed (apt-get install -y "
                           "prometheus-node-exporter; then `systemctl disable --now "
                           "prometheus-node-exporter` if the package enabled its service)")
    proc = None
    for _ in range(5):
        port = h.free_tcp_port()
        proc = popen([node_bin, f"--web.listen-address=127.0.0.1:{port}",
                      "--collector.disable-defaults", "--collector.tcpstat", "--log.level=warn"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/metrics"

        def up():
            if proc.poll() is not None:
                return "exited"
            try:
                return h.http_request(url, timeout=5).status == 200
            except OSError:
                return False

        if h.wait_until(up, 30, "node_exporter") is True:
            break
        h.kill_process(proc)
        proc = None
    if proc is None:
        raise RuntimeError("node_exporter did not start")
    try:
        scrape_seconds(url, 1)  # its first scrape also initializes the Go runtime's metrics
        times, body = scrape_seconds(url, ctx.opts.node_scrapes)
    finally:
        h.kill_process(proc)
    m = re.search(rb'node_tcp_connection_states\{state="established"\} (\S+)', body)
    ctx.row["node_exporter"] = spread(times)
    ctx.row["node_exporter"]["established"] = float(m.group(1)) if m else None
    measure_ss(ctx, "-tan")
    measure_bench(ctx, "steady")


def samples_total(cw):
    resp = cw.get("/metrics", timeout=30)
    m = re.search(rb"^connwatch_samples_total (\S+)", resp.body, re.M)
    if resp.status != 200 or not m:
        raise RuntimeError(f"no connwatch_samples_total in /metrics ({resp.status})")
    return float(m.group(1))


def start_serve(ctx, interval):
    cw = h.Connwatch(interval=interval)
    return cw.start(timeout=300)


def wait_samples(cw, at_least, timeout):
    def reached():
        taken = samples_total(cw)
        return taken if taken >= at_least else None

    return h.wait_until(reached, timeout, f"{at_least} samples", interval=0.05)


def parse_wrk(text):
    def num(pattern, default=0.0):
        m = re.search(pattern, text)
        return float(m.group(1)) if m else default

    def latency_ms(label):
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            return None
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       text)
    return {"requests": num(r"(\d+) requests in"),
            "requests_per_second": num(r"Requests/sec:\s+([\d.]+)"),
            "non_2xx": num(r"Non-2xx or 3xx responses: (\d+)"),
            "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
            "p50_ms": latency_ms("50%"), "p99_ms": latency_ms("99%")}


def case_serve(ctx):
    cw = start_serve(ctx, "10s")
    try:
        wait_samples(cw, 2, 120)  # the background thread has sampled once: the cache is warm
        before = samples_total(cw)
        start = time.monotonic()
        wrk = subprocess.run(["wrk", "-t2", "-c20", f"-d{ctx.opts.wrk_seconds}s", "--latency",
                              "--timeout", "10s", cw.url + "/metrics"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=ctx.opts.wrk_seconds + 60, preexec_fn=h._set_pdeathsig)
        wall = time.monotonic() - start
        after = samples_total(cw)
        result = parse_wrk(wrk.stdout)
        result.update({"samples_before": before, "samples_after": after, "wall_seconds": wall,
                       "samples_expected_at_most": int(wall // 10) + 1,
                       "max_rss_kib": proc_status_kib(cw.proc.pid, "VmHWM")})
        if wrk.returncode != 0 or result["p99_ms"] is None:
            raise RuntimeError(f"wrk failed ({wrk.returncode}): {wrk.stdout[-1000:]}")
        ctx.row["wrk"] = result
    finally:
        h.kill_process(cw.proc)


def cpu_per_sample(cw, samples, timeout):
    """CPU seconds of `connwatch serve` per sample over exactly `samples` samples, from the
    moment one sample ends (samples_total ticks) to the moment the last one ends."""
    def tick(after):
        def changed():
            taken = samples_total(cw)
            return taken if taken > after else None
        return h.wait_until(changed, timeout, "the next sample", interval=0.02)

    first = tick(samples_total(cw))
    cpu0, t0 = proc_cpu_seconds(cw.proc.pid), time.monotonic()
    h.wait_until(lambda: samples_total(cw) >= first + samples, timeout,
                 f"{samples} samples", interval=0.2)
    cpu1, t1 = proc_cpu_seconds(cw.proc.pid), time.monotonic()
    return {"cpu_seconds": cpu1 - cpu0, "samples": samples, "wall_seconds": t1 - t0,
            "cpu_seconds_per_sample": (cpu1 - cpu0) / samples,
            "cpu_seconds_per_hour_at_10s": (cpu1 - cpu0) / samples * 360}


def case_cpu(ctx):
    # The owner cache walks every process every --collect.full-scan-every samples (30 by
    # default), so CPU per sample is averaged over whole cycles: that average times 360 is
    # the hour at the default 10 s, whatever interval it was measured at.
    idle = ctx.conns is None
    cw = start_serve(ctx, "200ms" if idle else "1s")
    try:
        wait_samples(cw, 2, 120)
        result = cpu_per_sample(cw, ctx.opts.cpu_cycles * 30, 60 + ctx.opts.cpu_cycles * 600)
    finally:
        h.kill_process(cw.proc)
    result["interval"] = "200ms" if idle else "1s"
    result["established"] = established_sockets()
    ctx.row["cpu"] = result


def case_peak(ctx):
    cw = start_serve(ctx, "1s")
    try:
        wait_samples(cw, ctx.opts.peak_samples, 600)
        plain = cw.get("/metrics", timeout=60)
        gz = cw.get("/metrics", timeout=60, headers={"Accept-Encoding": "gzip"})
        ctx.row["peak"] = {"max_rss_kib": proc_status_kib(cw.proc.pid, "VmHWM"),
                           "rss_kib": proc_status_kib(cw.proc.pid, "VmRSS"),
                           "samples": samples_total(cw), "body_bytes": len(plain.body),
                           "gzip_bytes": len(gz.body)}
    finally:
        h.kill_process(cw.proc)
    measure_bench(ctx, "cold")
    measure_bench(ctx, "steady")


def case_churn(ctx):
    churn_bin = os.path.join(ctx.opts.build_dir, "churn")
    if not os.access(churn_bin, os.X_OK):
        raise RuntimeError(f"{churn_bin} not built (the churn target)")
    interval = ctx.opts.churn_interval_ms
    ready = os.path.join(ctx.tmp, "churn.ready")
    gen = popen([churn_bin, "-n", "1000", "-c", "100", "-i", str(interval), "-k", "20", "-j", "4",
                 "-l", "3", "-d", "900", "-r", ready], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
    cw = None
    try:
        h.wait_until(lambda: os.path.exists(ready) or gen.poll() is not None, 60, "churn ready")
        if gen.poll() is not None:
            raise RuntimeError(f"churn exited {gen.returncode}: {gen.stderr.read()[:500]}")
        cw = start_serve(ctx, "100ms")
        n = ctx.opts.churn_samples
        marks = sorted({min(100, n), n})
        bench = popen([ctx.bench, "--mode=churn", f"--samples={n}", "--warmup=3",
                       "--verify-every=10", "--rss-at=" + ",".join(map(str, marks))],
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        serve_rss = {}
        deadline = time.monotonic() + 1800
        while bench.poll() is None or len(serve_rss) < len(marks):
            if time.monotonic() > deadline:
                raise RuntimeError("churn case did not finish in 30 min")
            taken = samples_total(cw)
            for mark in marks:
                if taken >= mark and mark not in serve_rss:
                    serve_rss[mark] = {"samples": taken,
                                       "rss_kib": proc_status_kib(cw.proc.pid, "VmRSS")}
            time.sleep(0.05)
        out, err = bench.communicate(timeout=60)
        lines = [l for l in out.decode().splitlines() if l.startswith("{")]
        if bench.returncode == 3:
            ctx.row["churn_bench"] = json.loads(lines[-1]) if lines else None
            raise CorrectnessError(f"churn: {err.decode().strip()}")
        if bench.returncode != 0 or not lines:
            raise RuntimeError(f"connwatch_bench --mode=churn exited {bench.returncode}: "
                               f"{err.decode()[-1500:]}")
        ctx.row["churn_bench"] = json.loads(lines[-1])
        ctx.row["churn_serve"] = {"rss_kib_at": serve_rss,
                                  "max_rss_kib": proc_status_kib(cw.proc.pid, "VmHWM")}
    finally:
        if cw:
            h.kill_process(cw.proc)
        gen.send_signal(signal.SIGTERM)
        try:
            out, _ = gen.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            h.kill_process(gen)
            out = ""
        h.kill_process(gen)
        ctx.row["churn_generator"] = (out or "").strip()


MEASURE = {"sample": case_sample, "node": case_node, "serve": case_serve, "cpu": case_cpu,
           "peak": case_peak, "churn": case_churn}


# ---------------------------------------------------------------------------------------------
# Report


def ms(x):
    if x >= 10:
        return f"{x:.1f} s"
    return f"{x * 1000:.0f} ms" if x >= 0.1 else f"{x * 1000:.1f} ms"


def ranged(s):
    runs = f", n={s['n']}" if s["n"] < 3 else ""
    return f"{ms(s['median'])} ({ms(s['min'])}–{ms(s['max'])}{runs})"


def bench_ranged(b, path):
    return (f"{ms(b[path + '_median_seconds'])} ({ms(b[path + '_min_seconds'])}–"
            f"{ms(b[path + '_max_seconds'])})")


def ratio(a, b):
    return f"{a / b:.3f}×" if b else "–"


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def report(rows, opts):
    sample_rows = [r for r in rows if r.get("bench_cold") and r.get("bench_steady") and
                   "ss-tanp" in r]
    if sample_rows:
        print("\n### Cold and steady samples against ss (median (min–max); ratios of medians)\n")
        print("| conns (sockets) | procs | ss -tanp | ss -tan | cold core | cold full | "
              "cold core / ss -tanp | cold full / ss -tanp | steady core | steady full | "
              "steady core / ss -tan | steady full / ss -tan | owners verified (mismatches) | "
              "bench VmHWM |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in sample_rows:
            c, s = r["bench_cold"], r["bench_steady"]
            tanp, tan = r["ss-tanp"]["median"], r["ss-tan"]["median"]
            print(f"| {r['conns']} ({r['established']}) | {r['procs']} | {ranged(r['ss-tanp'])} "
                  f"| {ranged(r['ss-tan'])} | {bench_ranged(c, 'core')} | "
                  f"{bench_ranged(c, 'full')} | {ratio(c['core_median_seconds'], tanp)} | "
                  f"{ratio(c['full_median_seconds'], tanp)} | "
                  f"{bench_ranged(s, 'core')} | {bench_ranged(s, 'full')} | "
                  f"{ratio(s['core_median_seconds'], tan)} | "
                  f"{ratio(s['full_median_seconds'], tan)} | "
                  f"{s.get('verified_sockets', 0)} ({s.get('owner_mismatches', '?')}) | "
                  f"{mib(max(c['max_rss_kib'], s['max_rss_kib']))} |")
    for r in rows:
        if "node_exporter" in r and r.get("bench_steady"):
            s, n = r["bench_steady"], r["node_exporter"]
            print(f"\nnode_exporter tcpstat at {r['conns']} conns x {r['procs']} procs: scrape "
                  f"{ranged(n)} (n={n['n']}, established={n['established']}); ss -tan "
                  f"{ranged(r['ss-tan'])}; connwatch steady core "
                  f"{bench_ranged(s, 'core')}, full {bench_ranged(s, 'full')}; steady core / "
                  f"node_exporter = {ratio(s['core_median_seconds'], n['median'])}, full / "
                  f"node_exporter = {ratio(s['full_median_seconds'], n['median'])}")
        if "wrk" in r:
            w = r["wrk"]
            print(f"\nserve at {r['conns']} conns x {r['procs']} procs: wrk -t2 -c20 "
                  f"-d{opts.wrk_seconds}s: {w['requests']:.0f} requests "
                  f"({w['requests_per_second']:.0f}/s), non-2xx {w['non_2xx']:.0f}, socket "
                  f"errors {w['socket_errors']}, p50 {w['p50_ms']:.2f} ms, p99 {w['p99_ms']:.2f}"
                  f" ms; connwatch_samples_total {w['samples_before']:.0f} -> "
                  f"{w['samples_after']:.0f} in {w['wall_seconds']:.0f} s (at most "
                  f"{w['samples_expected_at_most']} expected at 10 s); serve VmHWM "
                  f"{mib(w['max_rss_kib'])}")
        if "cpu" in r:
            c = r["cpu"]
            where = ("idle host" if r["conns"] is None else
                     f"{r['conns']} conns x {r['procs']} procs")
            print(f"\ncost of being on, {where} ({c['established']} established sockets): "
                  f"{c['cpu_seconds']:.2f} CPU s for {c['samples']} samples at {c['interval']} = "
                  f"{c['cpu_seconds_per_sample'] * 1000:.1f} ms/sample -> "
                  f"{c['cpu_seconds_per_hour_at_10s']:.1f} CPU s/hour at the default 10 s")
        if "peak" in r:
            p = r["peak"]
            print(f"\npeak at {r['conns']} conns x {r['procs']} procs: connwatch serve VmHWM "
                  f"{mib(p['max_rss_kib'])} (VmRSS {mib(p['rss_kib'])}) after "
                  f"{p['samples']:.0f} samples and a plain ({p['body_bytes']} B) and gzip "
                  f"({p['gzip_bytes']} B) scrape")
        if r.get("churn_bench") and "churn_serve" in r:
            b, s = r["churn_bench"], r["churn_serve"]["rss_kib_at"]
            marks = sorted(b["rss_kib_at"], key=int)
            first, last = b["rss_kib_at"][marks[0]], b["rss_kib_at"][marks[-1]]
            line = (f"\nchurn at {r['conns']} conns x {r['procs']} procs + churn generator "
                    f"({r.get('churn_generator', '')}): connwatch_bench steady core "
                    f"{bench_ranged(b, 'core')}, VmRSS at sample {marks[0]} {mib(first)}, at "
                    f"{marks[-1]} {mib(last)} (growth {mib(last - first)}); owners verified "
                    f"{b.get('verified_sockets')} (mismatches {b.get('owner_mismatches')}, "
                    f"unstable {b.get('owner_unstable')})")
            keys = sorted(s, key=int)
            if len(keys) == 2:
                a, z = s[keys[0]], s[keys[1]]
                line += (f"; connwatch serve (100 ms) VmRSS at sample {a['samples']:.0f} "
                         f"{mib(a['rss_kib'])}, at {z['samples']:.0f} {mib(z['rss_kib'])} "
                         f"(growth {mib(z['rss_kib'] - a['rss_kib'])})")
            print(line)


def goals(rows):
    """Issue 7's goals against what this run measured, as a markdown table."""
    out = []

    def row(goal, target, measured, met):
        out.append(f"| {goal} | {target} | {measured} | {'yes' if met else '**no**'} |")

    for r in rows:
        c, s = r.get("bench_cold"), r.get("bench_steady")
        where = f"{r['conns'] // 1000}k × {r['procs']}" if r["conns"] else "idle"
        if c and "ss-tanp" in r and r["conns"] >= 50000:
            limit = 0.05 if r["conns"] >= 100000 else 0.15
            tanp = r["ss-tanp"]["median"]
            for path in ("core", "full"):
                x = c[f"{path}_median_seconds"] / tanp
                row(f"cold sample ({path}), {where}", f"≤ {limit}× ss -tanp",
                    f"{x:.3f}× ({ms(c[path + '_median_seconds'])} / {ms(tanp)})", x <= limit)
        if s and "ss-tan" in r and r["conns"] == 50000:
            tan = r["ss-tan"]["median"]
            for path in ("core", "full"):
                x = s[f"{path}_median_seconds"] / tan
                row(f"steady sample ({path}), {where}", "≤ 0.7× ss -tan",
                    f"{x:.3f}× ({ms(s[path + '_median_seconds'])} / {ms(tan)})", x <= 0.7)
            if "node_exporter" in r:
                n = r["node_exporter"]["median"]
                for path in ("core", "full"):
                    x = s[f"{path}_median_seconds"] / n
                    row(f"steady sample ({path}), {where}", "≤ 1× node_exporter tcpstat scrape",
                        f"{x:.3f}× ({ms(s[path + '_median_seconds'])} / {ms(n)})", x <= 1)
        if s and "owner_mismatches" in s:
            row(f"steady owners = cold owners, {where}", "0 mismatches",
                f"{s['owner_mismatches']} of {s['verified_sockets']}", s["owner_mismatches"] == 0)
        if "peak" in r:
            kib = r["peak"]["max_rss_kib"]
            row(f"peak RSS of serve, {where}", "≤ 64 MiB", mib(kib), kib <= 64 * 1024)
        if r.get("churn_bench") and "churn_serve" in r:
            b = r["churn_bench"]
            marks = sorted(b["rss_kib_at"], key=int)
            growth = b["rss_kib_at"][marks[-1]] - b["rss_kib_at"][marks[0]]
            row(f"RSS growth, samples {marks[0]}→{marks[-1]} with churn, bench, {where}",
                "none (≤ 1 MiB)", mib(growth), growth <= 1024)
            sv = r["churn_serve"]["rss_kib_at"]
            keys = sorted(sv, key=int)
            if len(keys) == 2:
                g = sv[keys[1]]["rss_kib"] - sv[keys[0]]["rss_kib"]
                row(f"RSS growth, samples {sv[keys[0]]['samples']:.0f}→"
                    f"{sv[keys[1]]['samples']:.0f} with churn, serve, {where}", "none (≤ 1 MiB)",
                    mib(g), g <= 1024)
            row(f"owners under churn, {where}", "0 mismatches",
                f"{b.get('owner_mismatches')} of {b.get('verified_sockets')}",
                b.get("owner_mismatches") == 0)
        if "wrk" in r:
            w = r["wrk"]
            failures = w["non_2xx"] + w["socket_errors"]
            extra = w["samples_after"] - w["samples_before"]
            row(f"20 scrapers × {w['wall_seconds']:.0f} s, {where}", "0 failures",
                f"{failures:.0f} of {w['requests']:.0f}", failures == 0)
            row(f"20 scrapers, {where}", "p99 ≤ 50 ms", f"{w['p99_ms']:.1f} ms",
                w["p99_ms"] <= 50)
            row(f"20 scrapers, {where}", "no extra samples",
                f"{extra:.0f} samples in {w['wall_seconds']:.0f} s at 10 s",
                extra <= w["samples_expected_at_most"])
        if "cpu" in r:
            c = r["cpu"]
            row(f"CPU per hour at 10 s, {where}", "in the README",
                f"{c['cpu_seconds_per_hour_at_10s']:.1f} s "
                f"({c['cpu_seconds_per_sample'] * 1000:.1f} ms/sample)", True)
    if out:
        print("\n### Goals\n\n| goal | target | measured | met |\n|---|---|---|---|")
        print("\n".join(out))


class Context:
    pass


def plan(opts):
    """Farm -> cases, so each farm is set up once for every case that uses it."""
    farms = {}
    for case in opts.cases:
        targets = DEFAULT_FARMS[case]
        farms_only = [t for t in targets if t is not None]
        if (opts.conns or opts.procs) and farms_only:
            conns = opts.conns or sorted({t[0] for t in farms_only})
            procs = opts.procs or sorted({t[1] for t in farms_only})
            targets = [t for t in targets if t is None] + [(c, p) for c in conns for p in procs]
        for t in targets:
            farms.setdefault(t, []).append(case)
    return sorted(farms.items(), key=lambda kv: (kv[0] is not None, kv[0] or (0, 0)))


def main():
    opts = parse_args()
    h.install_watchdog(opts.max_seconds)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))  # atexit kills every child
    opts.build_dir = os.path.abspath(opts.build_dir)
    os.environ["CONNWATCH_BIN"] = os.path.join(opts.build_dir, "connwatch")
    bench = os.path.join(opts.build_dir, "connwatch_bench")
    sockfarm = os.path.join(opts.build_dir, "sockfarm")  # tests/bench/sockfarm.c
    for binary in (bench, os.environ["CONNWATCH_BIN"], sockfarm):
        if not os.access(binary, os.X_OK):
            sys.exit(f"run_bench: {binary} not built (cmake -S {REPO_ROOT} -B {opts.build_dir} "
                     f"-DCONNWATCH_TESTS=ON && cmake --build {opts.build_dir} --target "
                     f"{os.path.basename(binary)})")
    h.raise_nofile_limit(4096)
    rows, failures = [], []
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as tmp:
        for target, cases in plan(opts):
            deadline = time.monotonic() + opts.wait_for_farm
            while target and other_farms():
                if time.monotonic() > deadline:
                    sys.exit(f"run_bench: another sockfarm is running ({other_farms()[:3]}); "
                             "one farm at a time (--wait-for-farm SECONDS)")
                time.sleep(2)
            conns, procs = target or (None, None)
            print(f"# {conns or 'idle'} conns x {procs or '-'} procs: {', '.join(cases)}",
                  file=sys.stderr, flush=True)
            ctx = Context()
            ctx.opts, ctx.bench, ctx.tmp = opts, bench, tmp
            ctx.row = {"conns": conns, "procs": procs, "cases": cases}
            ctx.conns = conns
            farm = Farm(sockfarm, conns, procs, opts, tmp)
            ctx.row["farm"] = farm.summary
            try:
                for case in cases:
                    start = time.monotonic()
                    try:
                        MEASURE[case](ctx)
                    except CorrectnessError as e:
                        failures.append(str(e))
                        print(f"#   {case}: CORRECTNESS FAILURE\n{e}", file=sys.stderr, flush=True)
                    print(f"#   {case} done in {time.monotonic() - start:.0f} s", file=sys.stderr,
                          flush=True)
            finally:
                farm.stop()
            rows.append(ctx.row)
            if opts.json:  # after every farm, so a late failure keeps the earlier results
                with open(opts.json, "w") as f:
                    json.dump(rows, f, indent=2)
    report(rows, opts)
    goals(rows)
    print(f"\nmachine: {os.cpu_count()} CPUs; connwatch {revision(opts.build_dir)}; "
          f"ss runs {opts.ss_runs}, bench samples {opts.samples} (steady after 3 warm-up)")
    if failures:
        print("\nCORRECTNESS FAILURES (steady owners differ from a cold sample's):\n" +
              "\n".join(failures))
        sys.exit(3)


def revision(build_dir):
    try:
        out = subprocess.run([os.path.join(build_dir, "connwatch"), "--version"],
                             stdout=subprocess.PIPE, text=True, timeout=10).stdout
        return out.strip()
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
