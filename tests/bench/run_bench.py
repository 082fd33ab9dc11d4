#!/usr/bin/env python3
"""Benchmark driver: connwatch's sample time against `ss`, on a loopback socket farm.

Not a test. For each configuration (established connections x processes) it starts
`sockfarm -n N -p P -d 600 -r READYFILE -q` (../shared/tools/sockfarm, built into a temp
dir), waits for READYFILE, then in the same run measures:
  - `ss -tanp` and `ss -tan` wall time (median of --ss-runs runs, output to /dev/null),
    with each run's peak RSS from wait4();
  - `<build>/connwatch_bench --samples K`, which prints one JSON line such as
    {"samples":5,"median_seconds":0.12,"min_seconds":..,"max_rss_kib":..,"sockets":..,
     "owned_sockets":..};
and stops the farm (SIGTERM, bounded wait, then SIGKILL) before the next configuration.
Prints a markdown table with absolute times, the ratios connwatch/ss-tanp and connwatch/ss-tan,
and peak RSS. Everything stays on loopback; the farm holds at most 600 s and dies with this
script (PR_SET_PDEATHSIG).

Example:
  python3 tests/bench/run_bench.py --build-dir build --conns 1000,10000 --procs 100
"""

import argparse
import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_libc = ctypes.CDLL(None, use_errno=True)


def set_pdeathsig():
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def int_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", default=os.path.join(REPO_ROOT, "build"),
                   help="where connwatch_bench was built (default: <repo>/build)")
    p.add_argument("--sockfarm-src",
                   default=os.path.join(REPO_ROOT, "..", "shared", "tools", "sockfarm",
                                        "sockfarm.c"),
                   help="sockfarm.c (default: ../shared/tools/sockfarm/sockfarm.c)")
    p.add_argument("--conns", type=int_list, default=[1000, 10000, 50000],
                   help="comma-separated established connection counts (default 1000,10000,50000)")
    p.add_argument("--procs", type=int_list, default=[100, 1000],
                   help="comma-separated process counts (default 100,1000)")
    p.add_argument("--samples", type=int, default=5, help="connwatch_bench --samples")
    p.add_argument("--ss-runs", type=int, default=3, help="runs of each ss command (median)")
    p.add_argument("--setup-timeout", type=int, default=300,
                   help="seconds to wait for the farm's ready file")
    p.add_argument("--hold", type=int, default=600, help="sockfarm -d (upper bound per config)")
    p.add_argument("--bench-arg", action="append", default=[],
                   help="extra argument for connwatch_bench (repeatable)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    return p.parse_args()


def build_sockfarm(src, out_dir):
    if not os.path.isfile(src):
        sys.exit(f"run_bench: sockfarm source not found: {src} (use --sockfarm-src)")
    out = os.path.join(out_dir, "sockfarm")
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-o", out, src], check=True, timeout=120)
    return out


def run_timed(args, timeout):
    """Runs args with stdout to /dev/null; returns (wall seconds, peak RSS KiB, exit code)."""
    with open(os.devnull, "wb") as devnull:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=devnull,
                                stderr=subprocess.PIPE, preexec_fn=set_pdeathsig)
        killer = threading.Timer(timeout, proc.kill)  # bounded, without polling delays
        killer.start()
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: {err.strip()}")
    return wall, rusage.ru_maxrss, proc.returncode


def measure_ss(flags, runs):
    walls, rss = [], []
    for _ in range(runs):
        wall, maxrss, _ = run_timed(["ss", flags], timeout=300)
        walls.append(wall)
        rss.append(maxrss)
    return statistics.median(walls), max(rss)


def count_established():
    out = subprocess.run(["ss", "-Htan", "state", "established"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, timeout=300, check=True).stdout
    return out.count(b"\n")


def run_connwatch_bench(bench, samples, extra):
    args = [bench, "--samples", str(samples)] + extra
    proc = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=900, preexec_fn=set_pdeathsig)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}: "
                           f"{proc.stderr.decode('utf-8', 'replace').strip()}")
    for line in reversed(proc.stdout.decode("utf-8", "replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"connwatch_bench printed no JSON line: {proc.stdout[:500]!r}")


def start_farm(sockfarm, conns, procs, hold, ready_file, setup_timeout):
    args = [sockfarm, "-n", str(conns), "-p", str(procs), "-d", str(hold), "-t",
            str(setup_timeout), "-r", ready_file, "-q"]
    farm = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=set_pdeathsig)
    deadline = time.monotonic() + setup_timeout + 10
    while not os.path.exists(ready_file):
        if farm.poll() is not None:
            err = farm.stderr.read().decode("utf-8", "replace")
            raise RuntimeError(f"sockfarm exited {farm.returncode} before ready: {err.strip()}")
        if time.monotonic() > deadline:
            stop_farm(farm)
            raise RuntimeError(f"sockfarm not ready after {setup_timeout} s")
        time.sleep(0.1)
    with open(ready_file) as f:
        summary = f.readline().strip()
    return farm, summary


def stop_farm(farm):
    if farm.poll() is None:
        farm.send_signal(signal.SIGTERM)
        try:
            farm.wait(timeout=60)
        except subprocess.TimeoutExpired:
            farm.kill()
            farm.wait(timeout=30)
    if farm.stderr:
        farm.stderr.close()


def fmt_s(x):
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def main():
    opts = parse_args()
    bench = os.path.join(opts.build_dir, "connwatch_bench")
    if not os.access(bench, os.X_OK):
        sys.exit(f"run_bench: {bench} not found (build the connwatch_bench target)")
    results = []
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as tmp:
        sockfarm = build_sockfarm(opts.sockfarm_src, tmp)
        for conns in opts.conns:
            for procs in opts.procs:
                ready_file = os.path.join(tmp, f"farm-{conns}-{procs}.ready")
                print(f"# {conns} connections x {procs} processes: starting farm",
                      file=sys.stderr, flush=True)
                setup_start = time.monotonic()
                farm, summary = start_farm(sockfarm, conns, procs, opts.hold, ready_file,
                                           opts.setup_timeout)
                try:
                    setup_s = time.monotonic() - setup_start
                    established = count_established()
                    tanp, tanp_rss = measure_ss("-tanp", opts.ss_runs)
                    tan, tan_rss = measure_ss("-tan", opts.ss_runs)
                    cw = run_connwatch_bench(bench, opts.samples, opts.bench_arg)
                finally:
                    stop_farm(farm)
                cw_s = float(cw["median_seconds"])
                row = {
                    "conns": conns, "procs": procs, "farm": summary, "setup_seconds": setup_s,
                    "ss_established": established,
                    "ss_tanp_seconds": tanp, "ss_tanp_max_rss_kib": tanp_rss,
                    "ss_tan_seconds": tan, "ss_tan_max_rss_kib": tan_rss,
                    "connwatch": cw,
                    "ratio_tanp": cw_s / tanp if tanp else float("inf"),
                    "ratio_tan": cw_s / tan if tan else float("inf"),
                }
                results.append(row)
                print(f"#   ss -tanp {fmt_s(tanp)}, ss -tan {fmt_s(tan)}, connwatch "
                      f"{fmt_s(cw_s)}", file=sys.stderr, flush=True)

    print("| conns | procs | estab. sockets (ss) | connwatch sockets / owned | ss -tanp | ss -tan "
          "| connwatch sample (median) | min | ratio vs ss -tanp | ratio vs ss -tan "
          "| connwatch peak RSS | full sample (ages, policy, state file) | full vs ss -tanp |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        cw = r["connwatch"]
        print(f"| {r['conns']} | {r['procs']} | {r['ss_established']} | "
              f"{cw.get('sockets', '?')} / {cw.get('owned_sockets', '?')} | "
              f"{fmt_s(r['ss_tanp_seconds'])} | {fmt_s(r['ss_tan_seconds'])} | "
              f"{fmt_s(float(cw['median_seconds']))} | "
              f"{fmt_s(float(cw.get('min_seconds', cw['median_seconds'])))} | "
              f"{r['ratio_tanp']:.2f}x | {r['ratio_tan']:.2f}x | "
              f"{float(cw.get('max_rss_kib', 0)) / 1024:.1f} MiB | "
              f"{fmt_s(float(cw.get('full_median_seconds', 0)))} | "
              f"{float(cw.get('full_median_seconds', 0)) / r['ss_tanp_seconds']:.2f}x |")
    print(f"\nconnwatch_bench --samples {opts.samples}; ss: median of {opts.ss_runs} runs, "
          "output to /dev/null; all in one run on this machine. "
          "connwatch peak RSS is VmHWM (since exec); ss's is not shown because wait4's "
          "ru_maxrss includes the forking Python's pages.")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
