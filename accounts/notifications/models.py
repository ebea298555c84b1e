"""Channels, the notifications sent to them and each delivery. accounts.models imports these."""

from django.conf import settings
from django.db import models

from accounts.notifications.events import DEFAULT_EVENTS, Event
from tradebot.crypto import decrypt, encrypt


def default_events() -> list[str]:
    return list(DEFAULT_EVENTS)


class NotificationChannel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        SLACK = "slack", "Slack webhook"
        DISCORD = "discord", "Discord webhook"
        WEBHOOK = "webhook", "Webhook (JSON)"
        TELEGRAM = "telegram", "Telegram"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_channels")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=80)
    # An email address, or a Telegram chat id.
    address = models.CharField(max_length=254, blank=True)
    # A webhook URL or a Telegram bot token: either lets anyone post as the owner, so it is encrypted.
    secret_encrypted = models.TextField(blank=True)
    events = models.JSONField(default=default_events)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="notification_channel_name_per_owner")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def secret(self) -> str:
        return decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = encrypt(secret) if secret else ""

    def wants(self, event: str) -> bool:
        return self.is_active and (event == Event.TEST or event in self.events)


class Notification(models.Model):
    """One event for one user, whoever reports it and however often: `key` names the event."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=32, choices=Event.choices)
    key = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    bot_id = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="notification_once_per_key")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(NotificationChannel, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    # Set by the task that took the delivery: two tasks never send the same one.
    claim = models.UUIDField(null=True, blank=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_once_per_channel"),
        ]
        indexes = [models.Index(fields=["channel", "status"], name="delivery_channel_status")]
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.notification_id} to {self.channel_id}: {self.status}"
