"""The heartbeat behind /health (tradebot/health.py); scheduled by CELERY_BEAT_SCHEDULE. Beat notes
each one it sends, the worker each one it runs: /health can tell which of them is down."""

from celery import shared_task
from celery.signals import after_task_publish, beat_init
from django.conf import settings

from tradebot import health

HEARTBEAT_TASK = "tradebot.tasks.beat_heartbeat"


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def beat_heartbeat() -> None:
    health.record_heartbeat()


@after_task_publish.connect(sender=HEARTBEAT_TASK)
def note_heartbeat_sent(**kwargs) -> None:
    health.record_beat_sent()


@beat_init.connect
def send_heartbeat_on_start(sender, **kwargs) -> None:
    # The first scheduled heartbeat comes one interval after beat starts: send one now, so /health
    # tells within seconds of a start whether beat, the broker and a worker work.
    beat_heartbeat.apply_async(expires=settings.CELERY_BEAT_SCHEDULE["beat_heartbeat"]["options"]["expire_seconds"])
