"""The market status service publishes market_status_changed once when the market opens or closes."""

import pytest
from django.core.cache import cache
from django.test import override_settings

from bots.tests.test_maintenance import receive
from market import status
from tradebot.events import BROADCAST_GROUP

pytestmark = pytest.mark.django_db


def test_a_market_opening_is_published_once(django_capture_on_commit_callbacks):
    cache.delete(status.MARKET_STATUS_KEY)
    next_message = receive(BROADCAST_GROUP)
    with override_settings(TRADEBOT_SIM_ALWAYS_OPEN=False):
        cache.set(status.MARKET_STATUS_KEY, not status.market_status_now().is_open)
        with django_capture_on_commit_callbacks(execute=True):
            published = status.market_status_publish()
        message = next_message()
        assert message["event"] == "market_status_changed"
        assert message["data"]["is_open"] == published.is_open
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            status.market_status_publish()
        assert callbacks == []
