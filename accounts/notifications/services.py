"""Notifying users: `notify` records an event once (its key) with a delivery per channel that wants it,
and queues the sending after commit; the Celery task sends each channel's pending deliveries as one
message (several events arriving together are bundled), retrying a failing channel, then marking it
failed in the delivery log. Nothing here ever raises into the work that reports an event: a tick
must not stop because a chat server is down."""

import logging
import uuid
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.notifications import tasks
from accounts.notifications.events import CHOOSABLE, Event
from accounts.notifications.models import Delivery, Notification, NotificationChannel
from accounts.notifications.targets import TargetRefused, check_telegram, check_webhook_url
from accounts.notifications.transports import TRANSPORTS, Message, TransportFailed
from tradebot import metrics
from tradebot.errors import Invalid

logger = logging.getLogger(__name__)
log = structlog.get_logger(__name__)

# A delivery taken by a task that died is taken again after this long.
STALE_CLAIM_SECONDS = 600


def notify(*, user_id: int, event: str, key: str, title: str, body: str = "", bot_id: int | None = None) -> None:
    """Record the event for the user's channels that want it; the same key again changes nothing."""
    try:
        with transaction.atomic():
            _record(user_id=user_id, event=event, key=key, title=title, body=body, bot_id=bot_id)
    except Exception:
        logger.exception("could not record notification %s for user %s", key, user_id)


def _record(*, user_id: int, event: str, key: str, title: str, body: str, bot_id: int | None) -> None:
    channels = [c for c in NotificationChannel.objects.filter(owner_id=user_id, is_active=True) if c.wants(event)]
    if not channels:
        return
    notification, created = Notification.objects.get_or_create(
        owner_id=user_id,
        key=key[:200],
        defaults={"event": event, "title": title[:200], "body": body, "bot_id": bot_id},
    )
    if not created:
        return
    Delivery.objects.bulk_create([Delivery(notification=notification, channel=channel) for channel in channels])
    log.info("notification", kind=event, key=key, user_id=user_id, bot_id=bot_id, channels=len(channels))
    for channel in channels:
        transaction.on_commit(lambda channel_id=channel.pk: _schedule(channel_id))


def _schedule(channel_id: int) -> None:
    # The task sends whatever is pending for the channel by then, so the events of the next few seconds
    # go out with this one in a single message, and the tasks queued for them find nothing left to send.
    tasks.deliver.apply_async(args=[channel_id], countdown=settings.TRADEBOT_NOTIFY_BUNDLE_SECONDS)


def max_attempts() -> int:
    """The first attempt and one per retry pause."""
    return len(settings.TRADEBOT_NOTIFY_RETRY_SECONDS) + 1


class DeliveryFailed(Exception):
    def __init__(self, reason: str, *, retry: bool):
        super().__init__(reason)
        self.retry = retry


def channel_deliver(*, channel_id: int) -> int:
    """Send the channel's pending deliveries as one message; how many were sent. Each delivery is taken
    by one task only (a claim), so a retried or duplicated task never sends an event twice.
    DeliveryFailed when the channel failed: `retry` while attempts remain (the deliveries are pending
    again), else they are failed with the reason."""
    claim, now = uuid.uuid4(), timezone.now()
    takeable = Q(status=Delivery.Status.PENDING) | Q(
        status=Delivery.Status.SENDING, claimed_at__lt=now - timedelta(seconds=STALE_CLAIM_SECONDS)
    )
    # One UPDATE: a row another task is taking at the same moment is taken by one of them only.
    Delivery.objects.filter(takeable, channel_id=channel_id).update(
        status=Delivery.Status.SENDING, claim=claim, claimed_at=now, attempts=F("attempts") + 1
    )
    batch = list(Delivery.objects.filter(claim=claim).select_related("notification", "channel").order_by("created_at"))
    if not batch:
        return 0
    channel = batch[0].channel
    try:
        TRANSPORTS[channel.kind](channel, Message.of([delivery.notification for delivery in batch]))
    except TransportFailed as exc:
        return _failed(channel, batch, claim, str(exc))
    Delivery.objects.filter(claim=claim).update(status=Delivery.Status.SENT, sent_at=timezone.now(), error="")
    metrics.NOTIFICATIONS.labels(channel.kind, "sent").inc()
    log.info("notification_sent", channel_id=channel.pk, kind=channel.kind, events=len(batch), user_id=channel.owner_id)
    return len(batch)


def _failed(channel: NotificationChannel, batch: list[Delivery], claim: uuid.UUID, reason: str) -> int:
    retry = min(delivery.attempts for delivery in batch) < max_attempts()
    status = Delivery.Status.PENDING if retry else Delivery.Status.FAILED
    Delivery.objects.filter(claim=claim).update(status=status, error=reason[:500], claim=None)
    metrics.NOTIFICATIONS.labels(channel.kind, "retried" if retry else "failed").inc()
    log.warning("notification_failed", channel_id=channel.pk, kind=channel.kind, reason=reason, retry=retry)
    raise DeliveryFailed(reason, retry=retry)


def pending_flush() -> int:
    """The backstop for a lost task: channels with deliveries pending past the bundling window."""
    now = timezone.now()
    never_tried = Q(attempts=0, created_at__lt=now - timedelta(seconds=2 * settings.TRADEBOT_NOTIFY_BUNDLE_SECONDS))
    retry_lost = Q(claimed_at__lt=now - timedelta(seconds=2 * max(settings.TRADEBOT_NOTIFY_RETRY_SECONDS)))
    pending = Delivery.objects.filter(never_tried | retry_lost, status=Delivery.Status.PENDING)
    channels = set(pending.values_list("channel_id", flat=True))
    for channel_id in channels:
        tasks.deliver.apply_async(args=[channel_id])
    return len(channels)


def channel_save(
    *,
    owner,
    kind: str,
    name: str,
    address: str = "",
    secret: str = "",
    events: list[str],
    channel: NotificationChannel | None = None,
) -> NotificationChannel:
    """Create a channel, or change one (a blank secret keeps the stored one). Invalid names the fields."""
    channel = channel or NotificationChannel(owner=owner, kind=kind)
    errors = _errors(channel, name=name.strip(), address=address.strip(), secret=secret.strip(), events=events)
    if errors:
        raise Invalid(errors)
    channel.name, channel.address, channel.events = name.strip(), address.strip(), sorted(set(events))
    if secret.strip():
        channel.set_secret(secret.strip())
    channel.save()
    return channel


def _errors(channel: NotificationChannel, *, name: str, address: str, secret: str, events: list[str]) -> list[dict]:
    errors = []
    if not name:
        errors.append({"field": "name", "message": "give the channel a name"})
    elif NotificationChannel.objects.filter(owner=channel.owner, name=name).exclude(pk=channel.pk).exists():
        errors.append({"field": "name", "message": f"you already have a channel named {name!r}"})
    unknown = set(events) - {value for value, _ in CHOOSABLE}
    if unknown:
        errors.append({"field": "events", "message": f"no such event: {', '.join(sorted(unknown))}"})
    kind = channel.kind
    if kind not in TRANSPORTS:
        errors.append({"field": "kind", "message": "choose email, Slack, Discord, webhook or Telegram"})
    elif kind == NotificationChannel.Kind.EMAIL:
        if "@" not in address or len(address) > 254:
            errors.append({"field": "address", "message": "enter an email address"})
    elif kind == NotificationChannel.Kind.TELEGRAM:
        errors += check_telegram(secret or channel.secret, address)
    elif secret or not channel.secret_encrypted:
        try:
            check_webhook_url(secret)
        except TargetRefused as exc:
            errors.append({"field": "secret", "message": f"the webhook URL {exc}"})
    return errors


def channel_delete(*, channel: NotificationChannel) -> None:
    channel.delete()


def channel_toggle(*, channel: NotificationChannel) -> NotificationChannel:
    channel.is_active = not channel.is_active
    channel.save(update_fields=["is_active"])
    return channel


def channel_test(*, channel: NotificationChannel) -> Notification:
    """A test message to this channel alone, sent now (not bundled), shown in the delivery log."""
    with transaction.atomic():
        notification = Notification.objects.create(
            owner_id=channel.owner_id,
            event=Event.TEST,
            key=f"test:{uuid.uuid4().hex}",
            title="Test message from Tradebot",
            body=f"Notifications reach you through {channel.name}.",
        )
        Delivery.objects.create(notification=notification, channel=channel)
        transaction.on_commit(lambda: tasks.deliver.apply_async(args=[channel.pk]))
    return notification
