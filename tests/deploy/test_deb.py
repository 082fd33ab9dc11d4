#!/usr/bin/env python3
"""The Debian package, end to end, on this machine: build it with CPack from the build tree,
inspect it with dpkg-deb, install it with dpkg, run what it installed, remove and purge it.

This installs a real package as root (the CI machine is a throwaway Debian 12). It refuses to
run when a connwatch package it did not install is present, or when any file the package
would install already exists; it removes everything it installed, also when it fails or is
killed by ctest's timeout (SIGTERM).

Usage: test_deb.py --build-dir BUILD --version PROJECT_VERSION
"""

import argparse
import filecmp
import grp
import os
import pwd
import re
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "e2e"))
import connwatch_harness as h  # noqa: E402
from checklist import check, report  # noqa: E402

PACKAGE = "connwatch"
CONFFILE = "/etc/default/connwatch"
STATE_DIR = "/var/lib/connwatch"
# Written before this test installs the package, removed after it purged it: a package found
# installed with this marker present was left by a run of this test that was killed.
MARKER = "/var/tmp/connwatch-test_deb.installed"
# The TLS shim library (another part of the build) may add files here; anything else the
# package holds must be listed in expected_files().
SHIM_DIR = "/usr/lib/connwatch/"


def run(args, check_rc=True, timeout=300, **kw):
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, **kw)
    if check_rc and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}"
                             f"{proc.stderr}")
    return proc


def dpkg(*args):
    """dpkg, waiting (bounded) while another apt/dpkg run holds the lock."""
    deadline = time.monotonic() + 180
    while True:
        proc = run(["dpkg", *args], check_rc=False)
        if proc.returncode == 0:
            return proc
        if "lock" not in proc.stderr or time.monotonic() > deadline:
            raise AssertionError(f"dpkg {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}{proc.stderr}")
        time.sleep(2)


def package_status():
    """dpkg's status of the package ('install ok installed', ...) or None if unknown."""
    proc = run(["dpkg-query", "-W", "-f", "${Status}", PACKAGE], check_rc=False)
    if proc.returncode != 0 or proc.stdout.endswith("not-installed"):
        return None
    return proc.stdout


# ---------------------------------------------------------------------------------------------
# What the package must hold, from the source tree


def expected_files():
    """Installed path -> source file it must equal (None: built, not copied)."""
    files = {
        "/usr/bin/connwatch": None,
        "/lib/systemd/system/connwatch.service":
            os.path.join(REPO_ROOT, "deploy/systemd/connwatch.service"),
        CONFFILE: os.path.join(REPO_ROOT, "deploy/systemd/connwatch.default"),
        "/usr/share/connwatch/policy.example.yaml":
            os.path.join(REPO_ROOT, "deploy/policy.example.yaml"),
        "/usr/share/doc/connwatch/README.md": os.path.join(REPO_ROOT, "README.md"),
        "/usr/lib/sysusers.d/connwatch.conf":
            os.path.join(REPO_ROOT, "deploy/systemd/connwatch.sysusers"),
    }
    rules = os.path.join(REPO_ROOT, "rules")
    for name in sorted(os.listdir(rules)):  # the rule files and the runbook, not rules/tests
        if os.path.isfile(os.path.join(rules, name)):
            files[f"/usr/share/connwatch/rules/{name}"] = os.path.join(rules, name)
    dashboards = os.path.join(REPO_ROOT, "dashboards")
    for name in sorted(os.listdir(dashboards)):
        if name.endswith(".json"):
            files[f"/usr/share/connwatch/dashboards/{name}"] = os.path.join(dashboards, name)
    return files


# ---------------------------------------------------------------------------------------------
# The package file


def build_package(build_dir, out_dir):
    config = os.path.join(build_dir, "CPackConfig.cmake")
    if not os.path.exists(config):
        raise AssertionError(f"{config} not found: configure the build first")
    run(["cpack", "--config", config, "-B", out_dir], timeout=600)
    debs = [f for f in os.listdir(out_dir) if f.endswith(".deb")]
    if len(debs) != 1:
        raise AssertionError(f"cpack made {debs} in {out_dir}, expected one .deb")
    return os.path.join(out_dir, debs[0])


def control_field(deb, name):
    return run(["dpkg-deb", "--field", deb, name]).stdout.strip()


def package_of_library(path):
    """The Debian package owning a library file, resolving usrmerge (/lib -> /usr/lib)."""
    for candidate in (path, os.path.realpath(path)):
        proc = run(["dpkg", "-S", candidate], check_rc=False)
        if proc.returncode == 0:
            return proc.stdout.split(":")[0]
        if candidate.startswith("/usr/"):
            proc = run(["dpkg", "-S", candidate[4:]], check_rc=False)
            if proc.returncode == 0:
                return proc.stdout.split(":")[0]
    raise AssertionError(f"no Debian package owns {path}")


def needed_library_packages(binary):
    """Packages of the shared libraries the binary links (its DT_NEEDED, resolved by ldd)."""
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]", run(["readelf", "-d", binary]).stdout)
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", run(["ldd", binary]).stdout, re.M))
    packages = set()
    for lib in needed:
        if lib not in resolved:
            raise AssertionError(f"ldd does not resolve {lib} needed by {binary}")
        packages.add(package_of_library(resolved[lib]).split(":")[0])
    return packages


def check_package_file(deb, version, work):
    print(f"--- {os.path.basename(deb)}: dpkg-deb --info / --contents")
    info = run(["dpkg-deb", "--info", deb]).stdout
    check(control_field(deb, "Package") == PACKAGE, "Package: connwatch")
    check(control_field(deb, "Version") == version, f"Version is the project version {version}")
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    check(control_field(deb, "Architecture") == arch, f"Architecture: {arch}")
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        check(re.search(rf"^\s+\d+ bytes,\s+\d+ lines\s+\*?\s+{script}\b", info, re.M),
              f"control member {script}")

    control_dir = os.path.join(work, "control")
    run(["dpkg-deb", "--control", deb, control_dir])
    conffiles_path = os.path.join(control_dir, "conffiles")
    conffiles = []
    if os.path.exists(conffiles_path):
        with open(conffiles_path) as f:
            conffiles = f.read().split()
    check(conffiles == [CONFFILE], f"conffiles is exactly {CONFFILE} (got {conffiles})")
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(control_dir, script)
        check(os.stat(path).st_mode & 0o777 == 0o755, f"{script} is mode 0755")
        check(run(["sh", "-n", path], check_rc=False).returncode == 0, f"{script}: sh -n")

    # Contents: exactly the expected files (plus the TLS shim's), byte-equal to the sources.
    root = os.path.join(work, "root")
    run(["dpkg-deb", "--extract", deb, root])
    listing = run(["dpkg-deb", "--contents", deb]).stdout.splitlines()
    packaged = {}
    for line in listing:
        mode, owner = line.split()[0], line.split()[1]
        path = line.split(None, 5)[5].split(" -> ")[0].lstrip(".")
        check(owner == "root/root", f"{path} owned by root/root")
        if not mode.startswith("d"):
            packaged[path] = mode
    expected = expected_files()
    extra = sorted(p for p in packaged if p not in expected and not p.startswith(SHIM_DIR))
    missing = sorted(p for p in expected if p not in packaged)
    check(not missing, f"no expected file missing (missing: {missing})")
    check(not extra, f"no unexpected file (extra: {extra})")
    check(not any("/rules/tests" in p for p in packaged), "rules/tests is not packaged")
    for path, source in expected.items():
        if source and path in packaged:
            check(filecmp.cmp(os.path.join(root, path.lstrip("/")), source, shallow=False),
                  f"{path} equals {os.path.relpath(source, REPO_ROOT)}")
    # README "Install on a host" lists where things land: every path it names is packaged.
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
        section = f.read().partition("## Install on a host")[2].partition("\n## ")[0]
    named = re.findall(r"^- `(/[^`]+)`:", section, re.M)
    check(len(named) >= 5 and all(p in packaged or any(q.startswith(p) for q in packaged)
                                  for p in named),
          f"README's 'What lands where' names packaged paths {named}")
    check(packaged.get("/usr/bin/connwatch") == "-rwxr-xr-x", "/usr/bin/connwatch is 0755")
    check(packaged.get(CONFFILE) == "-rw-r--r--", f"{CONFFILE} is 0644")

    # Depends: every library the packaged binary links, plus what it needs but cannot link.
    depends = {d.strip().split()[0] for d in control_field(deb, "Depends").split(",")}
    binary = os.path.join(root, "usr/bin/connwatch")
    for needed in sorted(needed_library_packages(binary)):
        check(needed in depends, f"Depends names {needed} (a linked library)")
    check("adduser" in depends, "Depends names adduser (postinst)")
    check("libssl3" in depends, "Depends names libssl3 (civetweb dlopens OpenSSL)")


# Lintian tags that stay until the project has a license (debian/copyright) and a release
# history (changelog) to ship, and a man page. Anything else lintian reports fails the test.
LINTIAN_KNOWN = {"no-copyright-file", "no-changelog", "no-manual-page"}


def check_lintian(deb):
    print("--- lintian")
    lintian = shutil.which("lintian")
    if not check(lintian is not None, "lintian is installed (README command 2)"):
        return
    out = run([lintian, "--tag-display-limit", "0", deb], check_rc=False, timeout=600)
    tags = re.findall(r"^([EWI]): \S+: (\S+)(.*)$", out.stdout, re.M)
    bad = [f"{level}: {tag}{rest}" for level, tag, rest in tags
           if level in "EW" and tag not in LINTIAN_KNOWN]
    check(not bad, "lintian reports no errors or warnings but the known "
          f"{sorted(LINTIAN_KNOWN)}" + (f": {bad}" if bad else ""))


# ---------------------------------------------------------------------------------------------
# The installed package


def start_installed_server(work, extra_args=(), scheme="http", log_name="serve.log"):
    """The installed binary as the service user on a kernel-chosen loopback port, with the
    real state directory (as connwatch.service runs it). Returns (proc, url, log path)."""
    log_path = os.path.join(work, log_name)
    args = ["setpriv", "--reuid=connwatch", "--regid=connwatch", "--init-groups", "--",
            "/usr/bin/connwatch", "--web.listen-address=127.0.0.1:0",
            f"--storage.path={STATE_DIR}", "--collect.interval=1s", *extra_args]
    with open(log_path, "wb") as log:
        proc = h._track(subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, preexec_fn=h._set_pdeathsig))

    def read_log():
        with open(log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def listening():
        m = h._LISTENING.search(read_log())
        if m:
            return m.group(1)
        if proc.poll() is not None:
            raise RuntimeError(f"connwatch exited {proc.returncode}:\n{read_log()}")
        return None

    address = h.wait_until(listening, 30, "the installed connwatch's 'listening' log line")
    return proc, f"{scheme}://{address}", read_log


def check_installed_tls(work):
    """The installed binary serves HTTPS (terminated by its HTTP front, linked with the runtime
    libssl.so.3)."""
    print("--- installed, over HTTPS")
    tls_dir = os.path.join(work, "tls")
    os.makedirs(tls_dir)
    cert, key = os.path.join(tls_dir, "server.crt"), os.path.join(tls_dir, "server.key")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert])
    web_config = os.path.join(tls_dir, "web.yml")
    with open(web_config, "w") as f:
        f.write("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
    connwatch = pwd.getpwnam("connwatch")
    for path in (work, tls_dir, cert, key, web_config):
        os.chown(path, connwatch.pw_uid, connwatch.pw_gid)
    proc, url, read_log = start_installed_server(
        work, [f"--web.config.file={web_config}"], "https", "serve-tls.log")
    try:
        context = ssl.create_default_context(cafile=cert)

        def scraped():
            try:
                with urllib.request.urlopen(url + "/metrics", context=context, timeout=10) as r:
                    return r.read() if r.status == 200 else None
            except (OSError, ssl.SSLError):
                return None

        body = h.wait_until(scraped, 30, "a 200 from https://…/metrics")
        check(b"connwatch_build_info" in body, "the installed binary serves /metrics over HTTPS")
        with open(f"/proc/{proc.pid}/maps") as f:
            maps = f.read()
        # TLS is the HTTP front's (linked libssl.so.3); civetweb serves plain HTTP on
        # 127.0.0.1 behind it and loads no libssl.so of its own any more.
        check("libssl.so.3" in maps, "the front's TLS runs on the runtime libssl.so.3")
        check(proc.poll() is None, "still running after the HTTPS scrape")
    finally:
        h.kill_process(proc)
    check(proc.returncode == 0, "HTTPS connwatch stopped cleanly on SIGTERM" + (
        "" if proc.returncode == 0 else f" (exit {proc.returncode}); log:\n{read_log()}"))


def check_installed(version, work):
    print("--- installed")
    status = package_status()
    check(status == "install ok installed", f"dpkg status: {status}")
    try:
        user = pwd.getpwnam("connwatch")
    except KeyError:
        user = None
    if check(user is not None, "user connwatch exists"):
        check(user.pw_uid < 1000, f"connwatch is a system user (uid {user.pw_uid} < 1000)")
        check(user.pw_shell in ("/usr/sbin/nologin", "/bin/false"),
              f"connwatch cannot log in (shell {user.pw_shell})")
        check(grp.getgrgid(user.pw_gid).gr_name == "connwatch", "its group is connwatch")
    st = os.stat(STATE_DIR) if os.path.isdir(STATE_DIR) else None
    if check(st is not None, f"{STATE_DIR} exists"):
        check(user is not None and st.st_uid == user.pw_uid and st.st_gid == user.pw_gid,
              f"{STATE_DIR} is owned by connwatch:connwatch")
        check(stat.S_IMODE(st.st_mode) == 0o750, f"{STATE_DIR} is mode 0750")
    conffiles = run(["dpkg-query", "-W", "-f", "${Conffiles}", PACKAGE]).stdout
    check(CONFFILE in conffiles, f"dpkg records {CONFFILE} as a conffile")

    out = run(["/usr/bin/connwatch", "--version"], check_rc=False)
    check(out.returncode == 0 and re.search(rf"\bversion {re.escape(version)}\b", out.stdout),
          f"connwatch --version prints {version}: {out.stdout.strip()!r}")
    out = run(["/usr/bin/connwatch", "validate", "/usr/share/connwatch/policy.example.yaml"],
              check_rc=False)
    check(out.returncode == 0, "connwatch validate policy.example.yaml exits 0" + (
        "" if out.returncode == 0 else f" (got {out.returncode}: {out.stdout}{out.stderr})"))
    out = run(["systemd-analyze", "verify", "/lib/systemd/system/connwatch.service"],
              check_rc=False)
    check(out.returncode == 0 and not (out.stdout + out.stderr).strip(),
          f"systemd-analyze verify connwatch.service is clean ({out.stdout}{out.stderr})")

    proc, url, read_log = start_installed_server(work)
    try:
        def scraped():
            resp = h.http_request(url + "/metrics")
            return resp if resp.status == 200 else None

        resp = h.wait_until(scraped, 30, "a 200 from /metrics (after the first sample)")
        samples = h.parse_exposition(resp.body.decode("utf-8"))
        info = [s for s in samples if s.name == "connwatch_build_info"]
        check(len(info) == 1 and info[0].labels.get("version") == version,
              f"the installed binary serves /metrics with connwatch_build_info version "
              f"{version} ({info})")
        state = os.path.join(STATE_DIR, "connections.state")
        h.wait_until(lambda: os.path.exists(state), 30, f"{state}")
        check(os.stat(state).st_uid == pwd.getpwnam("connwatch").pw_uid,
              "the service user writes its state into the state directory")
    finally:
        h.kill_process(proc)
    check(proc.returncode == 0, "connwatch stopped cleanly on SIGTERM" + (
        "" if proc.returncode == 0 else f" (exit {proc.returncode}); log:\n{read_log()}"))


def check_removed():
    print("--- removed (dpkg -r)")
    check(package_status() == "deinstall ok config-files", f"status: {package_status()}")
    for path in expected_files():
        if path != CONFFILE:
            check(not os.path.exists(path), f"{path} is gone")
    for directory in ("/usr/share/connwatch", "/usr/share/doc/connwatch", SHIM_DIR):
        check(not os.path.exists(directory), f"{directory} is gone")
    if check(os.path.exists(CONFFILE), f"the conffile {CONFFILE} stays"):
        with open(CONFFILE) as f:
            check("# edited by test_deb" in f.read(), "with the admin's edit")
    check(os.path.exists(os.path.join(STATE_DIR, "connections.state")),
          f"the state in {STATE_DIR} stays until purge")


def check_purged():
    print("--- purged (dpkg -P)")
    check(package_status() is None, f"status: {package_status()}")
    check(not os.path.exists(CONFFILE), f"the conffile {CONFFILE} is gone")
    check(not os.path.exists(STATE_DIR), f"{STATE_DIR} is gone")
    check(not os.path.exists("/usr/bin/connwatch"), "nothing left in /usr/bin")
    check(not os.path.exists("/usr/share/connwatch"), "nothing left in /usr/share/connwatch")
    check(user_exists(), "the system user stays after purge (Debian habit)")


def user_exists():
    try:
        pwd.getpwnam("connwatch")
        return True
    except KeyError:
        return False


# ---------------------------------------------------------------------------------------------


def refuse_if_not_ours(deb_files):
    """Exits 2 when the machine holds a connwatch this test did not install."""
    status = package_status()
    if status is not None:
        if os.path.exists(MARKER):
            print(f"note: purging the {PACKAGE} package a killed earlier run left ({MARKER})")
            dpkg("--purge", PACKAGE)
            os.unlink(MARKER)
        else:
            sys.exit(f"test_deb: refusing to run: a {PACKAGE} package is installed ({status}) "
                     "that this test did not install; purging it would destroy its "
                     "configuration and state")
    present = [p for p in deb_files + [STATE_DIR] if os.path.lexists(p)]
    if present:
        sys.exit(f"test_deb: refusing to run: {present} already exist(s) without the "
                 f"{PACKAGE} package; installing and purging would overwrite or delete them")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--version", required=True, help="the project version from CMake")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("test_deb: must run as root (it installs a package)")

    work = tempfile.mkdtemp(prefix="cw-test-deb-")
    user_existed = user_exists()
    owned = False  # past the refusal: what the package installs is this test's to remove

    def on_signal(signum, frame):
        raise SystemExit(f"test_deb: signal {signum}, cleaning up")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Our own limit, below ctest's TIMEOUT: ctest kills with SIGKILL, which allows no cleanup.
    signal.signal(signal.SIGALRM, on_signal)
    signal.alarm(600)
    try:
        deb = build_package(args.build_dir, os.path.join(work, "out"))
        check_package_file(deb, args.version, work)
        check_lintian(deb)
        deb_files = [p for p in expected_files()]
        refuse_if_not_ours(deb_files)

        print("--- dpkg -i")
        with open(MARKER, "w") as f:
            f.write(f"{deb}\n")
        owned = True
        dpkg("-i", deb)
        check_installed(args.version, work)
        check_installed_tls(work)

        # Reinstalling (the upgrade path of the maintainer scripts) keeps the admin's edit
        # of the conffile, the user and the state.
        with open(CONFFILE, "a") as f:
            f.write("# edited by test_deb\n")
        print("--- dpkg -i again (upgrade path)")
        dpkg("-i", deb)
        check(package_status() == "install ok installed", "reinstalled")
        check(os.path.exists(CONFFILE) and "# edited by test_deb" in open(CONFFILE).read(),
              "the admin's conffile edit survives")
        check(os.path.exists(os.path.join(STATE_DIR, "connections.state")),
              "the state survives the reinstall")

        dpkg("--remove", PACKAGE)
        check_removed()
        dpkg("--purge", PACKAGE)
        check_purged()
    finally:
        h.kill_all_children()
        if owned and package_status() is not None:
            print("cleanup: purging the package")
            dpkg("--purge", PACKAGE)
        if owned:
            # None of these existed before (refuse_if_not_ours): what a broken purge left
            # behind goes too, so the next run starts clean.
            for path in [MARKER, STATE_DIR] + list(expected_files()):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                elif os.path.lexists(path):
                    os.unlink(path)
        if not user_existed and user_exists():
            print("cleanup: removing the connwatch user this test's install created")
            run(["deluser", "--system", "--quiet", "connwatch"], check_rc=False)
            run(["delgroup", "--system", "--quiet", "connwatch"], check_rc=False)
        shutil.rmtree(work, ignore_errors=True)

    return report("test_deb")


if __name__ == "__main__":
    sys.exit(main())
