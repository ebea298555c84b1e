"""Backtest services: validation, the queued job run end to end on the simulated market, failures,
and the downsampling that keeps stored curves bounded."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db import IntegrityError
from django.utils import timezone

from backtests import services
from backtests.data import backtest_market, market_bars
from backtests.models import Backtest
from brokers.base import BrokerError
from engine import stats
from engine.backtest import BacktestTrade, run_backtest
from engine.config import BotConfig
from tests.factories import DESIGN_CONFIG, BotFactory, UserFactory
from tradebot.errors import Invalid

pytestmark = pytest.mark.django_db

ALL_DAY = {"start_hour": 0, "start_minute": 0, "end_hour": 23, "end_minute": 59}
CONFIG = BotConfig.model_validate({**DESIGN_CONFIG, **ALL_DAY, "signal_mode": "any", "symbols": ["AAPL", "MSFT"]})
START, END = date(2024, 3, 4), date(2024, 3, 5)
EARLY = date(1969, 12, 31)


def create(owner, **changes) -> Backtest:
    arguments = {"config": CONFIG, "start": START, "end": END} | changes
    return services.backtest_create(owner=owner, **arguments)


def fields(exc: Invalid) -> dict[str, str]:
    return {error["field"]: error["message"] for error in exc.errors}


def test_a_bots_backtest_takes_its_configuration_and_its_accounts_costs(django_capture_on_commit_callbacks):
    bot = BotFactory(config={**DESIGN_CONFIG, "timeframe": "5Min"})
    bot.broker_account.sim_slippage, bot.broker_account.sim_commission = Decimal("0.001"), Decimal("1.5")
    bot.broker_account.save()

    with django_capture_on_commit_callbacks() as queued:
        backtest = services.backtest_create(owner=bot.owner, bot=bot, start=START, end=END)

    assert len(queued) == 1, "the job is queued once the backtest row is committed"
    assert backtest.status == "queued" and backtest.progress == 0
    assert backtest.config == bot.config().stored() and backtest.symbols == ["AAPL", "MSFT", "GOOGL"]
    assert (backtest.timeframe, backtest.capital) == ("5Min", Decimal(10000))
    assert (backtest.slippage, backtest.commission) == (Decimal("0.001"), Decimal("1.5"))


def test_an_unsaved_configuration_runs_with_overrides_and_default_costs():
    backtest = create(UserFactory(), symbols=["tsla"], timeframe="1Hour", capital=Decimal(500))
    assert backtest.bot is None and backtest.name == "Momentum Bot"
    assert (backtest.symbols, backtest.timeframe, backtest.capital) == (["TSLA"], "1Hour", Decimal(500))
    assert backtest.config["symbols"] == ["TSLA"] and backtest.config["capital"] == "500"
    assert (backtest.slippage, backtest.commission) == (Decimal("0.0005"), Decimal(0))


def test_every_failing_field_is_reported_with_its_path():
    with pytest.raises(Invalid) as caught:
        create(
            UserFactory(), slippage=Decimal(1), commission=Decimal("-1"), start=date(2024, 3, 5), end=date(2024, 3, 4)
        )
    assert set(fields(caught.value)) == {"slippage", "commission", "end"}
    assert fields(caught.value)["end"] == "must not be before start"

    with pytest.raises(Invalid) as caught:
        create(
            UserFactory(),
            symbols=["AAPL", "not a ticker"],
            capital=Decimal(0),
            commission=Decimal("0.00001"),
            start=EARLY,
        )
    assert set(fields(caught.value)) == {"symbols", "capital", "commission", "start"}


def test_the_future_has_no_bars():
    tomorrow = timezone.now().date() + timedelta(days=2)
    with pytest.raises(Invalid) as caught:
        create(UserFactory(), end=tomorrow)
    assert "must not be after today" in fields(caught.value)["end"]


def test_a_range_too_large_to_run_is_refused_before_it_is_queued():
    # 731 days of one-minute bars of two symbols, around the clock: 731 x 1440 x 2 bars.
    with pytest.raises(Invalid) as caught:
        create(UserFactory(), start=date(2022, 3, 6), end=date(2024, 3, 5))
    assert "2,105,280 bars" in fields(caught.value)["start"]
    assert not Backtest.objects.exists()
    assert create(UserFactory(), start=date(2022, 3, 6), end=date(2024, 3, 5), timeframe="5Min").pk


def test_neither_bot_nor_configuration_and_a_strangers_bot_are_refused():
    owner = UserFactory()
    with pytest.raises(Invalid) as caught:
        services.backtest_create(owner=owner, start=START, end=END)
    assert fields(caught.value) == {"config": "give a bot or a configuration"}

    with pytest.raises(Invalid) as caught:
        services.backtest_create(owner=owner, bot=BotFactory(), start=START, end=END)
    assert fields(caught.value) == {"bot_id": "no such bot"}


def test_the_database_refuses_a_progress_outside_zero_to_one():
    backtest = create(UserFactory())
    with pytest.raises(IntegrityError):
        Backtest.objects.filter(pk=backtest.pk).update(progress=1.5)


def test_the_job_runs_end_to_end_on_the_simulated_market(django_capture_on_commit_callbacks, monkeypatch):
    seen_while_running = []
    engine = services.run_backtest

    def watched(*args, **kwargs):
        seen_while_running.append(Backtest.objects.get().status)
        return engine(*args, **kwargs)

    monkeypatch.setattr(services, "run_backtest", watched)
    with django_capture_on_commit_callbacks(execute=True):
        backtest = create(UserFactory())
        assert backtest.status == "queued"

    backtest.refresh_from_db()
    assert seen_while_running == ["running"]
    assert backtest.status == "done" and backtest.progress == 1.0 and backtest.error == ""
    assert backtest.started_at <= backtest.finished_at
    assert backtest.stats["bars"] == 2 * 2 * 1440
    assert backtest.trade_count == len(backtest.trades) > 0
    assert {"symbol", "side", "quantity", "price", "timestamp", "profit_loss", "reason"} <= set(backtest.trades[0])

    # What the job stored is what the engine finds on the same bars.
    bars = market_bars(backtest_market(None), ["AAPL", "MSFT"], "1Min", START, END)
    direct = run_backtest(
        bars, CONFIG, capital=Decimal(10000), slippage=Decimal("0.0005"), commission=Decimal(0), timeframe="1Min"
    )
    assert backtest.stats["final_equity"] == str(direct.stats["final_equity"])
    assert backtest.stats["trades"] == direct.stats["trades"]

    curve = backtest.equity_curve
    assert len(curve["time"]) == len(curve["equity"]) == len(curve["drawdown"]) <= services.CURVE_POINTS
    assert 100 * min(curve["drawdown"]) == pytest.approx(backtest.stats["max_drawdown_pct"], abs=1e-3)
    assert set(backtest.prices) == {"AAPL", "MSFT"}
    buys = sum(price is not None for price in backtest.prices["AAPL"]["buy"])
    assert buys == sum(trade["symbol"] == "AAPL" and trade["side"] == "buy" for trade in backtest.trades)


def test_stored_fills_are_capped_and_the_statistics_count_them_all(monkeypatch):
    monkeypatch.setattr(services, "MAX_STORED_TRADES", 3)
    backtest = create(UserFactory())
    services.backtest_run(backtest_id=backtest.pk)
    backtest.refresh_from_db()
    assert len(backtest.trades) == 3 and backtest.trade_count > 3
    assert backtest.stats["trades"] > 1, "three stored fills hold at most one closed trade; the statistics count all"
    markers = sum(
        price is not None for prices in backtest.prices.values() for side in ("buy", "sell") for price in prices[side]
    )
    assert markers == 3, "only stored fills are marked on the price charts"


def test_a_job_runs_once():
    backtest = create(UserFactory(), timeframe="1Hour")
    services.backtest_run(backtest_id=backtest.pk)
    backtest.refresh_from_db()
    finished = backtest.finished_at
    services.backtest_run(backtest_id=backtest.pk)
    backtest.refresh_from_db()
    assert backtest.status == "done" and backtest.finished_at == finished


class FailingFeed:
    name = "failing"

    def bars(self, *args, **kwargs):
        raise BrokerError("the data feed is down")


def test_a_failing_feed_fails_the_backtest_with_its_message(monkeypatch):
    monkeypatch.setattr(services, "backtest_market", lambda account: FailingFeed())
    backtest = create(UserFactory())
    services.backtest_run(backtest_id=backtest.pk)
    backtest.refresh_from_db()
    assert (backtest.status, backtest.error) == ("failed", "the data feed is down")
    assert backtest.finished_at is not None and backtest.stats == {}


def test_an_unexpected_error_fails_the_backtest_and_is_logged(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(services, "run_backtest", broken)
    backtest = create(UserFactory())
    services.backtest_run(backtest_id=backtest.pk)
    backtest.refresh_from_db()
    assert (backtest.status, backtest.error) == ("failed", "unexpected error: ZeroDivisionError: division by zero")
    assert f"backtest {backtest.pk} failed" in caplog.text


def test_progress_is_written_at_most_every_half_second(monkeypatch):
    backtest = create(UserFactory())
    clock = iter([100.0, 100.2, 100.6, 100.9, 101.2])
    monkeypatch.setattr(services.time, "monotonic", lambda: next(clock))
    write = services._progress_writer(backtest.pk)  # created at 100.0

    written = []
    for fraction in (0.1, 0.2, 0.3, 0.4):  # at 100.2, 100.6, 100.9, 101.2
        write(fraction)
        written.append(Backtest.objects.get(pk=backtest.pk).progress)
    assert written == [0.0, 0.2, 0.2, 0.4]


def test_downsampling_keeps_the_deepest_drawdown_and_the_peaks():
    rng = np.random.default_rng(7)
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.002, 200_000)))
    drawdown = stats.drawdown(equity)
    kept = services.extreme_indexes([equity, drawdown], 2000)
    assert len(kept) <= 2000 and kept[0] == 0 and kept[-1] == len(equity) - 1
    assert np.all(np.diff(kept) > 0)
    assert equity[kept].max() == equity.max() and equity[kept].min() == equity.min()
    assert drawdown[kept].min() == drawdown.min()
    assert stats.max_drawdown_pct(equity[kept]) == stats.max_drawdown_pct(equity)


def test_price_points_mark_every_fill_on_its_bar():
    index = pd.date_range(datetime(2024, 1, 1, tzinfo=UTC), periods=10_000, freq="1min", name="time")
    bars = pd.DataFrame({"close": np.linspace(100, 200, 10_000)}, index=index)
    fills = [
        BacktestTrade(
            "AAPL", side, 1, Decimal(price), Decimal(0), index[bar].to_pydatetime(), index[bar - 1], None, "", {}
        )
        for side, price, bar in (("buy", "101.5", 1234), ("sell", "150.25", 5677))
    ]
    points = services.price_points(bars, fills, "AAPL", 500)
    assert len(points["time"]) <= 502
    marked = {
        (side, points["time"][i], points[side][i])
        for side in ("buy", "sell")
        for i in range(len(points["time"]))
        if points[side][i]
    }
    assert marked == {("buy", int(index[1234].timestamp()), 101.5), ("sell", int(index[5677].timestamp()), 150.25)}
