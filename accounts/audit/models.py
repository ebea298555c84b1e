"""Audit entries (accounts.models imports these). Rows are written once and never changed or deleted:
the model and its querysets refuse both, and the admin shows them read-only."""

from django.conf import settings
from django.db import models


class AppendOnly(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly("audit entries are never changed")

    def delete(self):
        raise AppendOnly("audit entries are never deleted")


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        BOT_CREATED = "bot_created", "created a bot"
        BOT_CHANGED = "bot_changed", "changed a bot"
        BOT_DELETED = "bot_deleted", "deleted a bot"
        BOT_STARTED = "bot_started", "started a bot"
        BOT_PAUSED = "bot_paused", "paused a bot"
        BOT_STOPPED = "bot_stopped", "stopped a bot"
        BOT_ERRORED = "bot_errored", "put a bot in error"
        POSITION_CLOSED = "position_closed", "closed a position"
        ACCOUNT_ADDED = "account_added", "added a broker account"
        ACCOUNT_CHANGED = "account_changed", "changed a broker account"
        ACCOUNT_REMOVED = "account_removed", "removed a broker account"
        TOKEN_ADDED = "token_added", "added an API token"
        TOKEN_REVOKED = "token_revoked", "revoked an API token"

    class Via(models.TextChoices):
        PAGE = "page"
        API = "api"
        ADMIN = "admin"
        SYSTEM = "system", "system (a task, a command)"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Who acted (none: the system); whose thing it was. Names are kept for when the users are gone.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_actions"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    target_type = models.CharField(max_length=32)
    target_id = models.IntegerField(null=True, blank=True)
    target_name = models.CharField(max_length=200, blank=True)
    # The bot it concerns, if any (not a key: the trail outlives the bot).
    bot_id = models.IntegerField(null=True, blank=True, db_index=True)
    via = models.CharField(max_length=16, choices=Via.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["owner", "-at"], name="audit_owner_recent")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.get_action_display()} {self.target_name}".strip()

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly("audit entries are never changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("audit entries are never deleted")
