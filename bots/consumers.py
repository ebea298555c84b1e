"""/ws/dashboard/: live updates for the dashboard pages, as HTML fragments that htmx swaps out of band.

The consumer joins the signed-in user's group and the broadcast group and forwards each event
rendered with the same partials the pages use. Fragments are rendered from the event's payload
alone, never from the database: an event costs no query, however many browsers are open.

Figures no single event carries (a bot's open positions, P&L today, last tick, tick record, the
summary) are reloaded by the page: every event about a bot also swaps in that bot's "changed"
marker, and the pieces showing those figures fetch themselves again (see static/js/app.js).
"""

import json
from decimal import Decimal, InvalidOperation

from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string
from django.utils.dateparse import parse_datetime

from tradebot.consumers import LiveGroups
from tradebot.events import BROADCAST_GROUP, user_group

DATETIME_KEYS = ("timestamp", "opened_at", "closed_at", "next_open", "next_close")
MONEY_KEYS = (
    "price",
    "entry_price",
    "entry_commission",
    "current_price",
    "exit_price",
    "unrealized_pnl",
    "realized_pnl",
    "profit_loss",
    "stop_loss_price",
    "take_profit_price",
)

CHART_EVENTS = ("price_update", "trade_executed")


class DashboardConsumer(LiveGroups, AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        await self.join_groups([user_group(user.pk), BROADCAST_GROUP])
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        """One-way: htmx's ws extension may send form data, which the dashboard does not use."""

    async def event_message(self, message):
        html = render_event(message["event"], message["data"])
        if html:
            await self.send(text_data=html)


def render_event(event: str, data: dict) -> str:
    """The out-of-band fragments for one event ('' for an event the pages do not show)."""
    html = _render(event, _typed(data))
    if event in CHART_EVENTS:
        # Charts move on prices and reload on fills: they read the event's payload itself.
        html += render_to_string(
            "charts/chart_feed.html", {"event": event, "payload": json.dumps(data, cls=DjangoJSONEncoder)}
        )
    bot_id = data.get("id") if event == "bot_status_changed" else data.get("bot_id")
    if html and bot_id and event not in ("tick_recorded", "hold_changed"):
        html += render_to_string("bots/bot_list.html#bot_changed", {"bot_id": bot_id, "oob": True})
    return html


def _render(event: str, data: dict) -> str:
    if event == "trade_executed":
        row = render_to_string("trades/trade_list.html#trade_row", {"trade": data, "live": True})
        # The new row goes on top of the trades tables shown: everyone's, or this bot's on its page.
        return f'<tbody hx-swap-oob="afterbegin:#trade-rows, #bot-{data["bot_id"]}-trade-rows">{row}</tbody>'
    if event == "position_updated":
        data["market_value"] = data["current_price"] * data["quantity"] if data.get("current_price") else None
        return render_to_string("positions/position_list.html#position_row", {"position": data, "oob": True})
    if event == "bot_status_changed":
        context = {"bot": {**data, "pk": data["id"]}, "oob": True}
        return "".join(
            render_to_string(f"bots/bot_list.html#{partial}", context)
            for partial in ("bot_status", "bot_reason", "bot_actions")
        )
    if event == "price_update":
        return render_to_string(
            "positions/position_list.html#price_chip", {"symbol": data["symbol"], "price": data["price"], "oob": True}
        )
    if event == "market_status_changed":
        return render_to_string("base.html#market_status", {"market": data})
    if event in ("tick_recorded", "hold_changed"):
        return render_to_string("bots/bot_list.html#bot_changed", {"bot_id": data["bot_id"], "oob": True})
    return ""


def _typed(data: dict) -> dict:
    """Events travel as JSON (decimals and datetimes as strings): restore the types the partials format."""
    typed = dict(data)
    for key in DATETIME_KEYS:
        if isinstance(typed.get(key), str):
            typed[key] = parse_datetime(typed[key])
    for key in MONEY_KEYS:
        if typed.get(key) is not None:
            try:
                typed[key] = Decimal(str(typed[key]))
            except InvalidOperation:
                typed[key] = None
    return typed
