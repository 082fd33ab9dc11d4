#!/usr/bin/env bash
# The README's worked example policy (its first ```yaml block) must pass `connwatch validate`.
set -euo pipefail
connwatch=$1
readme=$2/README.md
policy=$(mktemp --suffix=.yaml)
trap 'rm -f "$policy"' EXIT
awk '/^```yaml/{inside=1; next} /^```/{if (inside) exit} inside{print}' "$readme" > "$policy"
[ -s "$policy" ] || { echo "no yaml block in $readme" >&2; exit 1; }
"$connwatch" validate "$policy"
