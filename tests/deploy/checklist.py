"""The deployment checks' bookkeeping: every check prints ok/FAIL and failures are
collected, so one run reports everything that is wrong instead of stopping at the first."""

failures = []


def check(condition, message):
    """Prints and records one check; returns the condition so callers can stop early."""
    print(("ok: " if condition else "FAIL: ") + message)
    if not condition:
        failures.append(message)
    return condition


def report(name):
    """The closing summary; the process exit code: 0 when every check passed."""
    if failures:
        print(f"{name}: {len(failures)} check(s) failed:")
        for failure in failures:
            print(f"  - {failure}")
        return 1
    print(f"{name}: all checks passed")
    return 0
