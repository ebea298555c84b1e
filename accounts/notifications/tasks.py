"""Sending notifications: a task per channel, retried with growing pauses while the channel fails."""

from celery import shared_task

# Seconds before each retry of a failing channel (then its deliveries are marked failed).
RETRY_PAUSES = (30, 120, 600)


@shared_task(name="accounts.notifications.deliver", bind=True, ignore_result=True, max_retries=len(RETRY_PAUSES))
def deliver(self, channel_id: int):
    # Imported here: the service queues this task, and the task runs the service (Celery's usual loop).
    from accounts.notifications.services import DeliveryFailed, channel_deliver

    try:
        channel_deliver(channel_id=channel_id)
    except DeliveryFailed as exc:
        if exc.retry:
            # Returned, not raised: the retry is queued all the same, and an eager run (the embedded
            # tests) runs it at once instead of handing the Retry to whoever queued the task.
            return self.retry(countdown=RETRY_PAUSES[min(self.request.retries, len(RETRY_PAUSES) - 1)], throw=False)
    return None


@shared_task(name="accounts.notifications.flush", ignore_result=True)
def flush() -> None:
    from accounts.notifications.services import pending_flush

    pending_flush()
