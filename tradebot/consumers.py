"""/ws/events/: live JSON events for API clients, {"event": ..., "data": ...}.

The consumer only joins the caller's group (and the broadcast group), forwards what
tradebot.events.publish() sends there, and leaves; it never reads the database.
"""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tradebot.events import BROADCAST_GROUP, EVENTS, user_group

UNAUTHENTICATED = 4401  # application close codes live in 4000-4999; this one mirrors HTTP's 401


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept, then close with a reason code: a plain refusal reaches clients as a bare 403.
            await self.accept()
            await self.close(code=UNAUTHENTICATED)
            return
        # Channels discards self.groups on disconnect.
        self.groups = [user_group(user.pk), BROADCAST_GROUP]
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """The stream is one-way: whatever a client sends is ignored (and never breaks the connection)."""

    async def event_message(self, message):
        if message["event"] in EVENTS:
            await self.send_json({"event": message["event"], "data": message["data"]})
