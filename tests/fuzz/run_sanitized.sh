#!/usr/bin/env bash
# The clang sanitizer build beside the gcc one (ctest: sanitize_build, unit_sanitized, fuzz).
#   run_sanitized.sh build SRC DIR   configure DIR with clang, ASan+UBSan+fuzzer coverage at -O1,
#                                    and build only the unit tests and the harnesses
#   run_sanitized.sh start SRC DIR   the same build in the background, niced, bounded by
#                                    timeout; its output goes to DIR.log, its exit code to DIR.rc
#   run_sanitized.sh wait SRC DIR    waits for that build (at most 25 min) and exits with its code
#   run_sanitized.sh unit SRC DIR    the unit tests under ASan+UBSan: any report fails
#   run_sanitized.sh fuzz SRC DIR    each harness for CONNWATCH_FUZZ_SECONDS (6) seeded from
#                                    tests/fixtures; the corpus it grows stays in DIR/corpus
set -euo pipefail
mode=$1 src=$2 dir=$3
fixtures=$src/tests/fixtures
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# The seeds of each harness: fixture files and directories, read in place (libFuzzer only
# adds to the first corpus directory, DIR/corpus/NAME).
seeds_of() {
  case $1 in
    policy) echo "$fixtures/policies/good $fixtures/policies/bad $fixtures/e2e_policies" ;;
    web_config) echo "$fixtures/web_config/good $fixtures/web_config/bad" ;;
    proc_net) echo "$fixtures/proc_net $fixtures/host1/proc/net" ;;
    sock_diag) echo "$fixtures/host1" ;;
    conntrack) echo "$fixtures/conntrack" ;;
    beacon_state) echo "$fixtures/beacon_state" ;;
    *) ;;
  esac
}

case $mode in
  build)
    launcher=()
    if command -v ccache >/dev/null; then
      launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    fi
    CC=clang CXX=clang++ cmake -S "$src" -B "$dir" -DCONNWATCH_TESTS=ON -DCONNWATCH_SANITIZE=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" "${launcher[@]}" >/dev/null
    cmake --build "$dir" -j"$(nproc)" --target connwatch_unit_tests connwatch_fuzzers
    ;;
  start)
    rm -f "$dir.rc" "$dir.log"
    # setsid: ctest waits for the test's output pipes, so the build must hold none of them.
    setsid nohup bash -c 'timeout 1500 nice -n 19 "$0" build "$1" "$2"; echo $? > "$2.rc.tmp"; mv "$2.rc.tmp" "$2.rc"' \
      "$0" "$src" "$dir" > "$dir.log" 2>&1 < /dev/null &
    echo "sanitizer build started in the background (log: $dir.log)"
    ;;
  wait)
    for _ in $(seq 1500); do
      [ -f "$dir.rc" ] && break
      sleep 1
    done
    if [ ! -f "$dir.rc" ]; then
      echo "sanitizer build did not finish (was sanitize_build_start run?)" >&2
      tail -n 40 "$dir.log" 2>/dev/null
      exit 1
    fi
    rc=$(cat "$dir.rc")
    tail -n 5 "$dir.log"
    [ "$rc" = 0 ] || { tail -n 60 "$dir.log"; echo "sanitizer build failed: exit $rc" >&2; }
    exit "$rc"
    ;;
  unit)
    "$dir/tests/connwatch_unit_tests" --gtest_brief=1
    ;;
  fuzz)
    seconds=${CONNWATCH_FUZZ_SECONDS:-6}
    for harness in "$dir"/tests/fuzz/fuzz_*; do
      name=${harness##*/fuzz_}
      corpus=$dir/corpus/$name
      mkdir -p "$corpus" "$dir/artifacts"
      # shellcheck disable=SC2046  # the seed list is split on purpose
      "$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
        -artifact_prefix="$dir/artifacts/$name-" "$corpus" $(seeds_of "$name") 2>"$dir/$name.log" || {
        tail -n 60 "$dir/$name.log"
        echo "fuzz: $name failed; the input is in $dir/artifacts/" >&2
        exit 1
      }
      echo "$name: $(grep -E '^Done [0-9]+ runs' "$dir/$name.log" || echo 'no summary')"
    done
    ;;
  *) echo "usage: $0 build|start|wait|unit|fuzz SRC DIR" >&2; exit 2 ;;
esac
