"""The bots' share of /metrics (tradebot.metrics): bots by status, read from the database when scraped."""

from collections.abc import Iterable

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from bots.models import Bot


def bots_by_status() -> Iterable[Metric]:
    family = GaugeMetricFamily("tradebot_bots", "Bots by status", labels=["status"])
    counts = dict(Bot.objects.values_list("status").annotate(n=Count("pk")).order_by())
    for status in Bot.Status.values:
        family.add_metric([status], counts.get(status, 0))
    yield family
