#!/usr/bin/env bash
# Where a sample's time goes (not a test): `perf record` (cpu-clock; this machine's VM has no
# hardware counters) of connwatch_bench's cold and steady core samples on the socket table
# the host holds right now (start a farm first, e.g. `build/sockfarm -n 50000 -p 100 -d 600 &`).
# Prints, per mode, the top functions by self time and the connwatch functions by inclusive
# time (DWARF call graphs); the raw perf.data stays in a temporary directory that is removed.
#
#   tests/bench/profile.sh BUILD_DIR [SAMPLES]
set -euo pipefail
build=${1:?usage: profile.sh BUILD_DIR [SAMPLES]}
samples=${2:-4}
bench="$build/connwatch_bench"
[ -x "$bench" ] || { echo "profile.sh: $bench not built" >&2; exit 2; }
tmp=$(mktemp -d /tmp/cw-profile-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for mode in cold steady; do
  # Steady: enough warm-up for the cache to settle, and no verification (it takes cold samples).
  perf record -q -e cpu-clock -F 499 --call-graph dwarf,16384 -o "$tmp/$mode.data" -- \
    "$bench" --mode="$mode" --samples="$samples" --warmup=2 --verify=0 --full=0 \
    >"$tmp/$mode.json" 2>/dev/null
  echo "== $mode: $(cat "$tmp/$mode.json")"
  echo "-- top functions by self time (share of all samples of the process)"
  perf report -i "$tmp/$mode.data" --no-children --sort dso,sym -g none --stdio \
    --percent-limit 1.5 2>/dev/null | grep '%' | head -20
  echo "-- connwatch functions and syscalls by inclusive time"
  perf report -i "$tmp/$mode.data" --children --sort sym -g none --stdio 2>/dev/null |
    grep '%' | grep -E 'connwatch::[A-Za-z]+(::[A-Za-z]+)?$|connwatch::[A-Za-z:]+\[|__x64_sys_' |
    grep -v 'anonymous namespace' | head -20
done
