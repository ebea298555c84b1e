"""Live events: one publish() that sends to Channels groups once the transaction commits.

Each user has a group; consumers joined to it forward events to browsers (as HTML fragments)
and API clients (as JSON {"event": ..., "data": ...}).
"""

import json
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)

EVENTS = ("trade_executed", "position_updated", "bot_status_changed", "price_update", "market_status_changed")
# For the dashboard only (API clients get the public EVENTS): a tick finished, so pages reload its
# record; a hold on a bot's orders was placed or released (GET /api/bots/{id} shows the holds).
DASHBOARD_EVENTS = ("tick_recorded", "hold_changed", "book_mismatch")
BROADCAST_GROUP = "events.all"


def user_group(user_id: int) -> str:
    return f"events.user.{user_id}"


def publish(event: str, payload: dict, *, user_id: int | None = None) -> None:
    """Send `event` to one user's group (or to everyone when user_id is None), after commit."""
    publish_many([(event, payload, user_id)])


def publish_many(events: list[tuple[str, dict, int | None]]) -> None:
    """publish() for each (event, payload, user_id), in one hand-over to the channel layer: the stream
    sends hundreds of prices a second, and each hand-over costs an event loop's run."""
    sends = []
    for event, payload, user_id in events:
        if event not in EVENTS + DASHBOARD_EVENTS:
            raise ValueError(f"unknown event {event!r}")
        group = BROADCAST_GROUP if user_id is None else user_group(user_id)
        # Round-trip through JSON so Decimals and datetimes travel as strings on every channel layer.
        data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
        sends.append((group, {"type": "event.message", "event": event, "data": data}))
    transaction.on_commit(lambda: _send(sends))


def _send(sends: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for group, message in sends:
            try:
                await layer.group_send(group, message)
            except Exception:
                # A live update is best-effort: the database already holds the truth.
                logger.exception("could not publish %s to %s", message.get("event", message["type"]), group)

    async_to_sync(send_all)()


def close_sockets(user_id: int, *, token_id: int | None = None) -> None:
    """Close the user's open sockets after commit: those opened with one API token when `token_id` is
    given (it was revoked), otherwise all of them (logout, a new password, a deactivated account). A
    socket whose credentials still hold reconnects; the others are refused."""
    message = {"type": "sockets.close", "token_id": token_id}
    transaction.on_commit(lambda: _send([(user_group(user_id), message)]))
