#!/usr/bin/env python3
"""Benchmark of the connection events (not a test; ctest does not run it).

Two cases, each measured side by side in one run, in alternating rounds, as ratios of medians:

  cps    tests/support/connloop (built by CMake) connects to its own 127.0.0.1 listener and
         closes, as fast as one process can, for --seconds, while `connwatch serve` (the
         default 10 s interval) runs with --collect.events=off, ebpf (when the build and the
         kernel have it) and sock_diag, and once with no exporter at all. Each round runs the
         modes in a rotated order. Reported: connections per second of each mode and its ratio
         to events off (the goal: >= 0.95x for each source), the same beside
         tests/bench/destroy_subscriber alone (bare_subscriber: no exporter, the least a
         destroy-notification reader can cost), the records the exporter lost
         (connwatch_events_lost_total, read after the next sample) against the 2 records per
         connection it was sent, and serve's peak RSS (VmHWM) by then.
  bytes  a tests/bench/sockfarm farm of --conns connections x --procs processes: `ss -tan`,
         `ss -tani` (the same with every socket's tcp_info) and connwatch_bench's steady
         sample without and with tcp_info (--tcp-bytes=0/1, core and full Sampler path).
         The goal: the steady sample with bytes <= 0.7x `ss -tan`.

Every child gets PR_SET_PDEATHSIG and is killed at exit, waits are bounded and the whole run
is capped by --max-seconds.

  python3 tests/bench/events_bench.py --build-dir build --case cps
  python3 tests/bench/events_bench.py --build-dir build --case bytes --conns 50000
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402  (farms, timed runs, /proc readers)
from run_bench import h  # noqa: E402  (connwatch serve, scrapes, process lifetime)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--build-dir", default=os.path.join(rb.REPO_ROOT, "build"))
    p.add_argument("--case", default="cps,bytes", help="cps, bytes or both (default)")
    p.add_argument("--rounds", type=int, default=5, help="rounds of every mode (cps, bytes)")
    p.add_argument("--seconds", type=int, default=5, help="connloop's run per mode (cps)")
    p.add_argument("--conns", type=int, default=50000, help="farm connections (bytes)")
    p.add_argument("--procs", type=int, default=100, help="farm processes (bytes)")
    p.add_argument("--samples", type=int, default=5, help="timed samples per bench run")
    p.add_argument("--hold", type=int, default=900, help="sockfarm -d (upper bound)")
    p.add_argument("--setup-timeout", type=int, default=300)
    p.add_argument("--max-seconds", type=int, default=3600, help="hard cap for the whole run")
    opts = p.parse_args()
    opts.cases = opts.case.split(",")
    for case in opts.cases:
        if case not in ("cps", "bytes"):
            p.error(f"unknown case {case!r}")
    return opts


def ranged(values, fmt):
    return (f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"
            if values else "-")


# ---------------------------------------------------------------------------------------------
# cps


def connloop(binary, seconds):
    out = subprocess.run([binary, "-r", "0", "-d", str(seconds)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=seconds + 60, preexec_fn=h._set_pdeathsig)
    if out.returncode != 0:
        raise RuntimeError(f"connloop exited {out.returncode}: {out.stderr.decode()[:300]}")
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def exporter_can_ebpf():
    """Whether this build and kernel give `--collect.events=ebpf` its eBPF source."""
    with h.Connwatch("--collect.events=auto", interval="10s") as cw:
        return cw.scrape().value("connwatch_events_source_info", source="ebpf") == 1


def run_mode(mode, opts, result):
    if mode == "none":
        result.setdefault(mode, []).append(connloop(opts.connloop, opts.seconds)["per_second"])
        return
    if mode == "bare_subscriber":
        # No exporter: only tests/bench/destroy_subscriber, the kernel's floor for sock_diag.
        sub = subprocess.Popen([opts.destroy_subscriber, "-d", str(opts.seconds + 30)],
                               stdout=subprocess.DEVNULL, preexec_fn=h._set_pdeathsig)
        try:
            time.sleep(0.3)
            result.setdefault(mode, []).append(connloop(opts.connloop, opts.seconds)["per_second"])
        finally:
            sub.terminate()
            sub.wait(timeout=10)
        return
    with h.Connwatch(f"--collect.events={mode}", interval="10s") as cw:
        before = cw.scrape()
        source = "off" if mode == "off" else mode
        if mode != "off" and before.value("connwatch_events_source_info", source=source) != 1:
            raise RuntimeError(f"--collect.events={mode} did not start its source: {cw.log()}")
        run = connloop(opts.connloop, opts.seconds)
        # The counters move at samples: the first sample after the loop (its last records
        # come within the thread's 100 ms) drains the queue and counts what was lost.
        ran = cw.scrape().value("connwatch_samples_total")
        time.sleep(0.5)
        result_after = {}

        def sampled():
            result_after["expo"] = cw.scrape()
            return result_after["expo"].value("connwatch_samples_total") > ran
        h.wait_until(sampled, 30, "a sample after the load")
        after = result_after["expo"]
        result.setdefault(mode, []).append(run["per_second"])
        lost = (after.value("connwatch_events_lost_total", source=source) or 0) - \
            (before.value("connwatch_events_lost_total", source=source) or 0)
        result.setdefault(mode + "_lost", []).append((lost, 2 * run["connections"]))
        result.setdefault(mode + "_rss_kib", []).append(rb.proc_status_kib(cw.proc.pid, "VmHWM"))


def case_cps(opts):
    modes = ["none", "off", "sock_diag", "bare_subscriber"] + \
        (["ebpf"] if exporter_can_ebpf() else [])
    result = {}
    for round_ in range(opts.rounds):
        order = modes[round_ % len(modes):] + modes[:round_ % len(modes)]
        for mode in order:
            run_mode(mode, opts, result)
        print(f"#   cps round {round_ + 1}: " +
              ", ".join(f"{m} {result[m][-1]:.0f}/s" for m in modes), file=sys.stderr, flush=True)
    off = statistics.median(result["off"])
    print(f"\n### Connections per second, connloop -r 0 -d {opts.seconds} "
          f"({opts.rounds} rounds; median (min–max))\n")
    print("| mode | connections/s | / events off | records lost (of sent) | serve VmHWM |")
    print("|---|---:|---:|---:|---:|")
    goals = []
    for mode in modes:
        x = statistics.median(result[mode]) / off
        lost = result.get(mode + "_lost", [])
        lost_text = (f"{sum(l for l, _ in lost):.0f} of {sum(s for _, s in lost)}" if lost
                     else "-")
        rss = result.get(mode + "_rss_kib", [])
        print(f"| {mode} | {ranged(result[mode], lambda v: f'{v:.0f}')} | {x:.3f}× | "
              f"{lost_text} | {ranged(rss, lambda v: f'{v / 1024:.1f} MiB')} |")
        if mode in ("ebpf", "sock_diag"):
            goals.append(f"| cps with {mode} events | ≥ 0.95× events off | {x:.3f}× | "
                         f"{'yes' if x >= 0.95 else '**no**'} |")
    return goals


# ---------------------------------------------------------------------------------------------
# bytes


def case_bytes(opts):
    farm = rb.Farm(opts.sockfarm, opts.conns, opts.procs, opts, opts.tmp)
    walls = {"ss -tan": [], "ss -tani": []}
    steady = {0: [], 1: []}
    try:
        established = rb.established_sockets()
        for round_ in range(opts.rounds):
            for flags in (("-tan",), ("-tani",)):
                walls["ss " + flags[0]].append(rb.run_timed(["ss", *flags], timeout=600))
            for tcp_bytes in ((0, 1) if round_ % 2 == 0 else (1, 0)):
                steady[tcp_bytes].append(rb.run_json(
                    [opts.bench, "--mode=steady", f"--samples={opts.samples}", "--warmup=3",
                     "--verify=0", f"--tcp-bytes={tcp_bytes}"], timeout=1800))
            print(f"#   bytes round {round_ + 1} done", file=sys.stderr, flush=True)
    finally:
        farm.stop()
    tan = statistics.median(walls["ss -tan"])
    print(f"\n### Steady sample with and without tcp_info, {farm.summary} "
          f"({established} established sockets; {opts.rounds} rounds, medians of medians)\n")
    print("| what | seconds (min–max) | / ss -tan |")
    print("|---|---:|---:|")
    for name, values in walls.items():
        print(f"| {name} | {ranged(values, rb.ms)} | {statistics.median(values) / tan:.3f}× |")
    goals = []
    for tcp_bytes in (0, 1):
        for path in ("core", "full"):
            values = [r[f"{path}_median_seconds"] for r in steady[tcp_bytes]]
            x = statistics.median(values) / tan
            label = f"steady {path}, {'with' if tcp_bytes else 'without'} bytes"
            print(f"| {label} | {ranged(values, rb.ms)} | {x:.3f}× |")
            if tcp_bytes:
                goals.append(f"| {label}, {opts.conns // 1000}k × {opts.procs} | ≤ 0.7× ss -tan "
                             f"| {x:.3f}× | {'yes' if x <= 0.7 else '**no**'} |")
    return goals


def main():
    opts = parse_args()
    h.install_watchdog(opts.max_seconds)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))  # atexit kills every child
    build = os.path.abspath(opts.build_dir)
    os.environ["CONNWATCH_BIN"] = os.path.join(build, "connwatch")
    opts.bench = os.path.join(build, "connwatch_bench")
    opts.sockfarm = os.path.join(build, "sockfarm")
    opts.connloop = os.path.join(build, "tests", "connloop")
    opts.destroy_subscriber = os.path.join(build, "destroy_subscriber")
    needed = {"cps": [os.environ["CONNWATCH_BIN"], opts.connloop, opts.destroy_subscriber],
              "bytes": [opts.bench, opts.sockfarm]}
    for case in opts.cases:
        for binary in needed[case]:
            if not os.access(binary, os.X_OK):
                sys.exit(f"events_bench: {binary} not built (-DCONNWATCH_TESTS=ON)")
    if rb.other_farms():
        sys.exit("events_bench: another sockfarm is running; one farm at a time")
    h.raise_nofile_limit(4096)
    goals = []
    with tempfile.TemporaryDirectory(prefix="cw-events-bench-") as opts.tmp:
        if "cps" in opts.cases:
            goals += case_cps(opts)
        if "bytes" in opts.cases:
            goals += case_bytes(opts)
    print("\n### Goals\n\n| goal | target | measured | met |\n|---|---|---|---|")
    print("\n".join(goals))
    print(f"\nmachine: {os.cpu_count()} CPUs; connwatch {rb.revision(build)}")


if __name__ == "__main__":
    main()
