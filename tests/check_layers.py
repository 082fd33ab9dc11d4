#!/usr/bin/env python3
"""Fails when a file of exporter/src includes a file of a higher layer.

The layers, lowest first (CONTRIBUTING.md, "How the code reads", says what each holds):
a file may include files of its own layer and of the layers below it, never above. A
directory that is not in LAYERS is an error too: a new one must be given its place.
"""
import os
import re
import sys

LAYERS = [
    "base",       # logging, files, durations, text, YAML: no connwatch vocabulary
    "privilege",  # Linux capabilities
    "net",        # addresses, CIDRs, endpoints, ports, zones
    "model",      # model.h, classify.*: sockets, processes, what each socket is
    "sources",    # the kernel readers and the snapshot that joins them
    "tracking",   # connection ages and their persisted state
    "policy",     # the policy, its loader and writer, the evaluator, the baseline
    "metrics",    # metric families and the exposition
    "sampler",    # the policy in force and the background sampler
    "http",       # the HTTP front: server, web config, TLS, basic auth
    "cli",        # the subcommands and their flags
    "main",       # main.cpp
]
# Files at the top of exporter/src, and generated headers.
TOP_LEVEL = {"model.h": "model", "classify.h": "model", "classify.cpp": "model",
             "main.cpp": "main", "version.h": "base", "version.h.in": "base",
             # exporter/bpf (outside this tree, not walked): the eBPF program's record layout,
             # plain C, and the skeleton bpftool generates from it; both for sources/bpf_events.
             "connwatch_events.h": "sources", "connwatch_events.skel.h": "sources"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(relative):
    parts = relative.split("/")
    if len(parts) == 1:
        return TOP_LEVEL.get(parts[0])
    return parts[0] if parts[0] in LAYERS else None


def main(root):
    src = os.path.join(root, "exporter", "src")
    rank = {name: i for i, name in enumerate(LAYERS)}
    problems, checked = [], 0
    for directory, _, names in os.walk(src):
        for name in sorted(names):
            if not name.endswith((".h", ".cpp")):
                continue
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, src)
            layer = layer_of(relative)
            if layer is None:
                problems.append(f"{relative}: in no layer (add its directory to LAYERS)")
                continue
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    match = INCLUDE.match(line)
                    if not match:
                        continue
                    checked += 1
                    target = match.group(1)
                    target_layer = layer_of(target)
                    if target_layer is None:
                        problems.append(f"{relative}:{number}: includes {target}, in no layer")
                    elif rank[target_layer] > rank[layer]:
                        problems.append(f"{relative}:{number}: {layer} includes {target} "
                                        f"({target_layer}, a higher layer)")
    for problem in sorted(problems):
        print(problem)
    if problems:
        print(f"check_layers: {len(problems)} problems")
        return 1
    print(f"check_layers: {checked} includes, all downward ({' < '.join(LAYERS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else
                  os.path.join(os.path.dirname(__file__), "..")))
