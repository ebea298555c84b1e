"""The dashboard's WebSocket: what a browser receives after publish(), over the in-memory channel layer."""

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone

from bots.consumers import DashboardConsumer, render_event
from bots.ticks import bot_tick
from tests.factories import DESIGN_CONFIG, BotFactory, UserFactory
from tradebot.events import publish

# publish() sends on commit, and the session middleware reads the database from another thread:
# both need real commits.
pytestmark = pytest.mark.django_db(transaction=True)

TRADE = {
    "id": 41,
    "bot_id": 7,
    "bot_name": "Momentum",
    "symbol": "AAPL",
    "type": "buy",
    "quantity": 5,
    "price": Decimal("190.1234"),
    "timestamp": "2024-07-01T14:30:00+00:00",
    "profit_loss": None,
    "status": "filled",
    "reason": "RSI 25.0 below 30",
}


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def communicator_for(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/dashboard/")
    communicator.scope["user"] = user
    return communicator


def test_a_trade_published_for_the_user_arrives_as_a_row_to_prepend():
    user = UserFactory()

    async def scenario():
        communicator = communicator_for(user)
        connected, _ = await communicator.connect()
        assert connected
        await sync_to_async(publish)("trade_executed", TRADE, user_id=user.pk)
        html = await communicator.receive_from(timeout=2)
        await communicator.disconnect()
        return html

    html = async_to_sync(scenario)()

    assert html.startswith('<tbody hx-swap-oob="afterbegin:#trade-rows, #bot-7-trade-rows">')
    assert '<tr id="trade-41" class="trade arrived">' in html
    assert "190.12" in html  # two decimals
    assert "Jul 1, 10:30:00" in html  # New York time
    assert "RSI 25.0 below 30" in html


def test_another_users_event_is_not_forwarded():
    user, other = UserFactory(), UserFactory()

    async def scenario():
        communicator = communicator_for(user)
        await communicator.connect()
        await sync_to_async(publish)("trade_executed", TRADE, user_id=other.pk)
        nothing = await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return nothing

    assert async_to_sync(scenario)() is True


def test_a_market_status_change_reaches_every_signed_in_user():
    user = UserFactory()
    status = {
        "is_open": False,
        "next_open": "2024-07-02T13:30:00+00:00",
        "next_close": "2024-07-02T20:00:00+00:00",
        "source": "nyse",
    }

    async def scenario():
        communicator = communicator_for(user)
        await communicator.connect()
        await sync_to_async(publish)("market_status_changed", status)
        html = await communicator.receive_from(timeout=2)
        await communicator.disconnect()
        return html

    html = async_to_sync(scenario)()

    assert '<div id="market-status" hx-swap-oob="true">' in html
    assert "Market closed · opens Tue Jul 2, 09:30 EDT" in html


def test_an_anonymous_connection_is_refused():
    async def scenario():
        communicator = communicator_for(AnonymousUser())
        connected, _ = await communicator.connect()
        return connected

    assert async_to_sync(scenario)() is False


def test_the_dashboard_socket_authenticates_with_the_session_cookie():
    from tradebot.asgi import application

    user = UserFactory()
    client = Client()
    client.force_login(user)
    headers = [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
    ]

    async def scenario(headers):
        communicator = WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)(headers) is True
    assert async_to_sync(scenario)(headers[1:]) is False


def test_a_position_update_replaces_its_row_or_joins_the_open_positions():
    html = render_event(
        "position_updated",
        {
            "id": 3,
            "bot_id": 7,
            "bot_name": "Momentum",
            "symbol": "MSFT",
            "quantity": 4,
            "entry_price": "400",
            "current_price": "410.5",
            "unrealized_pnl": "42",
            "realized_pnl": "0",
            "stop_loss_price": None,
            "take_profit_price": None,
            "is_open": True,
            "opened_at": timezone.now().isoformat(),
            "closed_at": None,
        },
    )

    assert html.lstrip().startswith('<tr id="position-3" class="position"')
    assert 'hx-swap-oob="true" data-upsert="#open-position-rows, #bot-7-position-rows"' in html
    assert "1,642.00" in html  # market value 4 × 410.50
    assert 'class="num live-pnl pos" id="position-3-pnl" title="unrealized" data-label="P&amp;L">42.00' in html


def test_a_bot_status_change_replaces_its_badge_reason_and_buttons():
    html = render_event(
        "bot_status_changed", {"id": 7, "name": "Momentum", "status": "paused", "status_reason": "daily loss limit"}
    )

    assert '<span id="bot-7-status" class="badge badge-paused" hx-swap-oob="true">paused</span>' in html
    assert 'id="bot-7-reason" class="reason" hx-swap-oob="true">daily loss limit' in html
    assert 'id="bot-7-actions" class="actions" hx-swap-oob="true"' in html
    assert ">Resume</button>" in html and ">Pause</button>" not in html


MARKER = '<i id="bot-7-changed" class="bot-changed" hidden hx-swap-oob="true"></i>'


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("trade_executed", TRADE),
        ("bot_status_changed", {"id": 7, "name": "Momentum", "status": "running", "status_reason": ""}),
    ],
)
def test_every_event_about_a_bot_swaps_in_its_changed_marker(event, data):
    # The marker makes the page reload the figures no event carries (static/js/app.js).
    assert render_event(event, data).rstrip().endswith(MARKER)


def test_events_about_no_bot_carry_no_marker():
    assert "bot-changed" not in render_event("price_update", {"symbol": "AAPL", "price": "190.5", "timestamp": None})


def test_a_finished_tick_tells_the_bots_page_even_when_it_did_not_trade():
    bot = BotFactory(status="running", config={**DESIGN_CONFIG, "symbols": ["AAPL"]})

    async def scenario():
        communicator = communicator_for(bot.owner)
        await communicator.connect()
        report = await sync_to_async(bot_tick)(bot_id=bot.pk, force=True)
        received = [await communicator.receive_from(timeout=2)]
        while f'id="bot-{bot.pk}-changed"' not in received[-1]:
            received.append(await communicator.receive_from(timeout=2))
        await communicator.disconnect()
        return report, received[-1]

    report, html = async_to_sync(scenario)()

    assert report.outcome in ("idle", "traded")
    assert f'<i id="bot-{bot.pk}-changed" class="bot-changed" hidden hx-swap-oob="true"></i>' in html


def test_a_finished_tick_makes_the_page_reload_that_bots_figures():
    html = render_event("tick_recorded", {"bot_id": 7, "outcome": "idle", "last_tick_at": "2024-03-05T15:00:00Z"})
    assert html.strip() == '<i id="bot-7-changed" class="bot-changed" hidden hx-swap-oob="true"></i>'
