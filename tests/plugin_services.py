"""Loaded by pytest (see addopts): `@pytest.mark.services` tests need real PostgreSQL and Redis.

Without DATABASE_URL and REDIS_URL they are skipped. With TRADEBOT_REQUIRE_SERVICES=1 (the service
run of .ci/run) a skipped service test is a failure, and a run that collected none is an error, so
the suite that should run can never skip silently.
"""

import os

import pytest

REQUIRED = ("DATABASE_URL", "REDIS_URL")


def _required() -> bool:
    return os.environ.get("TRADEBOT_REQUIRE_SERVICES") == "1"


def pytest_collection_finish(session):
    if _required() and not any(item.get_closest_marker("services") for item in session.items):
        raise pytest.UsageError("TRADEBOT_REQUIRE_SERVICES=1 but no @pytest.mark.services test was collected")


def pytest_runtest_setup(item):
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if item.get_closest_marker("services") and missing:
        pytest.skip(f"needs {' and '.join(missing)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if _required() and report.skipped and item.get_closest_marker("services") and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"service test skipped while TRADEBOT_REQUIRE_SERVICES=1: {reason}"
    return report
