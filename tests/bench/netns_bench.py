#!/usr/bin/env python3
"""Benchmark (not a test): connwatch's sample across many network namespaces, against `ss`.

Load, all made here and removed at the end (loopback only, every process bounded by its own
hold time): the script moves into a private network namespace (the "host" here) holding
--host-conns connections (sockfarm, --host-procs processes), and starts --namespaces unnamed
namespaces (`unshare --net`), each with lo up and one sockfarm holding --conns-per-ns
connections (both ends: 2 sockets each).

Measured, in alternating rounds so that machine noise hits all alike:
  - all:  `connwatch serve --collector.netns=all`, the median of connwatch_sample_duration_seconds
          over --samples steady samples (after --warmup);
  - own:  the same with --collector.netns=own: today's sample of the host alone;
  - ss:   what a responder would run otherwise: `ss -tanp` here plus
          `nsenter -n -t PID ss -tanp` once per namespace, back to back (wall time).
Also the peak RSS (VmHWM) of the serve process reading every namespace.
Prints one JSON line: medians, the ratios all/ss and all/own, peak RSS.

Usage (root; build first): python3 tests/bench/netns_bench.py --build=build
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import connwatch_harness as h  # noqa: E402


def start_farm(sockfarm, conns, procs, hold, work, prefix=()):
    ready = tempfile.mktemp(dir=work, prefix="farm-", suffix=".ready")
    proc = subprocess.Popen(list(prefix) + [sockfarm, "-n", str(conns), "-p", str(procs),
                                            "-d", str(hold), "-r", ready, "-q"],
                            stdin=subprocess.DEVNULL, preexec_fn=h._set_pdeathsig)
    return proc, ready


def wait_ready(files, timeout):
    h.wait_until(lambda: all(os.path.exists(f) for f in files), timeout, "the farms")


def sample_durations(cw, samples, warmup):
    """The durations of `samples` consecutive samples after `warmup` more."""
    seen, durations = None, []
    deadline = time.monotonic() + (samples + warmup) * 5 + 60
    while len(durations) < samples + warmup and time.monotonic() < deadline:
        exp = cw.scrape()
        n = exp.value("connwatch_samples_total")
        if n != seen:
            seen = n
            durations.append(exp.value("connwatch_sample_duration_seconds"))
        time.sleep(0.2)
    return durations[warmup:]


def time_ss(pids):
    start = time.monotonic()
    subprocess.run(["ss", "-tanp"], stdout=subprocess.DEVNULL, check=True)
    for pid in pids:
        subprocess.run(["nsenter", "-n", "-t", str(pid), "ss", "-tanp"],
                       stdout=subprocess.DEVNULL, check=True)
    return time.monotonic() - start


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build")
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--conns-per-ns", type=int, default=100)
    parser.add_argument("--host-conns", type=int, default=10000)
    parser.add_argument("--host-procs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--hold", type=int, default=900, help="seconds every farm lives at most")
    parser.add_argument("--skip-ss", action="store_true", help="time connwatch only")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (namespaces, nsenter)")
    os.environ.setdefault("CONNWATCH_BIN", os.path.join(args.build, "connwatch"))
    sockfarm = os.path.join(args.build, "sockfarm")
    h.raise_nofile_limit(4 * args.host_conns + 4096)
    h.enter_private_netns()
    work = tempfile.mkdtemp(prefix="cw-netns-bench-")
    farms = []
    try:
        farms.append(start_farm(sockfarm, args.host_conns, args.host_procs, args.hold, work))
        prefix = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
        for _ in range(args.namespaces):
            farms.append(start_farm(sockfarm, args.conns_per_ns, 1, args.hold, work, prefix))
        wait_ready([ready for _, ready in farms], 300)
        ns_pids = [proc.pid for proc, _ in farms[1:]]
        results = {"all": [], "own": [], "ss": []}
        peak = 0
        for _ in range(args.rounds):
            for mode in ("all", "own"):
                cw = h.Connwatch(f"--collector.netns={mode}", interval="1s").start(timeout=120)
                try:
                    results[mode] += sample_durations(cw, args.samples, args.warmup)
                    if mode == "all":
                        peak = max(peak, peak_rss_mib(cw.proc.pid))
                        exp = cw.scrape()
                        namespaces = exp.value("connwatch_netns", mode="sock_diag")
                        collectors = {s.labels["collector"]: round(s.value, 4) for s in
                                      exp.select("connwatch_collector_duration_seconds")}
                finally:
                    cw.stop()
            if not args.skip_ss:
                results["ss"] += [time_ss(ns_pids) for _ in range(3)]
        medians = {k: statistics.median(v) for k, v in results.items() if v}
        print(json.dumps({
            "namespaces": args.namespaces, "conns_per_ns": args.conns_per_ns,
            "host_conns": args.host_conns, "namespaces_read_by_sock_diag": namespaces,
            "median_seconds": medians,
            "all_over_ss": medians["all"] / medians["ss"] if "ss" in medians else None,
            "collector_seconds_all": collectors,
            "all_over_own": medians["all"] / medians["own"],
            "peak_rss_mib_all": round(peak, 1),
        }))
    finally:
        for proc, _ in farms:
            h.kill_process(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
