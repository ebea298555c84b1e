"""Open sockets do not outlive what opened them: logout, a new password, a deactivated account and a
revoked token close them at once; a socket on other, still valid credentials stays open. On whichever
channel layer the run has: in memory embedded, Redis with REDIS_URL."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.services import api_token_create, api_token_revoke
from tests.factories import UserFactory
from tradebot.asgi import application
from tradebot.consumers import UNAUTHENTICATED

# The consumers and the session middleware read the database from other threads: real commits.
pytestmark = pytest.mark.django_db(transaction=True)

SAME_ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
CLOSED = {"type": "websocket.close", "code": UNAUTHENTICATED}


def session_sockets(client: Client) -> list[WebsocketCommunicator]:
    cookie = (
        b"cookie",
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode(),
    )
    return [
        WebsocketCommunicator(application, path, headers=[*SAME_ORIGIN, cookie])
        for path in ("/ws/events/", "/ws/dashboard/")
    ]


def run(scenario):
    async_to_sync(scenario)()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_logout_closes_the_users_sockets_and_they_cannot_reopen():
    user = UserFactory()
    client = signed_in(user)
    sockets = session_sockets(client)

    async def scenario():
        for socket in sockets:
            assert (await socket.connect())[0]
        await database_sync_to_async(client.post)("/accounts/logout/")
        for socket in sockets:
            assert await socket.receive_output(timeout=2) == CLOSED
        again = WebsocketCommunicator(application, "/ws/events/", headers=sockets[0].scope["headers"])
        await again.connect()
        assert await again.receive_output(timeout=2) == CLOSED

    run(scenario)


@pytest.mark.parametrize("change", ["password", "deactivated"])
def test_a_new_password_or_a_deactivated_account_closes_the_sockets(change):
    user = UserFactory()
    _, secret = api_token_create(user=user, name="ws")
    sockets = [*session_sockets(signed_in(user)), WebsocketCommunicator(application, f"/ws/events/?token={secret}")]

    def make_change():
        if change == "password":
            user.set_password("an entirely new passphrase")
        else:
            user.is_active = False
        user.save()

    async def scenario():
        for socket in sockets:
            assert (await socket.connect())[0]
        await database_sync_to_async(make_change)()
        for socket in sockets:
            assert await socket.receive_output(timeout=2) == CLOSED

    run(scenario)


def test_a_revoked_token_closes_its_sockets_and_no_other():
    user = UserFactory()
    revoked, revoked_secret = api_token_create(user=user, name="leaked")
    _, kept_secret = api_token_create(user=user, name="kept")
    on_revoked = WebsocketCommunicator(application, f"/ws/events/?token={revoked_secret}")
    on_kept = WebsocketCommunicator(application, f"/ws/events/?token={kept_secret}")
    [browser, _] = session_sockets(signed_in(user))

    async def scenario():
        for socket in (on_revoked, on_kept, browser):
            assert (await socket.connect())[0]
        await database_sync_to_async(api_token_revoke)(token=revoked)
        assert await on_revoked.receive_output(timeout=2) == CLOSED
        assert await on_kept.receive_nothing(timeout=0.3)
        assert await browser.receive_nothing(timeout=0.1)
        await on_kept.disconnect()
        await browser.disconnect()

    run(scenario)


def test_an_unrelated_users_logout_leaves_the_socket_open():
    user, other = UserFactory(), UserFactory()
    [socket, _] = session_sockets(signed_in(user))
    other_client = signed_in(other)

    async def scenario():
        assert (await socket.connect())[0]
        await database_sync_to_async(other_client.post)("/accounts/logout/")
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()

    run(scenario)
