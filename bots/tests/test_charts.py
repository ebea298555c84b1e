"""A bot's price chart: the JSON the bot page and the dashboard draw (bots.charts, bots:chart)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from bots.consumers import render_event
from market.cache import clear_caches
from tests.factories import DESIGN_CONFIG, BotFactory, PositionFactory, TradeFactory, UserFactory

pytestmark = pytest.mark.django_db
INDICATORS = {
    "RSI": {"period": 14, "oversold": 30, "overbought": 70},
    "MACD": {"fast": 12, "slow": 26, "signal": 9},
    "SMA": {"period": 50},
    "VOLUME_SMA": {"period": 20, "multiplier": 1.5},
}


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def bot(user):
    clear_caches()
    return BotFactory(owner=user, config={**DESIGN_CONFIG, "symbols": ["AAPL", "BRK.B"], "indicators": INDICATORS})


def chart_of(client, bot, symbol="AAPL"):
    return client.get(reverse("bots:chart", args=[bot.pk]), {"symbol": symbol})


def test_the_chart_has_candles_volume_and_each_indicator_where_traders_draw_it(signed_in, bot):
    chart = chart_of(signed_in, bot).json()

    assert chart["symbol"] == "AAPL" and chart["timeframe"] == "1Min"
    assert len(chart["candles"]) == len(chart["volume"]) == 200
    times = [bar["time"] for bar in chart["candles"]]
    assert times == sorted(set(times))
    assert all(bar["low"] <= min(bar["open"], bar["close"]) <= max(bar["open"], bar["close"]) <= bar["high"]
               for bar in chart["candles"])  # fmt: skip
    drawn = {indicator["name"]: indicator for indicator in chart["indicators"]}
    assert {name: drawn[name]["place"] for name in drawn} == {
        "RSI": "pane", "MACD": "pane", "SMA": "price", "VOLUME_SMA": "volume",
    }  # fmt: skip
    assert drawn["RSI"]["thresholds"] == [30, 70] and drawn["MACD"]["thresholds"] == [0]
    assert [s["key"] for s in drawn["MACD"]["series"]] == ["macd", "histogram", "signal"]
    assert [s["key"] for s in drawn["VOLUME_SMA"]["series"]] == ["volume_sma"]  # the volume is the histogram


def test_indicator_values_are_the_engines_on_the_shown_bars(signed_in, bot):
    chart = chart_of(signed_in, bot).json()

    closes = [bar["close"] for bar in chart["candles"]]
    sma = {point["time"]: point["value"] for point in chart["indicators"][2]["series"][0]["data"]}
    # SMA(50) at the last bar, by hand: the mean of the last 50 closes.
    assert sma[chart["candles"][-1]["time"]] == pytest.approx(sum(closes[-50:]) / 50, abs=1e-6)
    rsi = chart["indicators"][0]["series"][0]["data"]
    assert len(rsi) == 200  # the look-back before the first shown bar was fetched too
    assert all(0 <= point["value"] <= 100 for point in rsi)


def test_fills_are_markers_on_the_bar_they_filled_in_with_quantity_price_and_reason(signed_in, bot, user):
    chart = chart_of(signed_in, bot).json()
    last = chart["candles"][-1]["time"]
    filled = timezone.datetime.fromtimestamp(last + 30, tz=timezone.get_current_timezone())
    trade = TradeFactory(bot=bot, quantity=7, price=Decimal("101.25"), filled_at=filled, reason="RSI 28 < 30")
    TradeFactory(bot=bot, symbol="MSFT", filled_at=filled)  # another symbol
    TradeFactory(bot=bot, status="failed", filled_at=None)  # never filled

    markers = chart_of(signed_in, bot).json()["markers"]

    assert markers == [
        {"id": trade.pk, "time": last, "side": "buy", "quantity": 7, "price": 101.25, "reason": "RSI 28 < 30"}
    ]


def test_an_open_position_draws_its_entry_stop_and_target(signed_in, bot):
    PositionFactory(bot=bot, entry_price="100", stop_loss_price="98", take_profit_price="105")
    PositionFactory(bot=bot, symbol="BRK.B", is_open=False, closed_at=timezone.now(), exit_price="99")

    assert chart_of(signed_in, bot).json()["lines"] == [
        {"kind": "entry", "price": 100.0}, {"kind": "stop", "price": 98.0}, {"kind": "target", "price": 105.0},
    ]  # fmt: skip
    assert chart_of(signed_in, bot, "BRK.B").json()["lines"] == []


def test_another_users_bot_has_no_chart(client, bot):
    client.force_login(UserFactory())

    assert chart_of(client, bot).status_code == 404


def test_a_symbol_the_bot_neither_trades_nor_holds_is_refused_with_the_field(signed_in, bot):
    response = chart_of(signed_in, bot, "TSLA")

    assert response.status_code == 422
    assert response.json()["field"] == "symbol" and "TSLA" in response.json()["reason"]


@pytest.mark.parametrize("fills", [1, 12])
def test_the_chart_costs_the_same_queries_whatever_the_fills(signed_in, bot, fills, django_assert_num_queries):
    now = timezone.now()
    for n in range(fills):
        TradeFactory(bot=bot, filled_at=now - timedelta(minutes=n))
    PositionFactory(bot=bot)
    chart_of(signed_in, bot)  # warm the bar cache

    # session, user, bot, the imported bars' check (the simulated feed prefers them), fills, open position
    with django_assert_num_queries(6):
        chart_of(signed_in, bot)


def test_the_bot_page_and_the_dashboard_offer_the_bots_symbols(signed_in, bot, user):
    page = signed_in.get(reverse("bots:detail", args=[bot.pk])).content.decode()
    dashboard = signed_in.get(reverse("bots:dashboard")).content.decode()

    url = reverse("bots:chart", args=[bot.pk])
    assert f'class="price-chart" data-src="{url}?symbol=AAPL"' in page
    assert f'<option value="{url}?symbol=BRK.B">{bot.name} · BRK.B</option>' in dashboard


def test_price_and_trade_events_reach_the_charts_with_their_payload():
    payload = {"symbol": "AAPL", "price": "101.5", "timestamp": "2026-01-05T15:00:00Z"}

    html = render_event("price_update", payload)

    assert 'id="chart-feed"' in html and 'data-event="price_update"' in html
    assert "&quot;price&quot;: &quot;101.5&quot;" in html


def test_a_position_chart_draws_that_positions_levels_even_once_closed(signed_in, bot):
    position = PositionFactory(
        bot=bot, is_open=False, closed_at=timezone.now(), exit_price="104", entry_price="100", stop_loss_price="97"
    )

    html = render_to_string("positions/position_chart.html", {"position": position})

    src = f"{reverse('bots:chart', args=[bot.pk])}?symbol=AAPL&amp;position={position.pk}"
    assert f'data-src="{src}"' in html
    chart = signed_in.get(reverse("bots:chart", args=[bot.pk]), {"symbol": "AAPL", "position": position.pk}).json()
    assert chart["lines"] == [{"kind": "entry", "price": 100.0}, {"kind": "stop", "price": 97.0}]


def test_another_bots_position_is_refused_on_a_chart(signed_in, bot, user):
    other = PositionFactory(bot=BotFactory(owner=user))

    response = signed_in.get(reverse("bots:chart", args=[bot.pk]), {"symbol": "AAPL", "position": other.pk})

    assert response.status_code == 422 and response.json()["field"] == "position"


def test_a_position_whose_bot_was_deleted_says_why_it_has_no_chart(bot):
    position = PositionFactory(bot=bot)
    position.bot = None

    assert "was deleted" in render_to_string("positions/position_chart.html", {"position": position})
