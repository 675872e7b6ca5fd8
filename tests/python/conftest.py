"""With KILN_REQUIRE_ALL_TESTS=1 (the README's test command, CI) a skipped test fails the run: a
missing package or a build without a feature must not turn a check into a silent pass."""
import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("KILN_REQUIRE_ALL_TESTS") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under KILN_REQUIRE_ALL_TESTS: {reason}"
