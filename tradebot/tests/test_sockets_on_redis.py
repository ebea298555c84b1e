"""Live sockets on the Redis channel layer stay open for as long as their client does and receive
every event published meanwhile: /ws/events/ (API clients) and /ws/dashboard/ (pages), held 60 s."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.services import api_token_create
from tests.factories import UserFactory
from tradebot.asgi import application
from tradebot.events import publish, user_group

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")
HOLD_SECONDS = 60
EVERY_SECONDS = 5  # as often as redis-py's old default socket timeout; the receive blocks longer


async def hold_open(sockets: dict, user_id: int) -> dict[str, list[int]]:
    """Publish an event every few seconds for a minute; returns, per socket, the sequence numbers
    that arrived."""
    for label, (communicator, _) in sockets.items():
        connected, _ = await communicator.connect(timeout=10)
        assert connected, f"{label} refused the connection"
    received = {label: [] for label in sockets}
    for number in range(HOLD_SECONDS // EVERY_SECONDS):
        await asyncio.sleep(EVERY_SECONDS)
        payload = {"symbol": f"S{number}", "price": "1.00", "timestamp": None}
        await sync_to_async(publish)("price_update", payload, user_id=user_id)
        for label, (communicator, arrived) in sockets.items():
            output = await communicator.receive_output(timeout=5)
            assert output["type"] == "websocket.send", f"{label} closed after {number * EVERY_SECONDS} s: {output}"
            if arrived(output["text"], number):
                received[label].append(number)
    for communicator, _ in sockets.values():
        await communicator.disconnect()
    return received


def test_both_sockets_live_a_minute_on_redis_and_receive_every_event():
    user = UserFactory()
    _, token = api_token_create(user=user, name="socket")
    browser = Client()
    browser.force_login(user)
    cookie = (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())

    sockets = {
        "/ws/events/": (
            WebsocketCommunicator(application, f"/ws/events/?token={token}", headers=[ORIGIN, HOST]),
            lambda text, number: json.loads(text)["data"]["symbol"] == f"S{number}",
        ),
        "/ws/dashboard/": (
            WebsocketCommunicator(application, "/ws/dashboard/", headers=[ORIGIN, HOST, cookie]),
            lambda text, number: f"S{number}" in text,
        ),
    }

    received = asyncio.run(hold_open(sockets, user.pk))

    everything = list(range(HOLD_SECONDS // EVERY_SECONDS))
    assert received == {"/ws/events/": everything, "/ws/dashboard/": everything}


def short_group_expiry(seconds: int) -> dict:
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "group_expiry": seconds}
    return layers


def test_a_dead_socket_drops_out_of_its_groups_and_a_live_one_stays_in(settings):
    settings.CHANNEL_LAYERS = short_group_expiry(3)
    user = UserFactory()
    _, token = api_token_create(user=user, name="socket")
    group = user_group(user.pk)

    async def scenario():
        layer = get_channel_layer()
        dead = await layer.new_channel()  # a socket whose process was killed: it never leaves
        await layer.group_add(group, dead)
        live = WebsocketCommunicator(application, f"/ws/events/?token={token}", headers=[ORIGIN, HOST])
        assert (await live.connect(timeout=10))[0]
        await asyncio.sleep(7)  # more than twice the group expiry
        await sync_to_async(publish)(
            "price_update", {"symbol": "LATE", "price": "1", "timestamp": None}, user_id=user.pk
        )
        arrived = json.loads((await live.receive_output(timeout=5))["text"])["data"]["symbol"]
        async with layer.connection(layer.consistent_hash(group)) as connection:
            members = await connection.zrange(layer._group_key(group), 0, -1)
        await live.disconnect()
        return arrived, dead, [member.decode() for member in members]

    arrived, dead, members = asyncio.run(scenario())

    assert arrived == "LATE"
    assert len(members) == 1 and dead not in members  # the live socket's membership alone
