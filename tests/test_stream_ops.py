"""The stream service in /metrics and in notifications (both Alpaca stand-ins, the real alpaca-py
clients): trades are counted with their lag, a drop counts as a reconnection, the connections show by
state, and a market data stream that stays down tells the account's owner once."""

import pytest

from accounts.notifications.models import Notification
from accounts.notifications.services import channel_save
from bots import notices, services
from tests import test_stream_service
from tests.factories import BotFactory
from tests.metrics_scrape import samples, value
from tests.test_alpaca_ticks import CONFIG, fast_retries  # noqa: F401
from tests.test_stream_service import fast_backoff, wait_consuming, wait_for

market, streams, service = test_stream_service.market, test_stream_service.streams, test_stream_service.service
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_retries")]


def scrape(client) -> dict:
    return samples(client.get("/metrics").content.decode())


def test_trades_and_reconnections_are_counted(client, market, alpaca_account, streams, service):
    services.bot_start(
        bot=BotFactory(config=dict(CONFIG, symbols=["TEST"]), owner=alpaca_account.owner, broker_account=alpaca_account)
    )
    service.reconcile_soon()
    streams.wait_for_subscription("trades", "TEST")
    fast_backoff(service)
    before = scrape(client)
    wait_consuming(streams, service, "TEST")
    streams.drop(abrupt=True)
    streams.wait_for_subscription("trades", "TEST")
    wait_for(
        lambda: value(scrape(client), "tradebot_stream_events_total", stream="data", kind="reconnected") > 0,
        what="the reconnection counted",
    )

    after = scrape(client)
    assert value(after, "tradebot_stream_events_total", stream="data", kind="trade") > value(
        before, "tradebot_stream_events_total", stream="data", kind="trade"
    )
    assert value(after, "tradebot_stream_lag_seconds_count", stream="data") >= 1
    wait_for(lambda: value(scrape(client), "tradebot_stream_connections", state="connected") >= 1, what="reported")


def test_a_market_stream_that_stays_down_is_told_once(market, alpaca_account, streams, service, monkeypatch):
    channel_save(owner=alpaca_account.owner, kind="email", name="mail", address="t@example.com", events=["stream_down"])
    monkeypatch.setattr(notices, "DOWN_FOR", notices.DOWN_FOR * 0)  # down at once, not after five minutes
    streams.refuse_connections()
    services.bot_start(
        bot=BotFactory(config=dict(CONFIG, symbols=["TEST"]), owner=alpaca_account.owner, broker_account=alpaca_account)
    )
    service.reconcile_soon()
    wait_for(lambda: Notification.objects.filter(event="stream_down").exists(), what="told")
    service.reconcile()
    service.reconcile()

    [told] = Notification.objects.filter(event="stream_down")
    assert told.owner_id == alpaca_account.owner_id
    assert told.title.startswith(f"{alpaca_account.name}: the market stream has been down")
