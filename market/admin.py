from django.contrib import admin

from market.models import Bar


@admin.register(Bar)
class BarAdmin(admin.ModelAdmin):
    """Imported bars, read-only: they change only by importing a CSV again (manage.py)."""

    list_display = ["symbol", "timeframe", "time", "open", "high", "low", "close", "volume"]
    list_filter = ["timeframe", "symbol"]
    search_fields = ["symbol"]
    date_hierarchy = "time"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
