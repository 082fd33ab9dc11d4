#!/usr/bin/env python3
"""deploy/systemd/connwatch.service, checked without systemd as PID 1.

- `systemd-analyze verify` on a copy whose ExecStart is the built binary;
- `systemd-analyze security --offline=true`: the exposure score equals the one README.md
  states and stays at or below MAX_EXPOSURE;
- AmbientCapabilities= and CapabilityBoundingSet= are exactly the five capabilities (the
  three of the socket owners and conntrack, CAP_BPF and CAP_PERFMON of the eBPF connection
  events), and the hardening the README promises is there (ProtectProc=invisible, never
  ProcSubset=pid);
- the environment file and the sysusers.d file (systemd-sysusers --root on a scratch tree);
- the syscall filter: a real `connwatch serve` run under strace, as an unprivileged user with
  the unit's ambient capabilities (samples, scrapes plain and gzip, reloads by HTTP and
  SIGHUP, stops on SIGTERM, capability drop included), uses only syscalls the unit's
  SystemCallFilter= allows (groups expanded with `systemd-analyze syscall-filter`); the
  filter allows bpf (the eBPF connection events) but not perf_event_open, and a run whose
  event source is eBPF did call bpf.

Environment: CONNWATCH_BIN (the binary, default build/connwatch). Needs root.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import connwatch_harness as h  # noqa: E402

UNIT_DIR = os.path.join(h.REPO_ROOT, "deploy", "systemd")
UNIT = os.path.join(UNIT_DIR, "connwatch.service")
ENV_FILE = os.path.join(UNIT_DIR, "connwatch.default")
SYSUSERS = os.path.join(UNIT_DIR, "connwatch.sysusers")
README = os.path.join(h.REPO_ROOT, "README.md")
MAX_EXPOSURE = 2.5
THREE = {"CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE", "CAP_NET_ADMIN"}
# The eBPF connection events (--collect.events=auto|ebpf): loading and attaching the program.
EVENTS = {"CAP_BPF", "CAP_PERFMON"}
README_SCORE = re.compile(r"systemd-analyze security --offline=true exposure score: (\d+\.\d+)")
TEST_USER, TEST_GROUP, TEST_UID = "nobody", "nogroup", 65534


def unit_settings(path):
    """[(section, key, value)] in file order; comments and blank lines skipped."""
    settings, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            settings.append((section, key.strip(), value.strip()))
    return settings


def values(settings, key):
    return [v for _, k, v in settings if k == key]


def one(settings, key):
    found = values(settings, key)
    if len(found) != 1:
        raise AssertionError(f"{key}= appears {len(found)} times in the unit, want once")
    return found[0]


_groups = {}


def expand(token):
    """A syscall name, or a @group expanded recursively through systemd-analyze."""
    if not token.startswith("@"):
        return {token}
    if token not in _groups:
        out = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", token],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"systemd-analyze syscall-filter {token}: {out.stderr}")
        members = set()
        for line in out.stdout.splitlines():
            # "@group" first, then indented members; "#" lines are descriptions.
            if not line.startswith((" ", "\t")):
                continue
            item = line.strip()
            if item and not item.startswith("#"):
                members |= expand(item)
        if not members:
            raise AssertionError(f"{token} expanded to nothing")
        _groups[token] = members
    return _groups[token]


def allowed_syscalls(settings):
    """The allow list systemd builds from SystemCallFilter= lines, in order (systemd.exec(5)):
    the first line decides the mode; in allow-list mode @default is always allowed; later
    lines add to it, ~lines remove from it."""
    lines = values(settings, "SystemCallFilter")
    if not lines or lines[0].startswith("~"):
        raise AssertionError("SystemCallFilter= must start with an allow list")
    allowed = set(expand("@default"))
    for line in lines:
        deny = line.startswith("~")
        names = set()
        for token in line.lstrip("~").split():
            names |= expand(token)
        allowed = allowed - names if deny else allowed | names
    return allowed


class SystemdUnit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.settings = unit_settings(UNIT)
        cls.tmp = tempfile.mkdtemp(prefix="cw-systemd-")
        os.chmod(cls.tmp, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def unit_copy(self):
        """The unit with ExecStart pointing at the built binary."""
        with open(UNIT) as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/bin/connwatch ", text)
        path = os.path.join(self.tmp, "connwatch.service")
        with open(path, "w") as f:
            f.write(text.replace("ExecStart=/usr/bin/connwatch ",
                                 f"ExecStart={h.connwatch_bin()} "))
        return path

    def test_verify(self):
        out = subprocess.run(["systemd-analyze", "verify", "--no-pager", self.unit_copy()],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout)
        self.assertNotIn("connwatch.service:", out.stdout)  # no warning about the unit

    def test_exposure_score_is_the_readme_one(self):
        out = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                              self.unit_copy()], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout)
        self.assertIsNotNone(m, out.stdout[-2000:])
        score = float(m.group(1))
        with open(README) as f:
            documented = README_SCORE.findall(f.read())
        self.assertEqual(len(documented), 1, "README must state the score once")
        self.assertEqual(score, float(documented[0]),
                         f"exposure score {score}, README says {documented[0]}")
        self.assertLessEqual(score, MAX_EXPOSURE)

    def test_exactly_the_five_capabilities(self):
        for key in ("AmbientCapabilities", "CapabilityBoundingSet"):
            with self.subTest(key=key):
                self.assertEqual(set(one(self.settings, key).split()), THREE | EVENTS)
        self.assertEqual(one(self.settings, "NoNewPrivileges"), "yes")

    def test_syscall_filter_allows_bpf_only_for_the_events(self):
        # The program is loaded, attached (tp_btf: BPF_LINK_CREATE) and read (ring buffer,
        # mmap) through bpf(); perf_event_open, of perf buffers and kprobes, is not needed.
        allowed = allowed_syscalls(self.settings)
        self.assertIn("bpf", allowed)
        self.assertNotIn("perf_event_open", allowed)
        self.assertIn("capset", allowed)
        for denied in ("mount", "init_module", "ptrace", "reboot", "setrlimit"):
            self.assertNotIn(denied, allowed)

    def test_hardening(self):
        expected = {"User": "connwatch", "Group": "connwatch", "ProtectSystem": "strict",
                    "ProtectHome": "yes", "PrivateTmp": "yes", "ProtectProc": "invisible",
                    "StateDirectory": "connwatch", "Restart": "on-failure",
                    "EnvironmentFile": "-/etc/default/connwatch"}
        for key, value in expected.items():
            with self.subTest(key=key):
                self.assertEqual(one(self.settings, key), value)
        # ProcSubset=pid hides /proc/net, the fallback socket source.
        self.assertEqual(values(self.settings, "ProcSubset"), [])
        exec_start = shlex.split(one(self.settings, "ExecStart"))
        self.assertIn("--storage.path=/var/lib/connwatch", exec_start)
        self.assertEqual(exec_start[-1], "$CONNWATCH_ARGS")  # unbraced: split into flags

    def test_environment_file(self):
        out = subprocess.run(["sh", "-c", f'set -a; . {shlex.quote(ENV_FILE)}; '
                              'printf "%s" "${CONNWATCH_ARGS-unset}"'],
                             stdout=subprocess.PIPE, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertEqual(out.stdout, "")
        with open(ENV_FILE) as f:
            assignments = [line for line in f if line.strip() and not line.startswith("#")]
        self.assertEqual([a.split("=")[0] for a in assignments], ["CONNWATCH_ARGS"])

    def test_sysusers_creates_the_unit_user(self):
        root = os.path.join(self.tmp, "sysroot")
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        out = subprocess.run(["systemd-sysusers", f"--root={root}", SYSUSERS],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout)
        with open(os.path.join(root, "etc", "passwd")) as f:
            users = {line.split(":")[0]: line.strip().split(":") for line in f}
        user = one(self.settings, "User")
        self.assertIn(user, users)
        self.assertLess(int(users[user][2]), 1000, "not a system user")
        self.assertEqual(users[user][6], "/usr/sbin/nologin")

    def test_every_syscall_of_a_real_run_is_allowed(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (setpriv)")
        allowed = allowed_syscalls(self.settings)
        used = self.trace_serve()
        # A run that did not get far would prove little.
        self.assertTrue({"capset", "prctl", "readlinkat", "getdents64", "recvmsg",
                         "rt_sigtimedwait", "fsync", "renameat"} <= used, sorted(used))
        if self.events_source == "ebpf":  # the program was loaded under the unit's filter
            self.assertIn("bpf", used)
        self.assertEqual(sorted(used - allowed), [],
                         "syscalls connwatch uses that the unit's SystemCallFilter= denies")

    def trace_serve(self):
        """Runs connwatch serve under strace as the unit would (unprivileged, the unit's five
        as ambient caps), exercises it, and returns the syscall names its threads made."""
        state = os.path.join(self.tmp, "state")
        os.mkdir(state)
        os.chown(state, TEST_UID, -1)
        policy = os.path.join(self.tmp, "policy.yaml")
        with open(policy, "w") as f:
            f.write("listeners:\n  - {process: sshd, port: 22, protocol: tcp}\n")
        os.chmod(policy, 0o644)
        traces = os.path.join(self.tmp, "trace")
        os.mkdir(traces)
        log_path = os.path.join(self.tmp, "connwatch.log")
        caps = ",".join("+" + c[len("CAP_"):].lower() for c in sorted(THREE | EVENTS))
        command = ["strace", "-f", "-qq", "-ff", "-o", os.path.join(traces, "t"),
                   "setpriv", f"--reuid={TEST_USER}", f"--regid={TEST_GROUP}", "--clear-groups",
                   f"--inh-caps=-all,{caps}", f"--ambient-caps=-all,{caps}",
                   f"--bounding-set=-all,{caps}", "--pdeathsig=SIGKILL",
                   h.connwatch_bin(), "serve", "--web.listen-address=127.0.0.1:0",
                   "--collect.interval=1s", f"--storage.path={state}",
                   f"--config.file={policy}", "--web.enable-lifecycle"]
        with open(log_path, "wb") as log:
            strace = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                      preexec_fn=h._set_pdeathsig)
        h._children.append(strace)
        try:
            self.exercise(strace, log_path)
        finally:
            h.kill_process(strace)
        return self.syscalls(traces)

    def exercise(self, strace, log_path):
        def read_log():
            with open(log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")

        def listening():
            if strace.poll() is not None:
                raise AssertionError(f"strace/connwatch exited:\n{read_log()}")
            return re.search(r'msg="?listening"? address=127\.0\.0\.1:(\d+)', read_log())

        port = int(h.wait_until(listening, 60, "connwatch listening").group(1))
        url = f"http://127.0.0.1:{port}"
        with open(f"/proc/{strace.pid}/task/{strace.pid}/children") as f:
            connwatch_pid = int(f.read().split()[0])

        def samples():
            body = h.http_request(url + "/metrics").body.decode()
            m = re.search(r"^connwatch_samples_total (\S+)$", body, re.M)
            return m and float(m.group(1)) >= 3

        h.wait_until(samples, 60, "three samples")
        source = re.search(r'^connwatch_events_source_info\{source="(\w+)"\} 1$',
                           h.http_request(url + "/metrics").body.decode(), re.M)
        self.events_source = source.group(1) if source else None
        self.assertEqual(h.http_request(url + "/metrics",
                                        headers={"Accept-Encoding": "gzip"}).status, 200)
        self.assertEqual(h.http_request(url + "/").status, 200)
        self.assertEqual(h.http_request(url + "/nope").status, 404)
        self.assertEqual(h.http_request(url + "/metrics", method="POST").status, 405)
        self.assertEqual(h.http_request(url + "/-/reload", method="POST").status, 200)
        os.kill(connwatch_pid, signal.SIGHUP)
        h.wait_until(lambda: "trigger=SIGHUP" in read_log(), 30, "SIGHUP reload")
        # Kept: the three, and CAP_BPF and CAP_PERFMON with them while the eBPF source uses
        # them (a build without it, or before connection events, drops the two as extra).
        m = re.search(r'msg="?capabilities"? kept=(\S+) lacking=none', read_log())
        self.assertIsNotNone(m, read_log()[-3000:])
        kept = set(m.group(1).upper().split(","))
        self.assertIn(kept, (THREE, THREE | EVENTS))
        if self.events_source == "ebpf":
            self.assertEqual(kept, THREE | EVENTS)
        os.kill(connwatch_pid, signal.SIGTERM)
        strace.wait(timeout=30)
        self.assertRegex(read_log(), r'msg="?stopping"?')

    @staticmethod
    def syscalls(traces):
        """Names from strace -ff files: connwatch's main thread after its execve (before it,
        the thread was setpriv), every other thread (connwatch's own) entirely."""
        name = re.compile(r"^([a-z_][a-z0-9_]*)\(")
        used = set()
        for path in os.listdir(traces):
            with open(os.path.join(traces, path)) as f:
                lines = f.read().splitlines()
            execs = [i for i, line in enumerate(lines)
                     if line.startswith("execve(") and line.endswith("= 0")]
            for line in lines[execs[-1]:] if execs else lines:
                m = name.match(line)
                if m:
                    used.add(m.group(1))
        return used


if __name__ == "__main__":
    h.install_watchdog(280)
    unittest.main(verbosity=2)
