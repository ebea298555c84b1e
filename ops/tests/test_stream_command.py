"""`manage.py stream --check`, the stream container's health check: ok only while the service reports."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError
from django.utils import timezone

from bots.tests.test_commands import run
from tradebot import health


@pytest.fixture(autouse=True)
def no_report():
    cache.delete(health.STREAM_KEY)
    yield
    cache.delete(health.STREAM_KEY)


def test_the_check_fails_until_the_service_reports_and_again_once_it_goes_quiet():
    with pytest.raises(CommandError, match="no stream service has reported"):
        run("stream", "--check")

    health.record_stream([{"name": "simulated", "connected": True, "subscriptions": 2, "down_seconds": None}])
    assert run("stream", "--check").startswith("stream ok: reported")

    cache.set(health.STREAM_KEY, {"at": timezone.now() - timedelta(minutes=2), "connections": []}, timeout=None)
    with pytest.raises(CommandError, match="has not reported for 120 s"):
        run("stream", "--check")
