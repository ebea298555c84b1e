from django.contrib import admin, messages

from bots.orders import position_close
from positions.models import Position
from tradebot.admin_mixins import OwnedAdmin, ReadOnlyAdmin
from tradebot.errors import Conflict


@admin.action(description="Close selected positions (sell at market)")
def close_positions(modeladmin, request, queryset):
    for position in queryset.filter(is_open=True).select_related("bot__broker_account"):
        try:
            trade = position_close(position=position)
        except Conflict as exc:
            modeladmin.message_user(request, f"{position}: {exc}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{position.symbol}: sell order {trade.status}", messages.INFO)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin, OwnedAdmin):
    """Positions change only by fills; the admin reads them and can close open ones through the service."""

    list_display = [
        "bot_name",
        "symbol",
        "quantity",
        "entry_price",
        "current_price",
        "unrealized_pnl",
        "realized_pnl",
        "is_open",
        "opened_at",
    ]
    list_filter = [("bot", admin.RelatedOnlyFieldListFilter), "symbol", "is_open"]
    search_fields = ["symbol", "bot_name"]
    date_hierarchy = "opened_at"
    actions = [close_positions]
