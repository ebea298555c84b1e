"""The audit trail in the admin: filterable, never added to, changed or deleted (registered by accounts.admin)."""

from django.contrib import admin

from accounts.audit.models import AuditEntry
from tradebot.admin_mixins import ReadOnlyAdmin


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "target_type", "target_name", "bot_id", "via", "ip"]
    list_filter = ["action", "via", "target_type", "at"]
    search_fields = ["actor_name", "target_name", "owner__username", "ip", "request_id"]
    date_hierarchy = "at"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.filter(owner=request.user)
