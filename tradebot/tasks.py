"""The beat heartbeat behind /health (tradebot/health.py); scheduled by CELERY_BEAT_SCHEDULE."""

from celery import shared_task
from celery.signals import beat_init
from django.conf import settings

from tradebot import health


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    health.record_heartbeat()


@beat_init.connect
def send_heartbeat_on_start(sender, **kwargs) -> None:
    # The first scheduled heartbeat comes one interval after beat starts: send one now, so /health
    # tells within seconds of a start whether beat, the broker and a worker work.
    beat_heartbeat.apply_async(expires=settings.CELERY_BEAT_SCHEDULE["beat_heartbeat"]["options"]["expire_seconds"])
