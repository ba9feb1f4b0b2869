"""The pass/fail tally the check scripts (check_compose.py, check_k8s.py,
check_dockerfile.py) share: one line per failure, one closing count."""

passed, failed = 0, 0
# Put before each failure's text while a part is checked (e.g. "dev overlay: ").
context = ""


def check(ok, what):
    """Counts `ok`; prints `what` when it fails. Returns whether it held."""
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {context}{what}")
    return bool(ok)


def summary(name):
    """Prints `name: N passed, M failed`; the exit status (1 when any failed)."""
    print(f"{name}: {passed} passed, {failed} failed")
    return 1 if failed else 0
