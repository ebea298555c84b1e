"""The engine on PostgreSQL and Redis: a real Celery worker trading on the Alpaca stand-in,
and concurrent ticks that must never place an order twice."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from bots import services
from bots.orders import order_send
from bots.tasks import tick
from bots.ticks import bot_tick
from brokers.alpaca import AlpacaBroker
from positions.models import Position
from tests.celery_worker import running_worker
from tests.factories import BotFactory
from tests.test_alpaca_ticks import CONFIG, falling_bars
from tradebot.celery import app
from trades.models import Trade

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 60


@pytest.fixture
def open_market(alpaca_stub):
    """Bars up to the last closed minute (a fall to 80), with the clock open."""
    now = timezone.now().replace(second=0, microsecond=0)
    alpaca_stub.set_clock(is_open=True, next_open=now + timedelta(days=1), next_close=now + timedelta(hours=6))
    first = now - timedelta(minutes=60)
    alpaca_stub.load_bars("TEST", "1Min", falling_bars(first))
    alpaca_stub.set_price("TEST", "80")
    return alpaca_stub, first


@pytest.fixture
def bot(alpaca_account):
    return services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))


def wait_for(condition, worker, log, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert worker.poll() is None, f"the worker died:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"{what} did not happen within {WAIT_SECONDS} s:\n{log.read_text()}"
        time.sleep(0.2)


def test_a_celery_worker_buys_on_the_signal_and_sells_at_the_stop_to_the_cent(open_market, bot, tmp_path, monkeypatch):
    stub, first = open_market
    log = tmp_path / "worker.log"
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    with running_worker(log, ALPACA_RETRY_DELAY_SECONDS="0.01") as (worker, queue):
        tick.apply_async(args=[bot.pk], queue=queue)
        wait_for(lambda: Position.objects.filter(bot=bot, is_open=True).exists(), worker, log, "the buy")

        # The next bar falls through the stop at 78.40; Alpaca fills the sell at 78.31.
        stub.load_bars(
            "TEST", "1Min", falling_bars(first) + [(first + timedelta(minutes=60), 80.0, 80.1, 78.3, 78.35, 1000)]
        )
        stub.set_price("TEST", "78.31")
        # Bars are cached per minute in the worker: the next tick must fall in a later minute to see the new one.
        wait_for_next_minute()
        tick.apply_async(args=[bot.pk], queue=queue)
        wait_for(lambda: Trade.objects.filter(bot=bot, type="sell").exists(), worker, log, "the stop-loss sell")

    buy, sell = Trade.objects.filter(bot=bot).order_by("timestamp")
    assert (buy.type, buy.quantity, buy.price, buy.status) == ("buy", 12, Decimal("80"), "filled")
    assert (sell.quantity, sell.price, sell.profit_loss) == (12, Decimal("78.31"), Decimal("-20.28"))
    assert sell.reason.startswith("stop-loss")
    position = Position.objects.get(bot=bot)
    assert not position.is_open and position.realized_pnl == Decimal("-20.28")
    assert [o["side"] for o in stub.orders] == ["buy", "sell"]


def wait_for_next_minute():
    time.sleep(60 - timezone.now().second + 0.5)


def run_concurrently(count: int, action) -> list:
    results, barrier = [None] * count, threading.Barrier(count)

    def run(index):
        barrier.wait()
        try:
            results[index] = action()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    return results


def test_twenty_concurrent_ticks_for_the_same_bar_place_one_order(open_market, bot):
    stub, _ = open_market
    now = timezone.now()

    reports = run_concurrently(20, lambda: bot_tick(bot_id=bot.pk, now=now))

    assert len(stub.requests_to("/v2/orders", "POST")) == 1
    assert Trade.objects.filter(bot=bot).count() == 1
    assert sum(r.outcome == "traded" for r in reports) == 1


def test_the_database_lets_one_of_twenty_racing_senders_through(open_market, bot):
    """Past the tick's claim, the unique client order id is what stops a second order."""
    stub, _ = open_market
    send = lambda: order_send(  # noqa: E731
        bot=bot,
        broker=AlpacaBroker(bot.broker_account),
        symbol="TEST",
        side="buy",
        quantity=12,
        client_order_id=f"tb-{bot.pk}-TEST-buy-race",
        bar_time=None,
        reason="race",
        snapshot={"close": 80.0},
    )

    trades = run_concurrently(20, send)

    assert sum(t is not None for t in trades) == 1
    assert len(stub.orders) == 1
    assert Trade.objects.get(bot=bot).status == "filled"
