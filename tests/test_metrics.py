"""GET /metrics: who may scrape it, and the counters a tick, an order and a failure move (the real
alpaca-py client against the local stand-in)."""

from datetime import timedelta

import pytest
from django.test import override_settings

from bots.ticks import bot_tick
from tests import test_alpaca_ticks
from tests.metrics_scrape import samples, value
from tests.test_alpaca_ticks import AFTER_FALL, fast_retries  # noqa: F401

# The Alpaca tick suite's fixtures: the stand-in open after a fall, a running bot on it.
market, bot = test_alpaca_ticks.market, test_alpaca_ticks.bot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    return samples(response.content.decode())


def test_without_a_token_only_the_loopback_may_scrape(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.5").status_code == 403


@override_settings(TRADEBOT_METRICS_TOKEN="s3cret-scrape-token")
def test_with_a_token_everyone_needs_it_the_loopback_too(client):
    assert (
        client.get("/metrics", REMOTE_ADDR="10.0.0.5", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code
        == 200
    )
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics").status_code == 403


def test_a_tick_that_buys_moves_the_tick_order_and_request_counters(client, market, bot):
    before = scrape(client)

    bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("tradebot_ticks_total", outcome="traded") == 1
    assert moved("tradebot_tick_duration_seconds_count", outcome="traded") == 1
    assert moved("tradebot_orders_total", side="buy", status="submitted", broker="alpaca") == 1
    assert moved("tradebot_orders_total", side="buy", status="filled", broker="alpaca") == 1
    assert moved("tradebot_signal_to_order_seconds_count", broker="alpaca") == 1
    assert moved("tradebot_order_to_fill_seconds_count", broker="alpaca") == 1
    assert moved("tradebot_external_requests_total", api="trading", outcome="ok") >= 2  # the clock, the order...
    assert moved("tradebot_external_requests_total", api="market_data", outcome="ok") >= 1
    assert value(after, "tradebot_bots", status="running") == 1
    # No label names a bot, a user or a symbol.
    assert not [key for key in after if {"bot", "user", "symbol"} & {label for label, _ in key[1]}]


def test_a_broker_outage_counts_its_retries_and_the_failed_request(client, market, bot):
    market.fail_next("/v2/orders", 503, times=10, method="POST")
    before = scrape(client)

    report = bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    after = scrape(client)
    assert report.outcome == "held"
    assert (
        value(after, "tradebot_ticks_total", outcome="held") - value(before, "tradebot_ticks_total", outcome="held")
        == 1
    )
    retries = value(after, "tradebot_external_retries_total", api="trading") - value(
        before, "tradebot_external_retries_total", api="trading"
    )
    assert retries == 2  # three attempts
    unavailable = ("tradebot_external_requests_total", {"api": "trading", "outcome": "unavailable"})
    assert value(after, unavailable[0], **unavailable[1]) - value(before, unavailable[0], **unavailable[1]) == 1


def test_a_refused_order_counts_as_failed(client, market, bot):
    market.set_account(buying_power="10")

    bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(seconds=1))

    assert value(scrape(client), "tradebot_orders_total", side="buy", status="failed", broker="alpaca") >= 1


def test_requests_are_counted_by_view_not_by_path(client):
    client.get("/health")
    scraped = scrape(client)
    name = "django_http_responses_total_by_status_view_method_total"
    health = [labels for key, labels in scraped if key == name and ("view", "health") in labels]
    assert health, "django-prometheus counts requests by view"
    assert not [labels for key, labels in scraped if ("view", "/health") in labels]
