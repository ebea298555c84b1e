"""A trade on the simulated stream reaches the open dashboard: the symbol's price and the position's
price and P&L move within 500 ms of the stream message (measured here)."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat

from bots import services
from bots.stream import StreamService
from market.sim_stream import minute_trades
from tests.browser.test_dashboard import PASSWORD, log_in
from tests.factories import BotFactory, PositionFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MINUTE = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
BUDGET_SECONDS = 0.5


def test_a_streamed_trade_moves_the_price_and_the_pnl_on_the_dashboard_within_500_ms(asgi_server, page):
    trader = UserFactory(username="streamer", password=PASSWORD)
    # On the server's loop, as the other browser tests do: Playwright runs an event loop in this thread,
    # where starting the bot could not publish its status.
    bot = asgi_server.call(
        lambda: services.bot_start(
            bot=BotFactory(
                owner=trader,
                config={"name": "Live", "capital": 10000, "symbols": ["AAPL"], "indicators": {"RSI": {"period": 14}}},
            )
        )
    )
    position = PositionFactory(
        bot=bot, symbol="AAPL", quantity=10, entry_price=Decimal("500"), current_price=Decimal("500")
    )
    log_in(page, asgi_server.url, "streamer")
    page.wait_for_selector("#live-status.live-on")
    page.wait_for_selector(f"#position-{position.pk}-price")

    clock = [MINUTE]
    # The stream's work runs on daphne's loop, as the embedded run does (ops serve.on_daphnes_loop).
    with StreamService(run_in=asgi_server.call, sim_clock=lambda: clock[0], reconcile_seconds=0.1) as service:
        deadline = time.monotonic() + 5
        while not any(stream.symbols == {"AAPL"} for stream in service.market_streams.values()):
            assert time.monotonic() < deadline, "the stream never subscribed AAPL"
            time.sleep(0.01)
        [stream] = service.market_streams.values()
        low = minute_trades(0, "AAPL", MINUTE)[1].price
        price, pnl = floatformat(low, "2g"), floatformat((low - Decimal("500")) * 10, "2g")

        sent = time.monotonic()
        stream.emit_until(MINUTE + timedelta(seconds=16))  # the minute's open (not after the start) and low
        page.wait_for_function(
            """([id, symbol, price, pnl]) => {
                const chip = document.querySelector(`#price-${symbol}`);
                return chip && chip.textContent.includes(price)
                    && document.querySelector(`#position-${id}-price`).textContent.trim() === price
                    && document.querySelector(`#position-${id}-pnl`).textContent.trim() === pnl;
            }""",
            arg=[position.pk, "aapl", price, pnl],
            polling=10,
            timeout=5000,
        )
        took = time.monotonic() - sent
    page.screenshot(path="/tmp/tradebot-live-prices.png", full_page=True)
    assert took < BUDGET_SECONDS, f"{took * 1000:.0f} ms from the stream message to the page"
