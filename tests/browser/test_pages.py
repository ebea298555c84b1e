"""Every page at a desktop's and a phone's width, and what a trader does on them: filters, sort, detail,
export, the bot form, live updates (timed) and a re-sync after the socket was down."""

import csv
import re
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bots import services
from bots.models import Bot
from engine.indicators import REGISTRY
from positions.services import position_payload
from tests.browser.conftest import screenshot
from tests.factories import BotFactory, PositionFactory, TradeFactory, UserFactory
from tradebot.events import publish
from trades.services import trade_payload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
WIDTHS = {"desktop": 1440, "phone": 390}
# What a live event may take from its commit to the screen.
LIVE_WITHIN_SECONDS = 1.0


@pytest.fixture
def trader():
    return UserFactory(username="pages-trader", password=PASSWORD)


@pytest.fixture
def book(trader):
    """A bot with trades over a few days, an open and a closed position."""
    bot = BotFactory(owner=trader, name="Book bot")
    now = timezone.now()
    trades = []
    for n in range(12):
        kind = "sell" if n % 2 else "buy"
        trades.append(
            TradeFactory(
                bot=bot,
                symbol="AAPL" if n % 3 else "MSFT",
                type=kind,
                status="filled",
                price=Decimal(100 + n),
                quantity=1 + n,
                profit_loss=Decimal(n - 5) if kind == "sell" else None,
                timestamp=now - timedelta(days=n),
                filled_at=now - timedelta(days=n),
                order_id=f"order-{n}",
                client_order_id=f"bot-{bot.pk}-{n}",
                commission=Decimal("0.35"),
                slippage=Decimal("0.01"),
                reason=f"reason {n}",
                indicators_snapshot={"RSI.rsi": 25.5, "close": 100.0 + n},
            )
        )
    opened = PositionFactory(
        bot=bot, symbol="AAPL", quantity=10, entry_price=Decimal("100"), current_price=Decimal("101")
    )
    closed = PositionFactory(
        bot=bot, symbol="MSFT", is_open=False, closed_at=now, exit_price=Decimal("99"), realized_pnl=Decimal("-10")
    )
    return {"bot": bot, "trades": trades, "open": opened, "closed": closed}


@pytest.fixture
def watched(page):
    """The page, with its console errors and uncaught exceptions collected."""
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page


def log_in(page, base: str, username: str = "pages-trader") -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}/")


def wait_live(page) -> None:
    """Until the socket is open and the page re-synced (the badge is folded into the menu on a phone)."""
    page.wait_for_selector("#live-status[data-state=live]", state="attached")


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("device", WIDTHS)
def test_every_page_fits_the_width_has_the_banner_and_logs_no_error(asgi_server, watched, book, device):
    page, base = watched, asgi_server.url
    page.set_viewport_size({"width": WIDTHS[device], "height": 900})
    log_in(page, base)
    bot, trade = book["bot"], book["trades"][1]
    pages = {
        "dashboard": "/",
        "bots": "/bots/",
        "bot": f"/bots/{bot.pk}/",
        "bot-new": "/bots/new/",
        "bot-edit": f"/bots/{bot.pk}/edit/",
        "trades": "/trades/",
        "trade": f"/trades/{trade.pk}/",
        "positions": "/positions/",
        "positions-closed": "/positions/?state=closed",
        "position": f"/positions/{book['open'].pk}/",
        "backtests": "/backtests/",
        "backtest-new": "/backtests/new/",
    }
    for name, path in pages.items():
        page.goto(f"{base}{path}")
        wait_live(page)
        expect(page.locator("#market-status .banner")).to_be_visible()
        assert overflow(page) <= 0, f"{path} scrolls sideways by {overflow(page)} px at {WIDTHS[device]} px"
        screenshot(page, f"{name}-{WIDTHS[device]}")
    if device == "phone":
        expect(page.locator("#site-nav")).to_be_hidden()
        page.click(".menu-toggle")
        expect(page.get_by_role("link", name="Backtests", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        screenshot(page, "menu-open-390")
    assert page.errors == []


def test_trades_filter_sort_detail_and_export(asgi_server, watched, book, tmp_path):
    page, base = watched, asgi_server.url
    log_in(page, base)
    page.goto(f"{base}/trades/")
    expect(page.locator("#trade-stats")).to_contain_text("12")

    page.fill("#id_symbol", "aapl")
    page.locator("#id_symbol").blur()  # a text filter applies on leaving the field
    expect(page).to_have_url(re.compile(r"symbol=aapl"))
    apple = [trade for trade in book["trades"] if trade.symbol == "AAPL"]
    expect(page.locator("#trade-results tr.trade")).to_have_count(len(apple))

    page.click("th a[data-sort=price]")
    expect(page).to_have_url(re.compile(r"symbol=aapl.*sort=-price"))
    prices = sorted((trade.price for trade in apple), reverse=True)
    cells = page.locator("#trade-results tr.trade td[data-label=Price]")
    expect(cells).to_have_text([f"{price:.2f}" for price in prices])
    page.click("th a[data-sort=price]")
    expect(page).to_have_url(re.compile(r"sort=price"))
    expect(cells).to_have_text([f"{price:.2f}" for price in reversed(prices)])

    first = page.locator("#trade-results tr.trade a.trade-link").first
    first.click()
    dialog = page.locator("#trade-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Client order id")
    expect(dialog).to_contain_text("RSI.rsi")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    with page.expect_download() as download:
        page.click("#trade-export")
    path = tmp_path / "trades.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == len(apple) and {row["symbol"] for row in rows} == {"AAPL"}
    assert [Decimal(row["price"]) for row in rows] == sorted(Decimal(row["price"]) for row in rows)

    page.fill("#id_since", "2024-03-05")
    page.fill("#id_until", "2024-03-01")
    page.locator("#id_until").blur()
    expect(page.locator("#filter-errors")).to_contain_text("To: must not be before From")
    expect(page.locator("#trade-results tr.trade")).to_have_count(0)
    page.goto(f"{base}/trades/{book['trades'][3].pk}/")
    expect(page.locator("article.trade-detail")).to_contain_text("order-3")
    screenshot(page, "trade-detail-page-1440")
    assert page.errors == []


def test_positions_summary_filter_detail_live_price_and_close(asgi_server, watched, book):
    page, base = watched, asgi_server.url
    opened = book["open"]
    log_in(page, base)
    page.goto(f"{base}/positions/")
    wait_live(page)
    expect(page.locator("#summary-value")).to_have_text("1,010.00")

    started = time.monotonic()
    asgi_server.call(publish, "price_update", {"symbol": "AAPL", "price": "105.5", "timestamp": timezone.now()})
    expect(page.locator(f"#position-{opened.pk}-price")).to_have_text("105.50")
    elapsed = time.monotonic() - started
    expect(page.locator(f"#position-{opened.pk}-pnl")).to_have_text("55.00")
    assert elapsed < LIVE_WITHIN_SECONDS, f"the price took {elapsed:.2f} s to show"
    expect(page.locator("#summary-value")).to_have_text("1,055.00")  # the summary bar follows

    page.select_option("#id_sort", "value")
    expect(page).to_have_url(re.compile(r"sort=value"))
    page.click(f"#position-{opened.pk} a:has-text('AAPL')")
    expect(page.locator("h1")).to_contain_text("AAPL")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Close position')")
    expect(page.locator(".message")).to_contain_text("AAPL")
    expect(page.locator("button:has-text('Close position')")).to_have_count(0)
    assert page.errors == []


def test_the_bot_form_round_trips_every_indicator_of_the_registry(asgi_server, watched, trader):
    page, base = watched, asgi_server.url
    log_in(page, base)
    page.goto(f"{base}/bots/new/")
    page.fill("#id_name", "Every indicator")
    page.fill("#id_symbols", "aapl msft 1bad")
    expect(page.locator(".chip-bad")).to_have_text(re.compile("1BAD"))
    expect(page.locator(".symbol-check")).to_contain_text("not a ticker")
    page.fill("#id_symbols", "aapl msft")
    expect(page.locator(".chip")).to_have_count(2)
    expect(page.locator(".symbol-check")).to_be_hidden()
    for name in REGISTRY:
        if page.locator(f"#indicator-{name}").is_hidden():
            page.select_option("#indicator-add", name)
        expect(page.locator(f"#indicator-{name}")).to_be_visible()
    page.fill("#id_ind_SMA_period", "50")
    page.fill("#id_ind_EMA_period", "20")
    page.fill("#id_start_time", "10:00")
    page.fill("#id_end_time", "09:00")
    page.click("form.bot-form button[type=submit]")
    expect(page.locator("#field-end_time .error")).to_have_text("must end after it starts (10:00)")
    page.fill("#id_end_time", "15:30")
    page.click("form.bot-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Every indicator')")
    bot = Bot.objects.get(name="Every indicator")
    assert set(bot.indicators) == set(REGISTRY) and bot.symbols == ["AAPL", "MSFT"]
    assert (bot.start_hour, bot.end_hour, bot.end_minute) == (10, 15, 30)
    saved = bot.config_data()

    page.goto(f"{base}/bots/{bot.pk}/edit/")
    for name in REGISTRY:
        expect(page.locator(f"#indicator-{name}")).to_be_visible()
    expect(page.locator("#id_risk_stop_loss")).to_have_value("2")
    page.click("form.bot-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Every indicator')")
    bot.refresh_from_db()
    assert bot.config_data() == saved

    page.goto(f"{base}/bots/{bot.pk}/edit/")
    page.click("#indicator-MACD .remove-indicator")
    page.click("form.bot-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Every indicator')")
    bot.refresh_from_db()
    assert set(bot.indicators) == set(REGISTRY) - {"MACD"}
    assert page.errors == []


def test_a_live_trade_shows_within_a_second_and_the_table_keeps_its_page_size(asgi_server, watched, trader):
    page, base = watched, asgi_server.url
    bot = BotFactory(owner=trader)
    TradeFactory.create_batch(50, bot=bot, symbol="OLD")
    log_in(page, base)
    page.goto(f"{base}/trades/")
    wait_live(page)
    expect(page.locator("#trade-rows tr.trade")).to_have_count(50)

    for n in range(3):
        trade = TradeFactory(bot=bot, symbol=f"NEW{n}")
        started = time.monotonic()
        asgi_server.call(publish, "trade_executed", trade_payload(trade), user_id=trader.pk)
        expect(page.locator(f"#trade-{trade.pk}")).to_be_visible()
        elapsed = time.monotonic() - started
        assert elapsed < LIVE_WITHIN_SECONDS, f"the trade took {elapsed:.2f} s to show"
    expect(page.locator("#trade-rows tr.trade")).to_have_count(50)
    # Events for elements this page does not show are no errors.
    position = PositionFactory(bot=bot, symbol="ZZZ")
    asgi_server.call(publish, "position_updated", position_payload(position), user_id=trader.pk)
    asgi_server.call(publish, "price_update", {"symbol": "ZZZ", "price": "1", "timestamp": timezone.now()})
    page.wait_for_timeout(300)
    assert page.errors == []


def test_a_bot_paused_while_the_socket_was_down_shows_paused_after_the_reconnect(asgi_server, watched, trader):
    page, base = watched, asgi_server.url
    bot = BotFactory(owner=trader, name="Sleeper")
    asgi_server.call(services.bot_start, bot=bot)  # publishes: from the server's side, like a request
    down = {"now": False}
    sockets = []

    def route(socket):
        if down["now"]:
            socket.close(code=1013, reason="down for the test")
            return
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile(r".*/ws/dashboard/$"), route)
    log_in(page, base)
    page.goto(f"{base}/bots/")
    wait_live(page)
    expect(page.locator(f"#bot-{bot.pk}-status")).to_have_text("running")

    down["now"] = True
    sockets[-1].close(code=1012, reason="server restart")
    expect(page.locator("#live-status")).to_contain_text("offline")
    asgi_server.call(lambda: services.bot_pause(bot=Bot.objects.get(pk=bot.pk), reason="paused while away"))
    page.wait_for_timeout(500)
    expect(page.locator(f"#bot-{bot.pk}-status")).to_have_text("running")  # nothing arrived: the socket is down

    down["now"] = False
    page.wait_for_selector("#live-status[data-state=live]", state="attached", timeout=20_000)
    expect(page.locator(f"#bot-{bot.pk}-status")).to_have_text("paused")
    expect(page.locator(f"#bot-{bot.pk}-reason")).to_contain_text("paused while away")
    screenshot(page, "bots-after-reconnect-1440")
    assert [error for error in page.errors if "WebSocket" not in error] == []


def test_a_trade_from_another_process_reaches_the_page_on_the_embedded_run(asgi_server, watched, trader):
    """A trade written without the server's channel layer (as manage.py tick in a second process does)
    appears on its own: the page polls the latest-change mark and re-syncs."""
    page, base = watched, asgi_server.url
    bot = BotFactory(owner=trader)
    log_in(page, base)
    page.goto(f"{base}/trades/")
    wait_live(page)
    page.wait_for_timeout(500)
    trade = TradeFactory(bot=bot, symbol="ELSE")  # no publish reaches this server
    expect(page.locator(f"#trade-{trade.pk}")).to_be_visible(timeout=15_000)
    assert page.errors == []


def test_the_api_docs_load_from_vendored_files_only(asgi_server, watched, trader):
    page, base = watched, asgi_server.url
    foreign = []
    page.on("request", lambda request: foreign.append(request.url) if not request.url.startswith(base) else None)
    log_in(page, base)
    page.goto(f"{base}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Tradebot API")
    screenshot(page, "api-docs-1440")
    assert foreign == [] and page.errors == []


def test_a_dropped_socket_is_back_within_a_second_even_after_a_clean_close(asgi_server, watched, trader):
    page, base = watched, asgi_server.url
    sockets = []

    def route(socket):
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile(r".*/ws/dashboard/$"), route)
    log_in(page, base)
    page.goto(f"{base}/trades/")
    wait_live(page)
    connected = len(sockets)
    for code in (1001, 1000):  # a server going away, a normal close: the ws extension alone retries neither
        started = time.monotonic()
        sockets[-1].close(code=code, reason="restart")
        page.wait_for_selector("#live-status[data-state=offline]", state="attached")
        wait_live(page)
        elapsed = time.monotonic() - started
        assert elapsed < 1.5, f"back after {elapsed:.2f} s"
    assert len(sockets) == connected + 2  # one new connection each time, no duplicates


def test_dark_mode_follows_the_system_setting(asgi_server, watched, trader):
    page, base = watched, asgi_server.url
    log_in(page, base)
    page.emulate_media(color_scheme="dark")
    page.goto(f"{base}/trades/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 23, 42)"
    screenshot(page, "trades-dark-1440")
    page.emulate_media(color_scheme="light")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"
