"""A user's open sockets close when what let them open no longer holds: the user logged out, their
password changed, or their account was deactivated (a revoked token closes its own, see services)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import pre_save
from django.dispatch import receiver

from tradebot.events import close_sockets


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        close_sockets(user.pk)


@receiver(pre_save, sender=get_user_model())
def _credentials_changed(sender, instance, raw=False, update_fields=None, **kwargs):
    # Only a save that may touch the password or is_active (last_login updates skip the read).
    if raw or instance.pk is None or (update_fields is not None and not {"password", "is_active"} & set(update_fields)):
        return
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before and (before["password"] != instance.password or (before["is_active"] and not instance.is_active)):
        close_sockets(instance.pk)
