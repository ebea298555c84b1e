from django.contrib import admin

from tradebot.admin_mixins import OwnedAdmin, ReadOnlyAdmin
from trades.models import Trade


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin, OwnedAdmin):
    """Trades are financial records: readable and filterable, never added, changed or deleted here."""

    list_display = [
        "timestamp",
        "bot_name",
        "symbol",
        "type",
        "quantity",
        "price",
        "profit_loss",
        "status",
        "client_order_id",
    ]
    list_filter = [("bot", admin.RelatedOnlyFieldListFilter), "symbol", "type", "status", "timestamp"]
    search_fields = ["symbol", "bot_name", "client_order_id", "order_id"]
    date_hierarchy = "timestamp"
