"""/ws/events/: a trade made by a real tick reaches its owner's socket, and no one else's.

The tick runs on hand-made bars stored in the database (the path imported CSV bars take) with the
simulated broker, so the trade is certain: RSI(14) of a steady fall is 0, far below oversold.
"""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.services import api_token_create
from bots import services
from bots.ticks import bot_tick
from market.cache import clear_caches
from market.models import Bar
from tests.factories import BotFactory, UserFactory
from tradebot.asgi import application
from tradebot.consumers import UNAUTHENTICATED
from tradebot.events import publish

# The consumer reads the database from its own thread: the data must be committed to be seen.
pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)
FALLING = [100.0] * 20 + [100.0 - 0.5 * i for i in range(1, 41)]
ORIGIN = [(b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000")]


@pytest.fixture(autouse=True)
def fresh_caches():
    clear_caches()
    yield
    clear_caches()


def falling_bars(symbol: str) -> datetime:
    """One-minute bars of a steady fall; returns the moment the last one closes."""
    Bar.objects.bulk_create(
        Bar(
            symbol=symbol,
            timeframe="1Min",
            time=START + timedelta(minutes=i),
            open=Decimal(str(close)),
            high=Decimal(str(close + 0.1)),
            low=Decimal(str(close - 0.1)),
            close=Decimal(str(close)),
            volume=Decimal(1000),
        )
        for i, close in enumerate(FALLING)
    )
    return START + timedelta(minutes=len(FALLING))


def running_rsi_bot(owner, symbol: str):
    config = {
        "name": f"RSI {symbol}",
        "capital": 10000,
        "symbols": [symbol],
        "indicators": {"RSI": {"period": 14, "oversold": 30, "overbought": 70}},
        "signal_mode": "any",
        "start_hour": 0,
        "start_minute": 0,
        "end_hour": 23,
        "end_minute": 59,
    }
    return services.bot_start(bot=BotFactory(owner=owner, config=config))


def socket(query: str = "", headers=()) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/events/{query}", headers=[*ORIGIN, *headers])


async def events_until(communicator, wanted: str, timeout: float = 5) -> list[dict]:
    received = []
    while not received or received[-1]["event"] != wanted:
        received.append(await communicator.receive_json_from(timeout=timeout))
    return received


def test_a_ticks_trade_reaches_its_owner_and_no_one_else():
    owner, stranger = UserFactory(), UserFactory()
    closes_at = falling_bars("TEST")
    bot = running_rsi_bot(owner, "TEST")
    _, owner_token = api_token_create(user=owner, name="ws")
    _, stranger_token = api_token_create(user=stranger, name="ws")

    async def scenario():
        mine, theirs = socket(f"?token={owner_token}"), socket(f"?token={stranger_token}")
        assert (await mine.connect())[0] and (await theirs.connect())[0]
        await mine.send_to(text_data="clients may send anything; it is ignored")
        report = await database_sync_to_async(bot_tick)(bot_id=bot.pk, force=True, now=closes_at)
        assert report.outcome == "traded", report
        events = await events_until(mine, "trade_executed")
        trade = events[-1]["data"]
        assert trade["bot_id"] == bot.pk and trade["type"] == "buy" and trade["symbol"] == "TEST"
        assert trade["status"] == "filled" and Decimal(trade["price"]) > 0
        assert {"position_updated", "trade_executed"} <= {e["event"] for e in events}
        assert await theirs.receive_nothing(timeout=0.3)
        await mine.disconnect()
        await theirs.disconnect()

    async_to_sync(scenario)()


def test_the_browser_session_works_too():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    async def scenario():
        communicator = socket(headers=[(b"cookie", cookie.encode())])
        assert (await communicator.connect())[0]
        bot = await database_sync_to_async(BotFactory)(owner=user)
        await database_sync_to_async(services.bot_start)(bot=bot)
        event = await communicator.receive_json_from(timeout=5)
        assert event == {
            "event": "bot_status_changed",
            "data": {"id": bot.pk, "name": bot.name, "status": "running", "status_reason": ""},
        }
        await communicator.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("query", ["", "?token=tb_not-a-token", "?token="])
def test_without_valid_credentials_the_socket_is_closed_with_4401(query):
    async def scenario():
        communicator = socket(query)
        connected, _ = await communicator.connect()
        assert connected
        assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": UNAUTHENTICATED}

    async_to_sync(scenario)()


def _test_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test_ copy), for a subprocess."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.services
def test_through_redis_a_trade_made_in_another_process_reaches_the_owner():
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    owner, stranger = UserFactory(), UserFactory()
    closes_at = falling_bars("XPROC")
    bot = running_rsi_bot(owner, "XPROC")
    _, owner_token = api_token_create(user=owner, name="ws")
    _, stranger_token = api_token_create(user=stranger, name="ws")
    tick = (
        "from datetime import datetime; from bots.ticks import bot_tick; "
        f"print(bot_tick(bot_id={bot.pk}, force=True, now=datetime.fromisoformat('{closes_at.isoformat()}')).outcome)"
    )

    async def scenario():
        mine, theirs = socket(f"?token={owner_token}"), socket(f"?token={stranger_token}")
        assert (await mine.connect())[0] and (await theirs.connect())[0]
        env = dict(os.environ, DATABASE_URL=_test_database_url())
        done = await database_sync_to_async(subprocess.run)(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", tick],
            env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.stdout.strip() == "traded", done.stderr
        trade = (await events_until(mine, "trade_executed", timeout=10))[-1]["data"]
        assert trade["bot_id"] == bot.pk and trade["symbol"] == "XPROC"
        for _ in range(10):  # Redis may carry other runs' broadcasts; none of them is this trade
            if await theirs.receive_nothing(timeout=0.1):
                break
            assert (await theirs.receive_json_from())["data"].get("bot_id") != bot.pk
        await mine.disconnect()
        await theirs.disconnect()

    async_to_sync(scenario)()


def test_an_api_client_without_an_origin_header_connects_with_its_token():
    _, token = api_token_create(user=UserFactory(), name="ws")

    async def connect():
        communicator = WebsocketCommunicator(application, f"/ws/events/?token={token}")
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert async_to_sync(connect)()


def test_a_browser_page_of_another_site_is_refused_even_with_a_token():
    _, token = api_token_create(user=UserFactory(), name="ws")

    async def connect():
        communicator = WebsocketCommunicator(
            application, f"/ws/events/?token={token}", headers=[(b"origin", b"https://evil.example")]
        )
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert not async_to_sync(connect)()


def test_api_clients_get_the_public_events_only():
    user = UserFactory()
    _, token = api_token_create(user=user, name="ws")

    async def listen():
        communicator = socket(f"?token={token}")
        await communicator.connect()
        await database_sync_to_async(
            lambda: (
                publish("tick_recorded", {"bot_id": 1}, user_id=user.pk),
                publish("trade_executed", {"id": 5}, user_id=user.pk),
            )
        )()
        first = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return first

    # Autocommit here: publish() sends at once, the internal event first.
    assert async_to_sync(listen)()["event"] == "trade_executed"
