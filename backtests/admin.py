from django.contrib import admin

from backtests.models import Backtest
from tradebot.admin_mixins import OwnedAdmin, ReadOnlyAdmin


@admin.register(Backtest)
class BacktestAdmin(ReadOnlyAdmin, OwnedAdmin):
    """Read-only: backtests are made on their pages and through the API (backtests.services), and a
    stored result is a record of what a configuration did; deleting one is allowed."""

    deletable = True

    list_display = ["id", "name", "owner", "bot", "timeframe", "start", "end", "status", "progress", "created_at"]
    list_filter = ["status", "timeframe"]
    list_select_related = ["owner", "bot"]
    search_fields = ["id", "config__name", "owner__username"]
    exclude = ["trades", "equity_curve", "prices"]  # megabytes of chart data; the result page shows them
    view_on_site = True

    def get_queryset(self, request):
        return super().get_queryset(request).summaries()
