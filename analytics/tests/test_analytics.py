"""The analytics page's figures against a history worked out by hand, its ranges, its cost in queries
and each bot beside its backtest."""

import json
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from analytics import selectors
from backtests.models import Backtest
from engine.market_time import exchange_date
from tests.factories import BotFactory, PositionFactory, TradeFactory
from trades.models import Trade

pytestmark = pytest.mark.django_db
D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)  # 15:00 UTC is 10:00 in New York


def closed(bot, symbol, pnl, filled_at, hours_held):
    position = PositionFactory(
        bot=bot, symbol=symbol, is_open=False, opened_at=filled_at - timedelta(hours=hours_held),
        closed_at=filled_at, exit_price="100",
    )  # fmt: skip
    return TradeFactory(
        bot=bot, symbol=symbol, type="sell", profit_loss=Decimal(pnl), position=position,
        timestamp=filled_at, filled_at=filled_at,
    )  # fmt: skip


@pytest.fixture
def history(user):
    """Five round trips over three days (P&L in fill order: +100, -40, -50, +30, +60), a buy, and an open
    position 25 up. Bot A has 10,000 allocated, bot B 5,000."""
    a = BotFactory(owner=user, name="A")
    b = BotFactory(owner=user, name="B")
    a.capital, b.capital = Decimal(10000), Decimal(5000)
    a.save(), b.save()
    closed(a, "AAPL", "100", at(D1, 15), 1)
    closed(b, "MSFT", "-40", at(D1, 16), 2)
    closed(a, "AAPL", "-50", at(D2, 15), 3)
    closed(a, "MSFT", "30", at(D2, 16), 4)
    closed(b, "MSFT", "60", at(D3, 15), 5)
    TradeFactory(bot=a, timestamp=at(D1, 14), filled_at=at(D1, 14))  # a buy: no P&L of its own
    PositionFactory(bot=a, unrealized_pnl="25")
    return a, b


def test_the_overview_matches_the_history_worked_out_by_hand(user, history):
    p = selectors.performance(user=user, range_name="ALL", today=D3)

    assert (p.realized_pnl, p.unrealized_pnl, p.total_pnl, p.capital) == (100, 25, 125, 15000)
    assert p.return_pct == pytest.approx(100 * 125 / 15000)
    assert (p.stats.count, p.stats.wins, p.stats.win_rate_pct) == (5, 3, 60.0)
    assert p.stats.profit_factor == pytest.approx(190 / 90)
    assert p.stats.expectancy == 20
    # Cumulative realized P&L in fill order: 100, 60, 10, 40, 100: the deepest fall is 100 -> 10.
    assert p.stats.max_drawdown == 90 and p.max_drawdown_pct == pytest.approx(0.6)
    # Daily P&L 60, -20, 60: mean 33.33, sample deviation 46.19; downside deviation sqrt(400 / 3).
    assert p.stats.sharpe_ratio == pytest.approx(33.3333 / 46.1880 * math.sqrt(252), rel=1e-4)
    assert p.sortino_ratio == pytest.approx(33.3333 / math.sqrt(400 / 3) * math.sqrt(252), rel=1e-4)
    assert p.history.average_hold == timedelta(hours=3)  # held 1, 2, 3, 4 and 5 hours
    assert p.history.days == [D1, D2, D3] and p.history.daily_pnl == [60, -20, 60]


def test_bots_and_symbols_are_broken_down_by_hand(user, history):
    p = selectors.performance(user=user, range_name="ALL", today=D3)

    bots = {row.key: (row.trades, row.wins, row.pnl, row.return_pct) for row in p.by_bot}
    assert bots == {"A": (3, 2, 80, 0.8), "B": (2, 1, 20, 0.4)}
    symbols = {row.key: (row.trades, row.wins, row.pnl) for row in p.history.by_symbol}
    assert symbols == {"AAPL": (2, 1, 50), "MSFT": (3, 2, 50)}
    assert selectors.cumulative(p.history.days, p.history.bot_days["B"]) == [-40, -40, 20]


def test_a_range_counts_the_trades_placed_in_its_days_only(user, history):
    week = selectors.performance(user=user, range_name="1W", today=D3 + timedelta(days=6))

    assert week.start == D3 and week.realized_pnl == 60 and week.stats.count == 1


def test_the_page_shows_the_figures_and_draws_the_charts(client, user, history):
    client.force_login(user)

    response = client.get(reverse("analytics:overview"), {"range": "ALL", "bot_sort": "name"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "125.00" in html and "60.0%" in html and "2.11" in html and "3:00:00" in html
    assert [row.key for row in response.context["by_bot"]] == ["A", "B"]
    # Sorting one table keeps the other's order and the range; the sorted column's link turns it round.
    assert 'href="?range=ALL&symbol_sort=-pnl&bot_sort=-name#bots"' in html
    assert 'href="?range=ALL&bot_sort=name&symbol_sort=-trades#symbols"' in html
    chart = response.context["pnl"]["chart"]
    assert [s["label"] for s in chart["series"]] == ["cumulative", "daily"]
    assert [point["value"] for point in chart["series"][0]["data"]] == [60, 40, 100]
    assert 'data-series="pnl"' in html and 'data-series="bots-pnl"' in html and 'data-series="symbols-pnl"' in html


def test_a_bad_range_says_which_field_and_shows_no_figures(client, user, history):
    client.force_login(user)

    response = client.get(reverse("analytics:overview"), {"range": "2W"})

    assert response.status_code == 422
    assert "range:" in response.content.decode() and "performance" not in response.context


def test_the_figures_follow_a_new_trade_at_once(client, user, history):
    client.force_login(user)
    client.get(reverse("analytics:overview"))  # computed and cached

    closed(history[0], "NVDA", "7", at(D3, 17), 1)

    assert client.get(reverse("analytics:overview")).context["performance"].realized_pnl == 107


@pytest.mark.parametrize("round_trips", [1, 15])
def test_a_request_costs_the_same_queries_whatever_the_trades(client, user, round_trips, django_assert_num_queries):
    bot = BotFactory(owner=user)
    for n in range(round_trips):
        closed(bot, ["AAPL", "MSFT", "NVDA"][n % 3], str(n - 5), at(D1, 14) + timedelta(days=n), 1)
    client.force_login(user)

    # session, user; bots' capital, open positions; the cached figures' fingerprints (2 counts each) and
    # their first computation (history, hold time; trade_stats' aggregate, daily sums, drawdown); drift:
    # bots, backtests (none finished: nothing to compare).
    with django_assert_num_queries(15):
        client.get(reverse("analytics:overview"))
    with django_assert_num_queries(10):  # cached
        client.get(reverse("analytics:overview"))


def test_each_bot_is_shown_beside_its_backtest_with_the_fills_that_differ(client, user):
    bot = BotFactory(owner=user)
    today = exchange_date(timezone.now())  # the page's period ends today
    t1, t2, t3 = at(D1, 15), at(D1, 16), at(D1, 17)
    TradeFactory(bot=bot, bar_time=t1, filled_at=t1, timestamp=t1)
    TradeFactory(bot=bot, type="sell", bar_time=t2, filled_at=t2, timestamp=t2, profit_loss="12", reason="RSI 75")
    run = {"quantity": 10, "price": "100", "reason": "backtested"}
    Backtest.objects.create(
        owner=user, bot=bot, config={}, symbols=["AAPL"], timeframe="1Min", start=D1, end=today, capital=bot.capital,
        slippage=0, commission=0, status=Backtest.Status.DONE, stats={"final_equity": str(bot.capital + 20)},
        trades=[{"symbol": "AAPL", "side": "buy", "bar_time": t1.isoformat(), **run},
                {"symbol": "AAPL", "side": "sell", "bar_time": t3.isoformat(), **run}],
    )  # fmt: skip
    performance = selectors.performance(user=user, range_name="ALL", today=today)

    (drift,) = selectors.drift(user=user, performance=performance, today=today)

    assert (drift.start, drift.end, drift.backtest_pnl, drift.pnl_drift) == (D1, today, 20, -8)
    assert [(f["side"], f["bar_time"]) for f in drift.live_only] == [("sell", t2)]
    assert [(f["side"], f["bar_time"], f["reason"]) for f in drift.backtest_only] == [("sell", t3, "backtested")]
    client.force_login(user)
    page = client.get(reverse("analytics:overview")).content.decode()
    assert "<dt>Drift</dt>" in page and "-8.00" in page and "RSI 75" in page and "backtested" in page


def test_backtesting_a_bots_period_from_the_page_queues_it(client, user):
    bot = BotFactory(owner=user)
    client.force_login(user)

    response = client.post(
        reverse("analytics:drift_backtest", args=[bot.pk]), {"start": "2026-03-02", "end": "2026-03-04", "range": "1M"}
    )

    assert response.status_code == 302 and response.url.endswith("?range=1M#drift")
    backtest = Backtest.objects.get(bot=bot)
    assert (backtest.start, backtest.end) == (D1, D3)


def test_another_users_bot_cannot_be_backtested_from_the_page(client, user):
    client.force_login(user)

    response = client.post(
        reverse("analytics:drift_backtest", args=[BotFactory().pk]), {"start": "2026-03-02", "end": "2026-03-04"}
    )

    assert response.status_code == 404 and not Backtest.objects.exists()


def test_the_trades_pages_daily_pnl_chart_sums_the_rows_it_is_given(user, history):
    bot_a = history[0]
    html = render_to_string("trades/daily_pnl_chart.html", {"trades": Trade.objects.filter(bot=bot_a)})

    chart = json.loads(html[html.index(">", html.index('id="daily-pnl"')) + 1 : html.index("</script>")])
    daily, running = chart["series"]
    assert (daily["label"], running["label"], running["hidden"]) == ("daily", "cumulative", True)
    assert [p["value"] for p in daily["data"]] == [100, -20]  # A: +100 on D1, -50 + 30 on D2
    assert [p["value"] for p in running["data"]] == [100, 80]
    assert [p["time"] for p in daily["data"]] == [selectors.epoch_day(D1), selectors.epoch_day(D2)]


def test_the_daily_pnl_chart_of_no_closed_trade_says_so(user):
    assert "No closed trades" in render_to_string("trades/daily_pnl_chart.html", {"trades": Trade.objects.none()})


@pytest.mark.parametrize("fills", [1, 15])
def test_the_comparison_with_a_backtest_costs_the_same_queries_whatever_the_fills(
    client, user, fills, django_assert_num_queries
):
    bot = BotFactory(owner=user)
    today = exchange_date(timezone.now())
    for n in range(fills):
        TradeFactory(bot=bot, bar_time=at(D1, 14) + timedelta(minutes=n), filled_at=at(D1, 15), timestamp=at(D1, 15))
    closed(bot, "AAPL", "5", at(D1, 16), 1)
    Backtest.objects.create(
        owner=user, bot=bot, config={}, symbols=["AAPL"], timeframe="1Min", start=D1, end=today, capital=bot.capital,
        slippage=0, commission=0, status=Backtest.Status.DONE, stats={"final_equity": str(bot.capital)}, trades=[],
    )  # fmt: skip
    client.force_login(user)

    # As without a backtest (15, then 10 cached), plus the comparison's two counts and, the first time,
    # the live fills and the backtest's.
    with django_assert_num_queries(19):
        first = client.get(reverse("analytics:overview"))
    with django_assert_num_queries(12):
        client.get(reverse("analytics:overview"))
    (drift,) = first.context["drifts"]
    assert len(drift.live_only) == min(fills, selectors.MAX_DIFFERENCES)
