#!/usr/bin/env python3
"""Measures the UDP server rule (limits.udp_server_after) on real services; not a ctest.

In a private network namespace linked to one peer namespace (10.235.2.1 here, 10.235.2.2 there):
  peer:  dnsmasq on 53 answering *.test (the upstream), chronyd as an NTP server on 123
  here:  dnsmasq on 10.235.2.1:5353 forwarding to the peer (its forwarder sockets are clients),
         chronyd as an NTP client of the peer (`port 0`, `-x`: never touches the clock),
         "resolved-like": one long-lived unconnected socket sending a DNS query every second,
         "per-query": a Python DNS client opening a new socket per query (every 0.2 s),
         socat UDP4-RECVFROM:40000 (a server inside the ephemeral range, for contrast).
connwatch serves with --collect.interval=500ms and udp_server_after 3; every 250 ms this
script runs `connwatch connections --format=json` (every UDP socket by cookie and owner) and
scrapes the metrics (which UDP sockets are listeners). Prints, per process: samples observed,
UDP sockets seen (unconnected / connected), and the ports that became listeners.

Run as root from the repository root: python3 tests/bench/udp_services.py [seconds]
"""

import collections
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import connwatch_harness as h  # noqa: E402
import netns  # noqa: E402

HOST, PEER = "10.235.2.1", "10.235.2.2"

QUERY = ("import struct\n"
         "def query(i):\n"
         "    header = struct.pack('>HHHHHH', i & 0xffff, 0x0100, 1, 0, 0, 0)\n"
         "    name = b''.join(bytes([len(p)]) + p for p in [b'host%d' % (i % 50), b'test'])\n"
         "    return header + name + b'\\x00' + struct.pack('>HH', 1, 1)\n")

RESOLVED_LIKE = QUERY + f"""
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # autobound on the first sendto
s.settimeout(0.5)
i = 0
while True:
    i += 1
    s.sendto(query(i), ("{PEER}", 53))
    try:
        s.recvfrom(4096)
        print(s.getsockname()[1], flush=True)
    except socket.timeout:
        pass
    time.sleep(1)
"""

PER_QUERY = QUERY + f"""
import socket, time
i = 0
while True:
    i += 1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        s.sendto(query(i), ("{HOST}", 5353))  # through the local dnsmasq, which forwards
        try:
            s.recvfrom(4096)
            print(s.getsockname()[1], flush=True)
        except socket.timeout:
            pass
    time.sleep(0.2)
"""


PROCS = {}  # role -> Popen, of the processes here (the peer's are not this namespace's)


def spawn(args, name):
    log = open(os.path.join(TMP, name + ".log"), "w")
    proc = h._track(subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=h._set_pdeathsig))
    if not args[0].startswith("ip"):
        PROCS[name] = proc
    return proc


def chrony_conf(name, lines):
    path = os.path.join(TMP, name + ".conf")
    with open(path, "w") as f:
        f.write("\n".join(lines + [f"pidfile {TMP}/{name}.pid", "cmdport 0"]) + "\n")
    return path


def main(seconds):
    global TMP
    h.enter_private_netns()
    tmp = tempfile.TemporaryDirectory(prefix="cw-udp-measure-")
    TMP = tmp.name
    os.chmod(TMP, 0o755)
    lab = netns.Lab()
    cw = None
    try:
        peer = lab.add_namespace("udpm")
        lab.link(peer, [f"{HOST}/24"], [f"{PEER}/24"])
        in_peer = netns.exec_prefix(peer)
        spawn(in_peer + ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=53",
                         f"--listen-address={PEER}", "--bind-interfaces", "--no-resolv",
                         "--address=/test/192.0.2.1", "--user=root"], "upstream")
        spawn(in_peer + ["chronyd", "-d", "-x", "-f",
                         chrony_conf("ntpserver", ["local stratum 8", "allow all", "port 123",
                                                   f"bindaddress {PEER}"])], "ntpserver")
        time.sleep(0.5)
        spawn(["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=5353",
               f"--listen-address={HOST}", "--bind-interfaces", "--no-resolv",
               f"--server={PEER}", "--cache-size=0", "--log-queries", "--user=root"], "dnsmasq")
        spawn(["chronyd", "-d", "-x", "-f",
               chrony_conf("ntpclient", [f"server {PEER} iburst minpoll -2 maxpoll -2",
                                         "port 0"])], "chronyd")
        spawn(["python3", "-c", RESOLVED_LIKE], "resolved-like")
        spawn(["python3", "-c", PER_QUERY], "per-query")
        spawn(["socat", "UDP4-RECVFROM:40000,fork,reuseaddr", "EXEC:/bin/cat"], "socat")
        policy = h.write_file(TMP, "policy.yaml",
                              "limits:\n  udp_server_after: 3\nbaseline:\n  learn_for: 0s\n")
        cw = h.Connwatch(f"--config.file={policy}", interval="500ms").start()
        roles = {proc.pid: name for name, proc in PROCS.items()}
        seen = collections.defaultdict(dict)  # role -> cookie -> (connected?, local port)
        listeners = set()  # (process, port) connwatch called UDP listeners
        stop = threading.Event()

        def poll_ss():
            # ss every 10 ms: what lives longer than that is seen, whatever connwatch makes of it.
            while not stop.is_set():
                out = subprocess.run(["ss", "-uanpHe"], stdout=subprocess.PIPE, text=True).stdout
                for line in out.splitlines():
                    pid = re.search(r"pid=(\d+)", line)
                    cookie = re.search(r" sk:([0-9a-f]+)", line)
                    port = int(line.split()[3].rpartition(":")[2])
                    if pid and cookie and int(pid.group(1)) in roles:
                        seen[roles[int(pid.group(1))]][cookie.group(1)] = (
                            line.startswith("ESTAB"), port)
                stop.wait(0.01)

        poller = threading.Thread(target=poll_ss)
        poller.start()
        scrapes = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for s in cw.scrape().select("connwatch_listener_info", protocol="udp"):
                listeners.add((s.labels["process"], int(s.labels["port"])))
            scrapes += 1
            time.sleep(0.25)
        stop.set()
        poller.join()
        samples = cw.scrape().value("connwatch_samples_total")
        print(f"{seconds:.0f} s, {int(samples)} connwatch samples (500 ms), {scrapes} scrapes")
        print(f"{'client/server':<14} {'unconnected':>11} {'connected':>9}  listeners")
        for name in PROCS:
            connected = sum(1 for c, _ in seen[name].values() if c)
            ports = {port for c, port in seen[name].values() if not c}
            mine = sorted(f"{p}:{port}" for p, port in listeners if port in ports)
            print(f"{name:<14} {len(seen[name]) - connected:>11} {connected:>9}  {mine}")
        print("every UDP listener connwatch reported (process, port):", sorted(listeners))
        for name in ("per-query", "resolved-like"):
            with open(os.path.join(TMP, name + ".log")) as f:
                print(f"{name}: {len(f.read().split())} queries answered")
        with open(os.path.join(TMP, "dnsmasq.log")) as f:
            print("dnsmasq forwarded", sum(1 for line in f if " forwarded " in line), "queries")
        with open(os.path.join(TMP, "chronyd.log")) as f:
            print("chronyd client selected its source:", any("Selected source" in line for line in f))
    finally:
        if cw is not None:
            cw.stop()
        h.kill_all_children()
        lab.close()
        tmp.cleanup()


if __name__ == "__main__":
    netns.install_watchdog(300)
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0)
