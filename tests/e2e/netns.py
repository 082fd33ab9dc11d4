"""Network namespaces and veth pairs that an end-to-end test creates, and nothing else.

The policy tests need peers with real, non-loopback addresses (an "internal" 10.231.x.y peer,
an "external" TEST-NET peer) without sending a single packet outside the machine. The test
process first moves itself into a private network namespace (the "host" side, where connwatch
and the local holders run: only lo and our veths exist there, no route to anywhere else), then
creates one named namespace per peer with `ip netns add` and links it to the host side with a
veth pair. Every name carries the test's PID, so a run that was SIGKILLed is recognised and
its leftovers removed by the next run.

Teardown (Lab.close) runs on normal exit, on test failure (tearDownClass / atexit) and on the
watchdog (install_watchdog below replaces the harness's, adding the namespace cleanup).
"""

import atexit
import os
import re
import signal
import subprocess
import sys

import connwatch_harness as h

_NAME_RE = re.compile(r"^cw-e2e-(\d+)-[a-z0-9]+$")
_labs = []


def _ip(*args, check=True, timeout=15):
    proc = subprocess.run(["ip"] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} exited {proc.returncode}: "
                           f"{proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc


def current_netns_inode():
    return os.stat("/proc/self/ns/net").st_ino


def netns_inode(name):
    """The inode of a named namespace (what sockholder --netns-inode wants)."""
    return os.stat(f"/run/netns/{name}").st_ino


def exec_prefix(name):
    """Argument prefix that runs a command inside the named namespace (exec, same PID)."""
    return ["ip", "netns", "exec", name]


def start_ready(name, args):
    """Starts `args` inside the named namespace and waits for the line READY on its stdout
    (a server the test runs there); returns the process, which dies with the test."""
    proc = subprocess.Popen(exec_prefix(name) + list(args), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, preexec_fn=h._set_pdeathsig)
    if proc.stdout.readline().strip() != b"READY":
        h.kill_process(proc)
        raise AssertionError(f"{args[-3:]} in {name} did not start")
    return proc


def remove_stale_namespaces():
    """Deletes cw-e2e-<pid>-* namespaces whose creating test process no longer exists."""
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return
    for name in names:
        m = _NAME_RE.match(name)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            _ip("netns", "del", name, check=False)


class Lab:
    """Named peer namespaces linked by veth pairs to the namespace the test runs in.

    The test must already be in a private namespace (h.enter_private_netns()): the host ends
    of the veths land there, so they vanish with the test process in any case.
    """

    def __init__(self):
        if current_netns_inode() == _initial_netns_inode:
            raise RuntimeError("netns.Lab needs h.enter_private_netns() first: it never adds "
                               "interfaces to the namespace the test was started in")
        remove_stale_namespaces()
        self.pid = os.getpid()
        self.namespaces = []
        _labs.append(self)
        self._if_count = 0

    def add_namespace(self, short):
        """Creates cw-e2e-<pid>-<short> with lo up; returns its name."""
        name = f"cw-e2e-{self.pid}-{short}"
        _ip("netns", "add", name)
        self.namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")
        return name

    def link(self, peer_ns, host_addrs, peer_addrs):
        """A veth pair: one end here with host_addrs, the other in peer_ns with peer_addrs.

        Addresses are CIDR strings ("10.231.1.1/24"); both ends are brought up and the
        addresses wait out duplicate address detection (nodad) so they bind at once.
        Returns (host_if, peer_if).
        """
        self._if_count += 1
        host_if = f"cwh{self.pid % 100000}x{self._if_count}"
        peer_if = f"cwp{self.pid % 100000}x{self._if_count}"
        _ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if, "netns", peer_ns)
        for addr in host_addrs:
            _ip("addr", "add", addr, "dev", host_if)
        for addr in peer_addrs:
            _ip("-n", peer_ns, "addr", "add", addr, "dev", peer_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", peer_ns, "link", "set", peer_if, "up")
        return host_if, peer_if

    def close(self):
        """Deletes every namespace (and so the veths); holders inside must be stopped first."""
        for name in self.namespaces:
            _ip("netns", "del", name, check=False)
        self.namespaces = []
        if self in _labs:
            _labs.remove(self)


def _close_all():
    for lab in list(_labs):
        try:
            lab.close()
        except Exception as e:  # noqa: BLE001 - teardown must go on
            sys.stderr.write(f"netns teardown: {e}\n")


# atexit is LIFO, so this runs before the harness kills the children; that is fine: deleting
# the name is all `ip netns del` does, and the kernel frees a namespace with its last process.
atexit.register(_close_all)

_initial_netns_inode = current_netns_inode()


def install_watchdog(seconds):
    """Like h.install_watchdog, and also deletes the namespaces before exiting 124."""

    def expired(signum, frame):
        sys.stderr.write(f"\nconnwatch e2e: watchdog expired after {seconds} s, aborting\n")
        sys.stderr.flush()
        h.kill_all_children()
        _close_all()
        os._exit(124)

    signal.signal(signal.SIGALRM, expired)
    signal.alarm(int(seconds))
