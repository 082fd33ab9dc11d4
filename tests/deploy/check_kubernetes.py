#!/usr/bin/env python3
"""Checks deploy/kubernetes/ and deploy/Dockerfile.

- The generated manifests are what deploy/kubernetes/generate.py writes now (regenerated
  into a temp dir and compared byte for byte).
- Every manifest parses; the kustomization lists exactly the manifests.
- The DaemonSet: host PID and network, host /proc read-only as --path.procfs, exactly the
  capabilities DAC_READ_SEARCH, SYS_PTRACE, NET_ADMIN, SYS_ADMIN (setns), BPF and PERFMON
  (the eBPF connection events), no privilege
  escalation, read-only root, requests and limits, a hostPath state dir as --storage.path,
  the host's / read-only with HostToContainer propagation as --path.rootfs and /sys as
  --path.sysfs, every network namespace read, probes, tolerations for every node, the policy
  ConfigMap as --config.file; the ServiceMonitor honours connwatch's namespace/pod/container
  labels.
- Consistency: selectors match pod labels; Service, container, probes and ServiceMonitor
  agree on the port; the ConfigMap's policy passes the real `connwatch validate`; the
  PrometheusRule's groups are the rule files' groups and pass `promtool check rules`.
- The real connwatch binary, started with the DaemonSet's own args (host paths mapped to
  local ones as the kubelet would mount them) under its securityContext (uid, capability
  bounding set, no_new_privs, through setpriv), serves, answers both probes and names the
  process owning another user's socket.
- deploy/Dockerfile (parsed, not built: no container engine runs here): Debian 12 bases,
  packages only from apt-get, no downloads, the .deb built by CPack and installed with apt,
  ENTRYPOINT and EXPOSE matching the DaemonSet.
- With kubectl on PATH (README command 2 installs none), `kubectl kustomize` builds the set
  and the README's overlay; without it those checks are skipped. Nothing is applied to a cluster (none is reachable here).

Environment: CONNWATCH_BIN (the built connwatch), SOCKHOLDER_BIN (tests/support/sockholder),
PROMTOOL_BIN (default promtool). Runs as root (it starts processes as other users).
"""

import filecmp
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.exit(f"{os.path.basename(__file__)}: PyYAML is missing: apt-get install python3-yaml "
             f"(this is {sys.executable})")

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KUBE_DIR = os.path.join(REPO_ROOT, "deploy", "kubernetes")
DOCKERFILE = os.path.join(REPO_ROOT, "deploy", "Dockerfile")
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "e2e"))
import connwatch_harness as h  # noqa: E402

sys.path.insert(0, KUBE_DIR)
sys.dont_write_bytecode = True  # no __pycache__ in deploy/kubernetes
import generate  # noqa: E402
from checklist import check, report  # noqa: E402

CAPABILITIES = {"DAC_READ_SEARCH", "SYS_PTRACE", "NET_ADMIN", "SYS_ADMIN", "BPF", "PERFMON"}
ENTRYPOINT = ["/usr/bin/connwatch"]


def load_manifests():
    """{file name: [documents]} for every YAML file of deploy/kubernetes."""
    manifests = {}
    for name in sorted(os.listdir(KUBE_DIR)):
        if name.endswith(".yaml"):
            with open(os.path.join(KUBE_DIR, name), encoding="utf-8") as f:
                manifests[name] = [d for d in yaml.safe_load_all(f) if d is not None]
    return manifests


def one(objects, kind):
    found = [o for o in objects if o.get("kind") == kind]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind}, found {len(found)}")
    return found[0]


def flag_values(args):
    """{'--flag': 'value'} from ['--flag=value', ...]."""
    values = {}
    for arg in args:
        name, eq, value = arg.partition("=")
        check(eq == "=" and name.startswith("--"), f"container arg {arg!r} is --flag=value")
        values[name] = value
    return values


_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_FACTORS = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(text):
    m = _QUANTITY.match(str(text))
    if not m:
        raise AssertionError(f"not a Kubernetes quantity: {text!r}")
    return float(m.group(1)) * _FACTORS[m.group(2)]


# ---------------------------------------------------------------------------------------------


def check_generated(work):
    print("--- generated manifests are current")
    out = os.path.join(work, "generated")
    proc = subprocess.run([sys.executable, os.path.join(KUBE_DIR, "generate.py"), "--out", out],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60)
    if not check(proc.returncode == 0, f"generate.py runs ({proc.stdout.strip()})"):
        return
    for name in generate.GENERATED:
        committed = os.path.join(KUBE_DIR, name)
        check(os.path.exists(committed) and
              filecmp.cmp(os.path.join(out, name), committed, shallow=False),
              f"deploy/kubernetes/{name} is current (else run deploy/kubernetes/generate.py)")


def check_kustomization(manifests):
    print("--- kustomization")
    kust = manifests["kustomization.yaml"][0]
    listed = kust.get("resources", [])
    files = sorted(n for n in manifests if n != "kustomization.yaml")
    check(sorted(listed) == files, f"kustomization resources {sorted(listed)} == {files}")
    for name, docs in manifests.items():
        if name == "kustomization.yaml":
            continue
        check(len(docs) == 1, f"{name} holds one object")
        for d in docs:
            check(all(d.get(k) for k in ("apiVersion", "kind")) and
                  d.get("metadata", {}).get("name"), f"{name}: apiVersion, kind, metadata.name")
    namespace = one(objects_of(manifests), "Namespace")
    check(kust.get("namespace") == namespace["metadata"]["name"],
          "the kustomization's namespace is the Namespace object's")
    check(namespace["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce")
          == "privileged", "the namespace admits privileged pods (hostPID, hostPath, caps)")
    return kust


def objects_of(manifests):
    return [d for name, docs in manifests.items() if name != "kustomization.yaml" for d in docs]


def check_daemonset(ds, objects):
    print("--- DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    selector = ds["spec"]["selector"]["matchLabels"]
    check(selector.items() <= pod_labels.items(), "DaemonSet selector matches its pod labels")
    check(pod.get("hostPID") is True, "hostPID: true")
    check(pod.get("hostNetwork") is True, "hostNetwork: true")
    check(pod.get("automountServiceAccountToken") is False, "no service account token")
    sa = one(objects, "ServiceAccount")
    check(pod.get("serviceAccountName") == sa["metadata"]["name"], "its own ServiceAccount")
    check({"operator": "Exists"} in pod.get("tolerations", []),
          "tolerates every taint (operator: Exists, no key, no effect)")

    containers = pod["containers"]
    check(len(containers) == 1, "one container")
    c = containers[0]
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    check(caps.get("drop") == ["ALL"], "capabilities drop ALL")
    added = caps.get("add", [])
    check(len(added) == len(set(added)) and set(added) == CAPABILITIES,
          f"capabilities add exactly {sorted(CAPABILITIES)} (got {added})")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem: true")
    check(sc.get("privileged") in (None, False), "not privileged")
    check(sc.get("runAsUser") == 0 and sc.get("runAsNonRoot") is False,
          "runs as uid 0 on purpose (no ambient capabilities for non-root containers)")
    pod_sc = pod.get("securityContext", {})
    check("capabilities" not in pod_sc and not pod_sc.get("privileged"),
          "the pod securityContext adds nothing")

    res = c.get("resources", {})
    for kind in ("cpu", "memory"):
        req, lim = res.get("requests", {}).get(kind), res.get("limits", {}).get(kind)
        if check(req is not None and lim is not None, f"{kind} request and limit set"):
            check(0 < quantity(req) <= quantity(lim), f"{kind} request {req} <= limit {lim}")

    flags = flag_values(c.get("args", []))
    check(c.get("command") in (None, ENTRYPOINT),
          "no command: the image's ENTRYPOINT runs (or the same command)")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}

    def volume_at(path):
        m = mounts.get(path)
        return (m, volumes.get(m["name"])) if m else (None, None)

    m, v = volume_at(flags.get("--path.procfs"))
    check(v is not None and v.get("hostPath", {}).get("path") == "/proc" and
          m.get("readOnly") is True, "--path.procfs is the host's /proc, mounted read-only")
    m, v = volume_at(flags.get("--path.rootfs"))
    check(v is not None and v.get("hostPath", {}).get("path") == "/" and
          m.get("readOnly") is True and m.get("mountPropagation") == "HostToContainer",
          "--path.rootfs is the host's /, read-only, with HostToContainer propagation (pins "
          "under /run/netns made later appear)")
    m, v = volume_at(flags.get("--path.sysfs"))
    check(v is not None and v.get("hostPath", {}).get("path") == "/sys" and
          m.get("readOnly") is True, "--path.sysfs is the host's /sys, mounted read-only")
    check(flags.get("--collector.netns") == "all", "--collector.netns=all: every pod's namespace")
    m, v = volume_at(flags.get("--storage.path"))
    check(v is not None and "hostPath" in v and not m.get("readOnly") and
          v["hostPath"].get("type") == "DirectoryOrCreate",
          "--storage.path is a writable hostPath directory (state survives the pod)")
    config = flags.get("--config.file", "")
    m, v = volume_at(os.path.dirname(config))
    configmap = one(objects, "ConfigMap")
    key = os.path.basename(config)
    check(v is not None and v.get("configMap", {}).get("name") ==
          configmap["metadata"]["name"] and key in configmap.get("data", {}),
          f"--config.file {config} is key {key} of ConfigMap {configmap['metadata']['name']}")

    ports = c.get("ports", [])
    check(len(ports) == 1, "one container port")
    port = ports[0]
    listen = flags.get("--web.listen-address", "")
    check(listen.rpartition(":")[2] == str(port["containerPort"]),
          f"--web.listen-address {listen} is the container port {port['containerPort']}")
    for probe in ("livenessProbe", "readinessProbe"):
        get = c.get(probe, {}).get("httpGet", {})
        check(get.get("path") and get.get("port") in (port["name"], port["containerPort"]),
              f"{probe}: httpGet on the metrics port")
    return c, port, flags


def check_service_and_monitor(ds, objects, port):
    print("--- Service and ServiceMonitor")
    svc = one(objects, "Service")
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    check(svc["spec"]["selector"].items() <= pod_labels.items(),
          "the Service selects the DaemonSet's pods")
    svc_ports = svc["spec"]["ports"]
    check(len(svc_ports) == 1, "one Service port")
    sp = svc_ports[0]
    check(sp["port"] == port["containerPort"], "Service port == container port")
    check(sp.get("targetPort") in (port["name"], port["containerPort"]),
          "Service targetPort is the container port")
    check("connwatch" in svc["metadata"]["name"],
          "the Service name (the Prometheus job) contains connwatch, as the alerts expect")
    sm = one(objects, "ServiceMonitor")
    check(sm["spec"]["selector"]["matchLabels"].items() <=
          svc["metadata"].get("labels", {}).items(), "the ServiceMonitor selects the Service")
    endpoints = sm["spec"]["endpoints"]
    check(len(endpoints) == 1 and endpoints[0].get("port") == sp["name"],
          "the ServiceMonitor endpoint port is the Service port's name")
    check(endpoints[0].get("path", "/metrics") == "/metrics", "it scrapes /metrics")
    check(endpoints[0].get("honorLabels") is True,
          "honorLabels: true (namespace, pod, container are the sockets' pods, not connwatch's)")


def check_policy_and_rules(objects, connwatch, work):
    print("--- ConfigMap policy and PrometheusRule")
    cm = one(objects, "ConfigMap")
    for key, text in cm["data"].items():
        path = os.path.join(work, key)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        proc = subprocess.run([connwatch, "validate", path], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)
        check(proc.returncode == 0, f"`connwatch validate` accepts the ConfigMap's {key}" +
              ("" if proc.returncode == 0 else f":\n{proc.stdout}"))

    rule = one(objects, "PrometheusRule")
    expected = []
    for relpath in generate.RULE_SOURCES:
        with open(os.path.join(REPO_ROOT, relpath), encoding="utf-8") as f:
            expected += yaml.safe_load(f)["groups"]
    groups = rule["spec"]["groups"]
    check(groups == expected, f"PrometheusRule groups == the groups of "
          f"{' + '.join(generate.RULE_SOURCES)} ({len(groups)} groups)")
    rules_file = os.path.join(work, "prometheusrule-groups.yaml")
    with open(rules_file, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": groups}, f)
    promtool = h.promtool_bin()
    proc = subprocess.run([promtool, "check", "rules", rules_file], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60)
    check(proc.returncode == 0, "promtool check rules accepts the PrometheusRule's groups" +
          ("" if proc.returncode == 0 else f":\n{proc.stdout}"))


def container_security_wrapper(container, work):
    """A script that execs connwatch as a container runtime starts the container's process
    under its securityContext: runAsUser/runAsGroup, a bounding set of exactly the added
    capabilities (all others dropped; a root process then holds exactly those, a non-root one
    none, as there are no ambient capabilities), and no_new_privs for
    allowPrivilegeEscalation: false."""
    sc = container["securityContext"]
    caps = sc["capabilities"]
    bounding = ",".join(["-all"] + [f"+{c.lower()}" for c in caps.get("add", [])])
    command = ["setpriv", f"--reuid={sc.get('runAsUser', 0)}",
               f"--regid={sc.get('runAsGroup', 0)}", "--clear-groups",
               f"--bounding-set={bounding}", "--inh-caps=-all"]
    if sc.get("allowPrivilegeEscalation") is False:
        command.append("--no-new-privs")
    path = os.path.join(work, "connwatch-in-container")
    with open(path, "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\nexec " + shlex.join(command + ["--", h.connwatch_bin()]) +
                ' "$@"\n')
    os.chmod(path, 0o755)
    return path, shlex.join(command)


def start_other_users_listener(work):
    """A sockholder running as nobody, listening on loopback: a socket of another user."""
    directory = tempfile.mkdtemp(dir=work, prefix="other-user-")
    os.chmod(work, 0o755)
    os.chmod(directory, 0o755)
    exe = os.fsdecode(h.install_executable(directory, "cw-kube-other"))
    return h.Holder(exe, ["--tcp-listen", "127.0.0.1:0"],
                    prefix=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"])


def run_with_daemonset_args(ds, container, flags, objects, work):
    """Starts the real connwatch with the DaemonSet's args and securityContext, each mount
    path mapped to what the kubelet would mount there: a read-only hostPath to the same host
    path, a writable one to a temp dir (never this machine's real one), a ConfigMap to a dir
    of its keys. It must answer both probes and name the owner of another user's socket (what
    DAC_READ_SEARCH and SYS_PTRACE, as root, are for)."""
    print("--- the DaemonSet's args and securityContext, run")
    volumes = {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}
    configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    local = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "hostPath" in volume and mount.get("readOnly"):
            local[mount["mountPath"]] = volume["hostPath"]["path"]
        elif "hostPath" in volume:
            local[mount["mountPath"]] = tempfile.mkdtemp(dir=work, prefix="hostpath-")
        elif "configMap" in volume:
            d = tempfile.mkdtemp(dir=work, prefix="configmap-")
            for key, text in configmaps[volume["configMap"]["name"]]["data"].items():
                with open(os.path.join(d, key), "w", encoding="utf-8") as f:
                    f.write(text)
            local[mount["mountPath"]] = d
    args = []
    for name, value in flags.items():
        if name == "--web.listen-address":
            continue  # the harness listens on a kernel-chosen loopback port instead
        for mount_path, path in local.items():
            if value == mount_path or value.startswith(mount_path + "/"):
                value = path + value[len(mount_path):]
        args.append(f"{name}={value}")
    wrapper, security = container_security_wrapper(container, work)
    print(f"{security} -- connwatch {' '.join(args)}")
    holder = start_other_users_listener(work)
    os.environ["CONNWATCH_BIN"], binary = wrapper, h.connwatch_bin()
    if not any(a.startswith("--collect.events") for a in args):
        # The pod's default (auto), which the harness would otherwise turn off.
        args.append("--collect.events=auto")
    server = h.Connwatch(*args, subcommand=(), interval="1s")  # no subcommand, as in the pod
    try:
        server.start()
        os.environ["CONNWATCH_BIN"] = binary
        live = container["livenessProbe"]["httpGet"]["path"]
        ready = container["readinessProbe"]["httpGet"]["path"]
        check(server.get(live).status == 200, f"liveness probe GET {live} -> 200")
        h.wait_until(lambda: server.get(ready).status == 200, 30, f"readiness GET {ready}")
        check(True, f"readiness probe GET {ready} -> 200 once sampled")
        state = local[flags["--storage.path"]]
        h.wait_until(lambda: os.listdir(state), 30, "state written to --storage.path")
        check(True, f"state written to the --storage.path volume: {os.listdir(state)}")
        port = str(holder.ready["tcp_listen"][0]["port"])
        owners = [s.labels.get("process") for s in
                  server.scrape().select("connwatch_listener_info", port=port)]
        check(owners == [holder.name], f"a listener of user nobody (port {port}) is "
              f"attributed to its process {holder.name!r} (got {owners})")
        exp = server.scrape()
        check(exp.value("connwatch_collector_success", collector="netns") == 1 and
              exp.value("connwatch_netns_errors_total", kind="setns") == 0,
              "every network namespace is read, setns() allowed by the securityContext")
        check(re.search(r"kept=\S*cap_sys_admin", server.log()) is not None,
              "SYS_ADMIN kept for setns()")
        # The connection events: eBPF where the build has it (BPF and PERFMON in the bounding
        # set, kept), else sock_diag; a build before connection events exports neither.
        sources = [s.labels.get("source") for s in exp.select("connwatch_events_source_info")
                   if s.value == 1]
        if sources == ["ebpf"]:
            kept = re.search(r"kept=(\S+)", server.log())
            kept = set(kept.group(1).split(",")) if kept else set()
            check({"cap_bpf", "cap_perfmon"} <= kept,
                  "BPF and PERFMON kept for the eBPF connection events")
        else:
            check(sources in ([], ["sock_diag"]), f"connection events from {sources or 'none'}: "
                  "no eBPF in this build, sock_diag or none (an event source of 'off' here "
                  "would mean the securityContext broke both)")
    finally:
        os.environ["CONNWATCH_BIN"] = binary
        if server.proc:
            h.kill_process(server.proc)
        holder.stop()


# ---------------------------------------------------------------------------------------------
# Dockerfile


def dockerfile_instructions(path):
    """[(INSTRUCTION, arguments)] with continuation lines joined and comments dropped."""
    instructions, current = [], ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            stripped = line.strip()
            if not current and (not stripped or stripped.startswith("#")):
                continue
            if stripped.startswith("#"):
                continue
            if stripped.endswith("\\"):
                current += stripped[:-1] + " "
                continue
            current += stripped
            keyword, _, rest = current.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            current = ""
    return instructions


def apt_packages(run_text):
    """Package names after each `apt-get install` in a RUN (options skipped)."""
    packages = []
    for command in re.split(r"&&|;|\|\|", run_text):
        words = shlex.split(command)
        if "apt-get" in words and "install" in words:
            after = words[words.index("install") + 1:]
            packages += [w for w in after if not w.startswith("-")]
    return packages


def readme_command1_packages():
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return apt_packages(block.splitlines()[0].split("&& cmake")[0])


def check_dockerfile(container, port):
    print("--- deploy/Dockerfile (parsed; no container engine runs here, so it is not built)")
    instructions = dockerfile_instructions(DOCKERFILE)
    check(instructions and instructions[0][0] == "FROM", "the Dockerfile starts with FROM")
    stages = {}
    for keyword, rest in instructions:
        if keyword == "FROM":
            words = rest.split()
            image = words[0]
            check(re.fullmatch(r"debian:12(-slim)?(@sha256:[0-9a-f]{64})?", image) is not None,
                  f"FROM {image} is a Debian 12 image")
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else len(stages)
            stages[name] = []
        elif stages:
            stages[list(stages)[-1]].append((keyword, rest))
    check(len(stages) == 2, f"two stages, build and runtime ({list(stages)})")
    forbidden = re.compile(r"\b(curl|wget|pip3?|npm|npx|yarn|gem|go\s+(get|install)|"
                           r"git\s+clone|add-apt-repository|apt-key)\b|https?://|sources\.list")
    steps = [(k, r) for stage in stages.values() for k, r in stage]
    check(not [r for k, r in steps if k == "ADD"], "no ADD (COPY only; ADD can download)")
    runs = [r for k, r in steps if k == "RUN"]
    downloads = [m.group(0) for r in runs for m in [forbidden.search(r)] if m]
    check(not downloads, f"no RUN downloads anything but apt packages ({downloads})")
    installers = {tool for r in runs for tool in re.findall(r"(\S+)\s+install\b", r)}
    check(installers == {"apt-get"}, f"apt-get is the only installer ({sorted(installers)})")
    build_steps = stages.get("build", [])
    build_packages = set(p for k, r in build_steps if k == "RUN" for p in apt_packages(r))
    wanted = set(readme_command1_packages()) | {"dpkg-dev", "file"}
    check(wanted <= build_packages, f"the build stage installs README command 1's packages "
          f"and dpkg-dev, file (missing: {sorted(wanted - build_packages)})")
    check(any(k == "RUN" and "--target package" in r for k, r in build_steps),
          "the build stage builds the .deb with CPack (--target package)")
    runtime = stages[list(stages)[-1]]
    check(any(k == "COPY" and r.startswith("--from=build ") for k, r in runtime),
          "the runtime stage copies the package from the build stage")
    runtime_packages = [p for k, r in runtime if k == "RUN" for p in apt_packages(r)]
    check(len(runtime_packages) == 1 and runtime_packages[0].endswith(".deb"),
          f"the runtime stage installs only the .deb, with apt-get ({runtime_packages})")
    entrypoints = [json.loads(r) for k, r in runtime if k == "ENTRYPOINT"]
    check(entrypoints == [ENTRYPOINT], f"ENTRYPOINT {entrypoints} is exec-form {ENTRYPOINT}")
    check(container.get("command") in (None, entrypoints[0] if entrypoints else None),
          "the DaemonSet's command is the image's ENTRYPOINT")
    exposed = [r for k, r in runtime if k == "EXPOSE"]
    check(exposed == [str(port["containerPort"])], f"EXPOSE {exposed} is the container port")
    return stages


def check_image_and_readme(container):
    print("--- image tag and README")
    with open(os.path.join(REPO_ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        version = re.search(r"project\(connwatch VERSION (\S+)", f.read()).group(1)
    image = container["image"]
    check(image == f"connwatch:{version}", f"DaemonSet image {image} is connwatch:<project "
          f"version {version}> (update daemonset.yaml, deploy/Dockerfile and README)")
    with open(DOCKERFILE, encoding="utf-8") as f:
        check(f"-t {image} " in f.read(), f"deploy/Dockerfile's build comment tags {image}")
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme.partition("## Install on Kubernetes")[2].partition("\n## ")[0]
    check(f"docker build -f deploy/Dockerfile -t {image} ." in section,
          f"README's Kubernetes section builds {image}")
    check("kubectl apply -k deploy/kubernetes" in section, "README applies the kustomization")
    check("deploy/kubernetes/generate.py" in section, "README says how to regenerate")


def kubectl_or_skip(what):
    """The kubectl binary, or None after saying that `what` goes unchecked without it."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        print(f"skip: kubectl is not installed; {what} is unchecked")
    return kubectl


def kustomize(kubectl, directory, what):
    """The documents `kubectl kustomize directory` builds, or None (a failed check) when it
    does not build."""
    proc = subprocess.run([kubectl, "kustomize", directory], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)
    if not check(proc.returncode == 0, f"kubectl kustomize builds {what}" +
                 ("" if proc.returncode == 0 else f":\n{proc.stdout}")):
        return None
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def check_kustomize_build(objects, kust):
    print("--- kubectl kustomize")
    kubectl = kubectl_or_skip("the kustomize build")
    if not kubectl:
        return
    built = kustomize(kubectl, KUBE_DIR, "deploy/kubernetes")
    if built is None:
        return
    namespace = kust["namespace"]
    want = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    got = sorted((o["kind"], o["metadata"]["name"]) for o in built)
    check(got == want, f"it yields exactly the manifests' objects {want}")
    check(all(o["metadata"].get("namespace") == namespace for o in built
              if o["kind"] != "Namespace"), f"every namespaced object lands in {namespace}")


def check_readme_overlay(connwatch, work):
    """The README's own overlay example, built: registry image, replaced policy, labels."""
    print("--- the README's overlay (kubectl kustomize)")
    kubectl = kubectl_or_skip("the README overlay")
    if not kubectl:
        return
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
        m = re.search(r"```yaml\n(# my-fleet/kustomization\.yaml.*?)```", f.read(), re.S)
    if not check(m is not None, "README has the my-fleet/kustomization.yaml example"):
        return
    overlay = yaml.safe_load(m.group(1))
    overlay_dir = os.path.join(work, "my-fleet")
    os.makedirs(overlay_dir)
    check(overlay["resources"] == ["../deploy/kubernetes"], "it builds on deploy/kubernetes")
    overlay["resources"] = [os.path.relpath(KUBE_DIR, overlay_dir)]
    with open(os.path.join(overlay_dir, "kustomization.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(overlay, f)
    policy = "# the fleet's policy\nlisteners:\n  - {process: sshd, port: 22, protocol: tcp}\n"
    with open(os.path.join(overlay_dir, "policy.yaml"), "w", encoding="utf-8") as f:
        f.write(policy)
    proc = subprocess.run([connwatch, "validate", os.path.join(overlay_dir, "policy.yaml")],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    check(proc.returncode == 0, "the test's fleet policy is valid")
    built = kustomize(kubectl, overlay_dir, "the README's overlay")
    if built is None:
        return
    image = overlay["images"][0]
    ds = one(built, "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    check(pod["containers"][0]["image"] == f"{image['newName']}:{image['newTag']}",
          f"the DaemonSet runs {image['newName']}:{image['newTag']}")
    cm = one(built, "ConfigMap")
    check(cm["data"] == {"policy.yaml": policy}, "the ConfigMap holds the fleet's policy only")
    check({"name": "policy", "configMap": {"name": cm["metadata"]["name"]}} in pod["volumes"],
          "the DaemonSet mounts that ConfigMap")
    pairs = overlay["labels"][0]["pairs"]
    for kind in ("ServiceMonitor", "PrometheusRule"):
        labels = one(built, kind)["metadata"].get("labels", {})
        check(pairs.items() <= labels.items(), f"the {kind} carries {pairs}")
    with open(os.path.join(REPO_ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        version = re.search(r"project\(connwatch VERSION (\S+)", f.read()).group(1)
    check(str(image["newTag"]) == version, f"the overlay's tag is the project version {version}")


def main():
    connwatch = h.connwatch_bin()
    work = tempfile.mkdtemp(prefix="cw-check-kube-")
    try:
        check_generated(work)
        manifests = load_manifests()
        objects = objects_of(manifests)
        kust = check_kustomization(manifests)
        ds = one(objects, "DaemonSet")
        container, port, flags = check_daemonset(ds, objects)
        check_service_and_monitor(ds, objects, port)
        check_policy_and_rules(objects, connwatch, work)
        check_dockerfile(container, port)
        check_image_and_readme(container)
        check_kustomize_build(objects, kust)
        check_readme_overlay(connwatch, work)
        run_with_daemonset_args(ds, container, flags, objects, work)
    finally:
        h.kill_all_children()
        shutil.rmtree(work, ignore_errors=True)
    return report("check_kubernetes")


if __name__ == "__main__":
    sys.exit(main())
