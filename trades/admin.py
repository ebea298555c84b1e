from django.contrib import admin

from bots.admin import OwnedAdmin
from trades.models import Trade


@admin.register(Trade)
class TradeAdmin(OwnedAdmin):
    """Trades are financial records: readable and filterable, never added, changed or deleted here."""

    list_display = ["timestamp", "bot_name", "symbol", "type", "quantity", "price", "profit_loss", "status", "client_order_id"]
    list_filter = [("bot", admin.RelatedOnlyFieldListFilter), "symbol", "type", "status", "timestamp"]
    search_fields = ["symbol", "bot_name", "client_order_id", "order_id"]
    date_hierarchy = "timestamp"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
