"""Charts in a real browser, at a desktop's width and a phone's: the bot page and the dashboard draw the
bot's candles with its indicators in their panes, markers and position lines, log no console error, fit
a phone's screen, and move the last bar as a live price arrives."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bots.charts import bot_chart
from tests.browser.conftest import screenshot
from tests.factories import DESIGN_CONFIG, BotFactory, PositionFactory, TradeFactory, UserFactory
from tradebot.events import publish
from trades.services import trade_payload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
WIDTHS = [1440, 390]
INDICATORS = {
    "SMA": {"period": 20},
    "BBANDS": {"period": 20, "std": 2},
    "RSI": {"period": 14, "oversold": 30, "overbought": 70},
    "MACD": {"fast": 12, "slow": 26, "signal": 9},
    "STOCH": {"k": 14, "d": 3, "smooth_k": 3, "oversold": 20, "overbought": 80},
    "OBV": {"period": 20},
}
PANES = 1 + 4  # the price, then RSI, MACD, STOCH and OBV below it

# What charts.js registered: each chart's kind, symbol, panes, series names and last candle.
CHARTS = """() => (window.tradebotCharts || []).map(c => ({
  kind: c.kind, symbol: c.symbol, panes: c.panes(), series: Object.keys(c.series),
  markers: (c.markers || []).length, lines: (c.lines || []).map(l => l.kind),
  last: c.series.candles ? c.series.candles.data().slice(-1)[0] : null,
  width: c.element.getBoundingClientRect().width,
}))"""


@pytest.fixture
def phone_or_desktop(browser, request):
    width = request.param
    context = browser.new_context(viewport={"width": width, "height": 900}, timezone_id="America/New_York")
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.width, page.errors = width, errors
    yield page
    context.close()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}/")


def trading_bot() -> tuple:
    """A bot holding AAPL, bought at the last close: (bot, price)."""
    user = UserFactory(username="charts", password=PASSWORD)
    bot = BotFactory(
        owner=user, name="Chart bot", config={**DESIGN_CONFIG, "symbols": ["AAPL", "MSFT"], "indicators": INDICATORS}
    )
    # Bought at the last close, with a 2 % stop and a 5 % target, as the design's bot would.
    price = Decimal(str(bot_chart(bot=bot, symbol="AAPL")["candles"][-1]["close"]))
    TradeFactory(bot=bot, quantity=5, price=price, filled_at=timezone.now(), reason="RSI below 30")
    PositionFactory(
        bot=bot, entry_price=price, stop_loss_price=price * Decimal("0.98"), take_profit_price=price * Decimal("1.05")
    )
    return bot, price


def overflow(page) -> int:
    """How far the page scrolls sideways (0: it fits the screen)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def drawn(page) -> list[dict]:
    page.wait_for_function("() => (window.tradebotCharts || []).some(c => c.kind === 'price' && c.series.candles)")
    return page.evaluate(CHARTS)


@pytest.mark.parametrize("phone_or_desktop", WIDTHS, indirect=True)
def test_the_bot_page_draws_candles_indicators_fills_and_the_position(asgi_server, phone_or_desktop):
    page, (bot, price) = phone_or_desktop, trading_bot()
    log_in(page, asgi_server.url, "charts")

    page.goto(f"{asgi_server.url}/bots/{bot.pk}/")
    (chart,) = drawn(page)

    assert chart["symbol"] == "AAPL" and chart["panes"] == PANES
    for name in ("candles", "volume", "SMA.average", "BBANDS.upper", "RSI.rsi", "MACD.histogram", "STOCH.k", "OBV.obv"):
        assert name in chart["series"]
    assert chart["markers"] == 1 and chart["lines"] == ["entry", "stop", "target"]
    assert chart["width"] <= page.width and overflow(page) <= 0

    # Hovering the fill's bar shows its shares, price and reason.
    page.locator(".price-chart .chart-canvas").scroll_into_view_if_needed()
    x, y = page.evaluate("""() => {
        const c = window.tradebotCharts[0], box = c.element.querySelector('.chart-canvas').getBoundingClientRect();
        return [box.x + c.chart.timeScale().timeToCoordinate(c.markers[0].time), box.y + 60];
    }""")
    page.mouse.move(x, y)
    expect(page.locator(".chart-tooltip")).to_have_text(f"BUY 5 @ {price:.2f} — RSI below 30")

    # A fill on the page's symbol: its marker shows without a reload.
    fill = TradeFactory(bot=bot, type="sell", quantity=5, filled_at=timezone.now(), reason="RSI above 70")
    asgi_server.call(lambda: publish("trade_executed", trade_payload(fill), user_id=bot.owner_id))
    page.wait_for_function("() => window.tradebotCharts[0].markers.length === 2", timeout=3000)
    page.wait_for_timeout(300)  # let the panes paint before the picture
    screenshot(page, f"bot-chart-{page.width}")
    assert page.errors == []


@pytest.mark.parametrize("phone_or_desktop", WIDTHS, indirect=True)
def test_the_dashboard_chart_follows_the_picker_and_live_prices(asgi_server, phone_or_desktop):
    page, (bot, _) = phone_or_desktop, trading_bot()
    log_in(page, asgi_server.url, "charts")
    page.wait_for_selector("#live-status[data-state=live]", state="attached")

    (chart,) = drawn(page)
    assert chart["symbol"] == "AAPL"
    page.select_option(".chart-pick", label=f"{bot.name} · MSFT")
    page.wait_for_function("() => window.tradebotCharts[0].symbol === 'MSFT'")
    (chart,) = page.evaluate(CHARTS)
    assert chart["panes"] == PANES and chart["lines"] == []  # no position in MSFT
    assert chart["width"] <= page.width and overflow(page) <= 0

    price = round(chart["last"]["close"] * 1.5, 2)  # far outside the bar: unmistakable
    asgi_server.call(
        lambda: publish("price_update", {"symbol": "MSFT", "price": price, "timestamp": timezone.now().isoformat()})
    )
    page.wait_for_function(
        f"() => window.tradebotCharts[0].series.candles.data().slice(-1)[0].close === {price}", timeout=2000
    )
    (moved,) = page.evaluate(CHARTS)
    assert moved["last"]["high"] == price and moved["last"]["time"] >= chart["last"]["time"]
    screenshot(page, f"dashboard-chart-{page.width}")
    assert page.errors == []


def a_history(user):
    """Closed round trips over the past days, of two bots on two symbols."""
    today = timezone.now().replace(hour=15, minute=0, second=0, microsecond=0)
    bots = [BotFactory(owner=user, name=name) for name in ("Momentum", "Reversion")]
    for n, pnl in enumerate(["120", "-45", "80", "-20", "60", "15"]):
        filled = today - timedelta(days=6 - n)
        TradeFactory(bot=bots[n % 2], symbol=["AAPL", "MSFT", "NVDA"][n % 3], type="sell", profit_loss=Decimal(pnl),
                     timestamp=filled, filled_at=filled)  # fmt: skip


@pytest.mark.parametrize("phone_or_desktop", WIDTHS, indirect=True)
def test_the_analytics_page_draws_its_charts_and_toggles_daily_and_cumulative(asgi_server, phone_or_desktop):
    page = phone_or_desktop
    a_history(UserFactory(username="charts", password=PASSWORD))
    log_in(page, asgi_server.url, "charts")

    page.goto(f"{asgi_server.url}/analytics/?range=1M")
    page.wait_for_function("() => (window.tradebotCharts || []).length === 3")
    # Per chart, per series: whether it is shown, and its number of points.
    shown = """() => Object.fromEntries(window.tradebotCharts.map(c => [c.element.dataset.series,
        Object.fromEntries(Object.entries(c.series).map(([label, s]) => [label, [s.options().visible, s.data().length]])
    )]))"""
    charts = page.evaluate(shown)
    assert charts["pnl"] == {"cumulative": [True, 6], "daily": [False, 6]}
    assert set(charts["bots-pnl"]) == {"Momentum", "Reversion"}
    assert set(charts["symbols-pnl"]) == {"AAPL", "MSFT", "NVDA"}
    widths = page.evaluate("() => window.tradebotCharts.map(c => c.element.getBoundingClientRect().right)")
    assert max(widths) <= page.width and overflow(page) <= 0

    page.click("#pnl-chart button:has-text('Daily')")
    assert page.evaluate(shown)["pnl"] == {"cumulative": [False, 6], "daily": [True, 6]}
    page.wait_for_timeout(300)
    screenshot(page, f"analytics-{page.width}")
    assert page.errors == []


@pytest.mark.parametrize("phone_or_desktop", WIDTHS, indirect=True)
def test_a_positions_page_and_the_trades_page_draw_their_charts(asgi_server, phone_or_desktop):
    page, (bot, _) = phone_or_desktop, trading_bot()
    a_history(bot.owner)
    position = bot.positions.get(is_open=True)
    log_in(page, asgi_server.url, "charts")

    page.goto(f"{asgi_server.url}/positions/{position.pk}/")
    (chart,) = drawn(page)
    assert chart["symbol"] == "AAPL" and chart["lines"] == ["entry", "stop", "target"]
    assert overflow(page) <= 0
    page.wait_for_timeout(300)
    screenshot(page, f"position-chart-{page.width}")

    page.goto(f"{asgi_server.url}/trades/")
    page.wait_for_function("() => (window.tradebotCharts || []).some(c => c.element.dataset.series === 'daily-pnl')")
    daily = page.evaluate(
        "() => window.tradebotCharts.find(c => c.element.dataset.series === 'daily-pnl').series.daily.data().length"
    )
    assert daily == 6 and overflow(page) <= 0
    screenshot(page, f"trades-chart-{page.width}")
    assert page.errors == []
