"""Notification channels, notifications and the delivery log in the admin (registered by accounts.admin).
Secrets are never shown: a channel's webhook URL or bot token is changed on the settings page."""

from django.contrib import admin

from accounts.notifications.models import Delivery, Notification, NotificationChannel
from tradebot.admin_mixins import OwnedAdmin, ReadOnlyAdmin


@admin.register(NotificationChannel)
class NotificationChannelAdmin(OwnedAdmin):
    list_display = ["name", "owner", "kind", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "owner__username", "address"]
    fields = ["owner", "kind", "name", "address", "events", "is_active", "created_at"]
    readonly_fields = ["owner", "kind", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # channels are made on the settings page, which checks and encrypts their secrets


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ["channel", "status", "attempts", "error", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin, OwnedAdmin):
    list_display = ["title", "owner", "event", "bot_id", "created_at"]
    list_filter = ["event"]
    search_fields = ["title", "key", "owner__username"]
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["notification", "channel", "status", "attempts", "error", "sent_at", "created_at"]
    list_filter = ["status", "channel__kind"]
    search_fields = ["notification__title", "channel__name", "channel__owner__username"]
    list_select_related = ["notification", "channel"]

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.filter(channel__owner=request.user)
