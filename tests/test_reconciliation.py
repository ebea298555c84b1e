"""The books match the broker's: reconciliation compares each Alpaca account's positions and open
orders with Alpaca's (the real alpaca-py client against the stand-in), holds entries on a difference,
shows both pictures, and fixes it as the owner chooses."""

from datetime import timedelta

import pytest
from django.urls import reverse

from bots import services
from bots.models import BookMismatch, BotHold
from bots.reconciliation import account_reconcile, accounts_reconcile
from bots.ticks import bot_tick
from market.cache import clear_caches
from positions.models import Position
from tests.api_client import api_client
from tests.factories import BotFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG, START, falling_bars, fast_retries  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def market(alpaca_stub):
    alpaca_stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
    alpaca_stub.load_bars("TEST", "1Min", falling_bars())
    alpaca_stub.set_price("TEST", "80")
    return alpaca_stub


@pytest.fixture
def holding(market, alpaca_account):
    """A bot that bought 12 TEST at Alpaca: books and broker agree."""
    bot = services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    assert Position.objects.get(bot=bot, is_open=True).quantity == 12
    return bot


def test_books_that_agree_with_the_broker_raise_nothing(holding, market):
    assert account_reconcile(account=holding.broker_account) == []


def test_a_position_closed_by_hand_at_alpaca_is_flagged_and_holds_entries_until_resolved(holding, market, client):
    market.add_position("TEST", 0, "80")  # sold at Alpaca by hand: Alpaca holds none

    [mismatch] = account_reconcile(account=holding.broker_account)

    assert (mismatch.symbol, mismatch.ours, mismatch.theirs) == ("TEST", 12, 0)
    assert mismatch.detail == "the bots hold 12 TEST, the broker 0"
    [hold] = BotHold.objects.filter(bot=holding, released_at__isnull=True)
    assert (hold.kind, hold.side, hold.symbol) == ("mismatch", "buy", "TEST")

    # Entries hold: a new buy signal on TEST is not sent while the books differ.
    Position.objects.filter(bot=holding).update(is_open=False, closed_at=AFTER_FALL)  # as if exited meanwhile
    market.load_bars("TEST", "1Min", falling_bars() + [(START + timedelta(minutes=60), 80, 80.1, 79, 79.5, 1000)])
    clear_caches()
    bot_tick(bot_id=holding.pk, now=AFTER_FALL + timedelta(minutes=1))
    assert len(market.requests_to("/v2/orders", "POST")) == 1
    assert (
        holding.tick_logs.first()
        .decisions[0]["reason"]
        .startswith("entries held until the books match the broker's: the bots hold 12 TEST, the broker 0")
    )

    # Both pictures on the pages, with the fixes offered.
    client.force_login(holding.owner)
    page = client.get(reverse("positions:list")).content.decode()
    assert "The books differ from the broker's" in page and "Adopt the broker's" in page


def test_adopting_the_brokers_quantity_fixes_the_books_and_releases_the_hold(holding, market):
    market.add_position("TEST", 4, "80")  # only 4 left at Alpaca
    [mismatch] = account_reconcile(account=holding.broker_account)

    fixed = api_client(holding.owner).post(f"/mismatches/{mismatch.pk}/fix", json={"fix": "adopt"})

    assert fixed.status_code == 200 and fixed.json()["resolution"] == "adopted the broker's quantity (4)"
    assert Position.objects.get(bot=holding, is_open=True).quantity == 4
    assert not BotHold.objects.filter(bot=holding, released_at__isnull=True).exists()
    assert account_reconcile(account=holding.broker_account) == []


def test_shares_the_books_do_not_have_can_be_closed_at_the_broker(holding, market):
    market.add_position("TEST", 15, "80")  # 3 more, bought by hand at Alpaca
    [mismatch] = account_reconcile(account=holding.broker_account)

    api_client(holding.owner).post(f"/mismatches/{mismatch.pk}/fix", json={"fix": "close"})

    sell = market.orders[-1]
    assert (sell["side"], sell["qty"], sell["client_order_id"]) == ("sell", "3", f"tb-reconcile-{mismatch.pk}")
    assert account_reconcile(account=holding.broker_account) == []


def test_an_order_the_broker_works_on_that_the_books_lost_is_flagged(holding, market):
    market.accept_without_fill = True
    market.set_price("MORE", "10")
    broker_order = {"symbol": "MORE", "qty": 1, "side": "buy", "type": "market", "time_in_force": "day"}
    market._post_order(body=broker_order | {"client_order_id": "tb-99-MORE-buy-lost"})

    [mismatch] = account_reconcile(account=holding.broker_account)

    assert (mismatch.kind, mismatch.symbol) == ("order", "MORE")
    assert "tb-99-MORE-buy-lost" in mismatch.detail


def test_a_difference_that_goes_away_resolves_itself(holding, market):
    market.add_position("TEST", 0, "80")
    [mismatch] = account_reconcile(account=holding.broker_account)
    market.add_position("TEST", 12, "80")  # Alpaca's answer was late: it holds the 12 after all

    assert accounts_reconcile() == 0

    mismatch.refresh_from_db()
    assert mismatch.resolution == "the books and the broker agree again"
    assert not BotHold.objects.filter(bot=holding, released_at__isnull=True).exists()
    assert BookMismatch.objects.filter(resolved_at__isnull=True).count() == 0
