#!/usr/bin/env bash
# Checks the alerting and recording rules: `promtool check rules` on both rule files, then
# every `promtool test rules` case in rules/tests/ (each alert fires, and stays quiet).
# Usage: tests/rules_test.sh [REPO_ROOT]   (PROMTOOL overrides the promtool binary)
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
promtool=${PROMTOOL:-promtool}
command -v "$promtool" >/dev/null || { echo "rules_test: $promtool not found (apt-get install prometheus)"; exit 2; }
rule_files=(rules/connwatch_alerts.yaml rules/connwatch_rules.yaml)
test_files=(rules/tests/*.yaml)
echo "+ $promtool check rules ${rule_files[*]}"
"$promtool" check rules "${rule_files[@]}"
echo "+ $promtool test rules ${test_files[*]}"
"$promtool" test rules "${test_files[@]}"
echo "rules_test: ${#rule_files[@]} rule files checked, ${#test_files[@]} test files passed"
