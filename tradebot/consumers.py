"""/ws/events/: live JSON events for API clients, {"event": ..., "data": ...}.

The consumer only joins the caller's group (and the broadcast group), forwards what
tradebot.events.publish() sends there, and leaves; it never reads the database.
"""

import asyncio
import contextlib

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tradebot.events import BROADCAST_GROUP, EVENTS, user_group

UNAUTHENTICATED = 4401  # application close codes live in 4000-4999; this one mirrors HTTP's 401


class LiveGroups:
    """Joins a socket to its groups and renews the membership while the socket lives.

    The channel layer drops a group member after its group expiry (10 minutes on Redis), so that a
    socket that died without leaving (a killed process) stops costing every publish a send. A live
    socket re-joins every third of that time and so never drops out, however long it is open.
    """

    async def join_groups(self, groups: list[str]) -> None:
        # Channels leaves every group in self.groups on disconnect.
        self.groups = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        expiry = getattr(self.channel_layer, "group_expiry", None)
        if expiry:
            self._renewal = asyncio.create_task(self._renew_membership(expiry / 3))

    async def _renew_membership(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            for group in self.groups:
                await self.channel_layer.group_add(group, self.channel_name)

    async def sockets_close(self, message):
        """The user's credentials changed (tradebot.events.close_sockets): this socket ends now unless
        the message is about one token and this socket was opened with another."""
        token_id = message.get("token_id")
        if token_id is None or token_id == self.scope.get("api_token_id"):
            await self.close(code=UNAUTHENTICATED)

    async def websocket_disconnect(self, message):
        if renewal := getattr(self, "_renewal", None):
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
        await super().websocket_disconnect(message)


class EventsConsumer(LiveGroups, AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept, then close with a reason code: a plain refusal reaches clients as a bare 403.
            await self.accept()
            await self.close(code=UNAUTHENTICATED)
            return
        await self.join_groups([user_group(user.pk), BROADCAST_GROUP])
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """The stream is one-way: whatever a client sends is ignored (and never breaks the connection)."""

    async def event_message(self, message):
        if message["event"] in EVENTS:
            await self.send_json({"event": message["event"], "data": message["data"]})
