"""cgroup v2 directories an end-to-end test makes, Kubernetes-shaped, and the OCI bundles that
name their pods: what test_workloads, test_rollout and the dashboards' live stack share.

Everything goes below one directory of the test's own under the host's cgroup2 mount, so no
real kubelet's tree is touched; the test moves its processes out again before it removes
the directories (a populated cgroup cannot be removed).
"""

import json
import os
import time
import uuid


def mount():
    """Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            before, _, after = line.partition(" - ")
            if after.split(" ")[0] == "cgroup2":
                return before.split(" ")[4].replace("\\040", " ")
    return None


def own():
    """This process's cgroup v2 path ("/" when it has none)."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].rstrip("\n")
    return "/"


def hex_id(seed):
    """A container id (64 hex digits) that depends on `seed` alone."""
    return (uuid.uuid5(uuid.NAMESPACE_OID, seed).hex * 2)[:64]


def make(top, relative, made):
    """Makes top/relative and every directory above it up to top (recorded in `made`)."""
    path = top
    for part in [""] + relative.split("/"):
        path = os.path.join(path, part) if part else path
        if not os.path.isdir(path):
            os.mkdir(path)
            made.append(path)
    return path


def move(pid, directory, missing_ok=False):
    """Writes pid into directory/cgroup.procs; with missing_ok, a gone process is no error."""
    try:
        with open(os.path.join(directory, "cgroup.procs"), "w") as f:
            f.write(str(pid))
    except OSError:
        if not missing_ok:
            raise


def remove(made):
    """Removes the directories `make` made, deepest first, once their processes left."""
    for path in reversed(made):
        for _ in range(50):
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)  # a process that just exited may still count


def bundle(directory, annotations):
    """An OCI bundle's config.json with these annotations, as containerd or cri-o write it."""
    os.makedirs(directory)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({"ociVersion": "1.1.0", "process": {"args": ["x"]},
                   "annotations": annotations}, f, separators=(",", ":"))
