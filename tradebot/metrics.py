"""Prometheus metrics: what the workers did (ticks, orders, broker and market data requests, backtests,
the stream) and what stands now (bots by status, the Celery queue), served at GET /metrics.

Labels stay few and fixed: outcomes, sides, statuses, broker kinds; never a bot, a user or a symbol.

The processes that count are several (daphne, a Celery worker and its children): with
PROMETHEUS_MULTIPROC_DIR set (the Procfile's run and docker-compose set it) each process writes its
counts to files there and /metrics adds them up. Without it (the embedded run: one process) the
counts stay in memory. Gauges of what stands now are read from the database and Redis when scraped
(register_collector), so they are right whoever asks.

Scraping needs TRADEBOT_METRICS_TOKEN as a bearer token; without a token set, only the loopback may scrape.
"""

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable

import redis
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY

from tradebot import health

# Seconds: a tick is usually well under one; a slow broker with retries can take tens.
TICK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
BACKTEST_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

TICKS = Counter("tradebot_ticks", "Ticks by outcome (traded, idle, skipped, held, failed)", ["outcome"])
TICK_SECONDS = Histogram("tradebot_tick_duration_seconds", "How long a tick took", ["outcome"], buckets=TICK_BUCKETS)
ORDERS = Counter(
    "tradebot_orders",
    "Orders as the broker answered them, by side, status and broker kind",
    ["side", "status", "broker"],
)
SIGNAL_TO_ORDER = Histogram(
    "tradebot_signal_to_order_seconds",
    "From a decision's record to the broker's first answer to its order",
    ["broker"],
    buckets=LATENCY_BUCKETS,
)
ORDER_TO_FILL = Histogram(
    "tradebot_order_to_fill_seconds",
    "From an order's record to its (last) fill",
    ["broker"],
    buckets=LATENCY_BUCKETS,
)
EXTERNAL_REQUESTS = Counter(
    "tradebot_external_requests",
    "Requests to Alpaca by API (trading, market_data) and outcome (ok, error, unavailable)",
    ["api", "outcome"],
)
EXTERNAL_RETRIES = Counter("tradebot_external_retries", "Retries of requests to Alpaca, by API", ["api"])
EXTERNAL_SECONDS = Histogram(
    "tradebot_external_request_duration_seconds",
    "Requests to Alpaca, retries included",
    ["api"],
    buckets=TICK_BUCKETS,
)
MARKET_FETCHES = Counter("tradebot_market_data_fetches", "Bar fetches by any feed, by outcome (ok, error)", ["outcome"])
BACKTESTS = Counter("tradebot_backtests", "Backtests run, by outcome (completed, failed)", ["outcome"])
BACKTEST_SECONDS = Histogram(
    "tradebot_backtest_duration_seconds", "How long a backtest ran", ["outcome"], buckets=BACKTEST_BUCKETS
)
STREAM_EVENTS = Counter(
    "tradebot_stream_events",
    "Stream messages and reconnections, by stream (data, trading) and kind",
    ["stream", "kind"],
)
STREAM_LAG = Histogram(
    "tradebot_stream_lag_seconds",
    "From an event's time at the exchange or broker to its arrival here",
    ["stream"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
NOTIFICATIONS = Counter(
    "tradebot_notifications",
    "Notification deliveries by channel kind and outcome (sent, retried, failed)",
    ["kind", "outcome"],
)


def stream_event(stream: str, kind: str, *, lag_seconds: float | None = None) -> None:
    """The stream service's messages: `stream` is "data" or "trading", `kind` trade, bar, order_update
    or reconnected; a trade's lag (its exchange timestamp to now)."""
    STREAM_EVENTS.labels(stream, kind).inc()
    if lag_seconds is not None:
        STREAM_LAG.labels(stream).observe(max(lag_seconds, 0.0))


# Collectors the apps add (AppConfig.ready), read at each scrape: the bots by status, the queue.
COLLECTORS: list[Callable[[], Iterable[Metric]]] = []


def register_collector(collect: Callable[[], Iterable[Metric]]) -> None:
    COLLECTORS.append(collect)


class _Registered:
    def collect(self) -> Iterable[Metric]:
        for collect in COLLECTORS:
            yield from collect()


def celery_queue_depth() -> Iterable[Metric]:
    """Tasks waiting in Redis for a worker (kombu keeps a queue as a Redis list named after it)."""
    if not settings.REDIS_URL:
        return
    family = GaugeMetricFamily("tradebot_celery_queue_depth", "Tasks waiting for a worker", labels=["queue"])
    with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2) as client:
        family.add_metric([settings.CELERY_TASK_DEFAULT_QUEUE], client.llen(settings.CELERY_TASK_DEFAULT_QUEUE))
    yield family


def heartbeat_ages() -> Iterable[Metric]:
    """Seconds since beat last sent its heartbeat and a worker last ran one (/health's own notes)."""
    family = GaugeMetricFamily(
        "tradebot_heartbeat_age_seconds",
        "Seconds since beat sent, or a worker ran, the last heartbeat",
        labels=["process"],
    )
    now = timezone.now()
    for process, key in (("beat", health.BEAT_SENT_KEY), ("worker", health.HEARTBEAT_KEY)):
        if (last := cache.get(key)) is not None:
            family.add_metric([process], (now - last).total_seconds())
    yield family


def stream_connections() -> Iterable[Metric]:
    """The stream service's connections as it last reported them (tradebot.health.record_stream)."""
    family = GaugeMetricFamily(
        "tradebot_stream_connections", "The stream service's connections, by state (connected, down)", labels=["state"]
    )
    report = cache.get(health.STREAM_KEY)
    if report is not None:
        connected = sum(1 for connection in report["connections"] if connection.get("connected"))
        family.add_metric(["connected"], connected)
        family.add_metric(["down"], len(report["connections"]) - connected)
    yield family


register_collector(celery_queue_depth)
register_collector(stream_connections)
register_collector(heartbeat_ages)


class _ThisProcess:
    """The process's own counts (ours and django-prometheus's) when no process shares its counts."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def registry() -> CollectorRegistry:
    scraped = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every process's files, the dead ones' included: counters never go back.
        multiprocess.MultiProcessCollector(scraped)
    else:
        scraped.register(_ThisProcess())
    scraped.register(_Registered())
    return scraped


def _allowed(request) -> bool:
    token = settings.TRADEBOT_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@require_safe
@never_cache
def metrics(request) -> HttpResponse:
    if not _allowed(request):
        return HttpResponseForbidden("metrics need TRADEBOT_METRICS_TOKEN as a bearer token\n")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
