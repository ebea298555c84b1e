"""Sending notifications: a task per channel, retried with growing pauses while the channel fails."""

from celery import shared_task
from django.conf import settings


def retry_pause(retries: int) -> float:
    """Seconds before the next attempt of a failing channel (TRADEBOT_NOTIFY_RETRY_SECONDS)."""
    pauses = settings.TRADEBOT_NOTIFY_RETRY_SECONDS
    return pauses[min(retries, len(pauses) - 1)]


# No max_retries: the deliveries count their attempts (services.max_attempts) and stop the retrying.
@shared_task(name="accounts.notifications.deliver", bind=True, ignore_result=True, max_retries=None)
def deliver(self, channel_id: int):
    # Imported here: the service queues this task, and the task runs the service (Celery's usual loop).
    from accounts.notifications.services import DeliveryFailed, channel_deliver

    try:
        channel_deliver(channel_id=channel_id)
    except DeliveryFailed as exc:
        if exc.retry:
            # Returned, not raised: the retry is queued all the same, and an eager run (the embedded
            # tests) runs it at once instead of handing the Retry to whoever queued the task.
            return self.retry(countdown=retry_pause(self.request.retries), throw=False)
    return None


@shared_task(name="accounts.notifications.flush", ignore_result=True)
def flush() -> None:
    from accounts.notifications.services import pending_flush

    pending_flush()
