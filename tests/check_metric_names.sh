#!/usr/bin/env bash
# Fails when the README, rules/ or dashboards/ name a connwatch_* metric that the golden
# exposition (tests/fixtures/golden/host1.prom, every family connwatch emits) lacks: a
# renamed metric must not leave alerts and panels silently empty.
set -euo pipefail
cd "$1"
golden=tests/fixtures/golden/host1.prom
known=$(grep -o '^# TYPE connwatch_[a-z0-9_]*' "$golden" | cut -d' ' -f3 | sort -u)
sources=(README.md)
for dir in rules dashboards; do
  [ -d "$dir" ] && while IFS= read -r file; do sources+=("$file"); done \
    < <(find "$dir" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' -o -name '*.md' \))
done
# Build targets share the prefix but are no metrics.
not_metrics="connwatch_bench connwatch_core connwatch_unit_tests connwatch_alerts connwatch_rules"
missing=0
for name in $(grep -oh 'connwatch_[a-z0-9_]*[a-z0-9]' "${sources[@]}" | sort -u); do
  # Recording rules may define connwatch:… names; only exported metric names are checked.
  grep -qw "$name" <<<"$not_metrics" && continue
  if ! grep -qx "$name" <<<"$known"; then
    echo "unknown metric $name named in: $(grep -l "$name" "${sources[@]}" | tr '\n' ' ')"
    missing=1
  fi
done
# And the other way round: every family connwatch emits has a row in a README metric table.
# Read once: `grep ... | grep -q` under pipefail fails at random once the first grep's output
# spans several writes (grep -q exits early and the writer gets SIGPIPE).
table_rows=$(grep '^|' README.md)
for name in $known; do
  if ! grep -q "\b$name\b" <<<"$table_rows"; then
    echo "emitted metric $name has no row in a README metric table"
    missing=1
  fi
done
[ "$missing" = 0 ] && echo "metric names: all $(wc -w <<<"$known") emitted families cover ${#sources[@]} documents"
exit "$missing"
