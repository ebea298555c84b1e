"""A person's path through the dashboard in a real browser: log in, create a bot, start it, and watch a
tick's trade and the bot's status arrive without reloading the page."""

import os

import pytest
from playwright.sync_api import expect

from bots import services
from bots.models import Bot
from bots.orders import position_close
from bots.ticks import bot_tick
from positions.models import Position
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.environ.get("TRADEBOT_SCREENSHOTS", "/tmp")
PASSWORD = "correct horse battery staple"
# A forced tick buys: RSI(2) votes buy below 99.99 (reaching it takes about 13 rising bars in a row)
# and never sells (above 100 is impossible).
EAGER = {"RSI": {"period": 2, "oversold": 99.99, "overbought": 100}}


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    assert "/accounts/login/" in page.url  # the dashboard asks for a login first
    page.screenshot(path=f"{SCREENSHOTS}/tradebot-login.png", full_page=True)
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def test_a_bot_created_and_started_in_the_browser_trades_live_on_its_page(asgi_server, page):
    UserFactory(username="trader", password=PASSWORD)  # a trader, not staff: the dashboard is theirs too
    base = asgi_server.url

    log_in(page, base, "trader")
    page.wait_for_selector("#live-status.live-on")
    page.screenshot(path=f"{SCREENSHOTS}/tradebot-dashboard-empty.png", full_page=True)

    page.click("text=New bot")
    page.fill("#id_name", "Browser bot")
    page.fill("#id_capital", "10000")
    page.fill("#id_symbols", "AAPL, MSFT, NVDA")
    for name in ("MACD", "SMA"):  # the new bot's example has three indicators: RSI alone stays
        page.click(f"#indicator-{name} .remove-indicator")
    for param, value in EAGER["RSI"].items():
        page.fill(f"#id_ind_RSI_{param}", str(value))
    for rule in ("stop_loss", "take_profit", "max_daily_loss"):
        page.fill(f"#id_risk_{rule}", "")
    page.fill("#id_risk_max_position_size", "10")
    page.select_option("#id_signal_mode", "any")
    page.fill("#id_start_time", "00:00")
    page.fill("#id_end_time", "23:59")
    page.click("form.bot-form button[type=submit]")
    page.wait_for_selector("h1:has-text('Browser bot')")
    bot = Bot.objects.get(name="Browser bot")
    assert page.url == f"{base}/bots/{bot.pk}/"

    page.click(f"#bot-panel-{bot.pk} button:has-text('Start')")
    page.wait_for_selector(f"#bot-{bot.pk}-status.badge-running")
    page.wait_for_selector("#live-status.live-on")

    report = asgi_server.call(bot_tick, bot_id=bot.pk, force=True)
    assert report.outcome == "traded", report.lines()

    first_trade = page.wait_for_selector(f"#bot-{bot.pk}-trade-rows tr.trade")
    assert "buy" in first_trade.inner_text()
    page.wait_for_selector(f"#bot-{bot.pk}-position-rows tr.position")
    assert page.locator(f"#bot-{bot.pk}-trade-rows .empty-row").count() == 0
    # The status panel and the tick record follow the tick without a reload.
    held = bot.positions.filter(is_open=True).count()
    panel = page.locator(f"#bot-panel-{bot.pk}")
    expect(panel.locator(".facts > div", has_text="Open positions").locator("dd")).to_contain_text(f"{held} · ")
    expect(panel.locator(".facts > div", has_text="Last tick").locator("dd")).not_to_have_text("never")
    expect(page.locator(f"#bot-{bot.pk}-ticks .outcome-traded")).to_have_count(1)

    asgi_server.call(lambda: services.bot_pause(bot=Bot.objects.get(pk=bot.pk), reason="paused from the test"))
    page.wait_for_selector(f"#bot-{bot.pk}-status.badge-paused")
    assert "paused from the test" in page.inner_text(f"#bot-{bot.pk}-reason")
    page.wait_for_selector(".price-chart.drawn canvas")
    page.screenshot(path=f"{SCREENSHOTS}/tradebot-bot-live.png", full_page=True)

    page.goto(f"{base}/")
    assert page.locator("#trade-rows tr.trade").count() == bot.trades.count()
    page.screenshot(path=f"{SCREENSHOTS}/tradebot-dashboard.png", full_page=True)

    # Closing a position elsewhere updates the bot's row and the summary here.
    position = bot.positions.filter(is_open=True).first()
    asgi_server.call(
        lambda: position_close(position=Position.objects.select_related("bot__broker_account").get(pk=position.pk))
    )
    expect(page.locator(f"#bot-row-{bot.pk} td.num").nth(1)).to_have_text(str(held - 1))
    summary_card = page.locator("#summary .card").filter(
        has=page.get_by_role("heading", name="Open positions", exact=True)
    )
    expect(summary_card.locator(".big")).to_have_text(str(held - 1))
    page.screenshot(path=f"{SCREENSHOTS}/tradebot-dashboard-after-close.png", full_page=True)
    page.goto(f"{base}/bots/")
    page.screenshot(path=f"{SCREENSHOTS}/tradebot-bot-list.png", full_page=True)

    page.goto(f"{base}/bots/{bot.pk}/")
    page.wait_for_selector(".price-chart.drawn canvas")
    assert "traded" in page.inner_text(".ticks") and "buy signal" in page.inner_text(".ticks")
    page.screenshot(path=f"{SCREENSHOTS}/tradebot-bot-reloaded.png", full_page=True)
