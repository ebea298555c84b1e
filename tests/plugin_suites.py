"""Loaded by pytest (see addopts): the suites that need something from outside the test run.

- `@pytest.mark.services` tests need real PostgreSQL and Redis (DATABASE_URL and REDIS_URL).
- `@pytest.mark.browser` tests drive headless Chromium and run only with TRADEBOT_BROWSER=1.

Where a suite cannot run it is skipped. Where CI asks for it (TRADEBOT_REQUIRE_SERVICES=1,
TRADEBOT_BROWSER=1) a skipped test of it fails and a run that collected none of it is an error, so a
suite that should run can never pass by not running.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Suite:
    marker: str
    required_by: str  # the variable with which CI asks for this suite
    unavailable: Callable[[], str | None]  # why it cannot run here, or None

    @property
    def required(self) -> bool:
        return os.environ.get(self.required_by) == "1"


def _missing_services() -> str | None:
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    return f"needs {' and '.join(missing)}" if missing else None


def _browser_not_asked() -> str | None:
    return None if os.environ.get("TRADEBOT_BROWSER") == "1" else "browser tests run with TRADEBOT_BROWSER=1"


SUITES = (
    Suite("services", "TRADEBOT_REQUIRE_SERVICES", _missing_services),
    Suite("browser", "TRADEBOT_BROWSER", _browser_not_asked),
)


def _suite_of(item) -> Suite | None:
    return next((suite for suite in SUITES if item.get_closest_marker(suite.marker)), None)


def pytest_collection_finish(session):
    for suite in SUITES:
        if suite.required and not any(item.get_closest_marker(suite.marker) for item in session.items):
            raise pytest.UsageError(f"{suite.required_by}=1 but no @pytest.mark.{suite.marker} test was collected")


def pytest_runtest_setup(item):
    if (suite := _suite_of(item)) and (reason := suite.unavailable()):
        pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    suite = _suite_of(item)
    if suite and suite.required and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{suite.marker} test skipped while {suite.required_by}=1: {reason}"
    return report
