"""GET /health: the state of the database, Redis (when configured), beat and the market data feed.

200 when every part is ok, 503 naming the failing parts. The parts:
- database: a `SELECT 1`.
- redis: a PING to REDIS_URL; absent on embedded defaults (no Redis).
- beat: the last heartbeat. Beat sends `beat_heartbeat` when it starts and every 30 s, a worker
  runs it, and it lands in the cache; so a fresh heartbeat proves beat, the broker and a worker all
  work. No heartbeat at all is a failure too: after a start it takes only as long as the worker
  needs to come up (seconds), and a container health check covers that with its start period.
- market_data: the outcome of the feed's latest fetch, as the market data layer reports it through
  `record_market_data`. Before any fetch (no bot has ticked yet) the feed is "idle", which is ok.
"""

import logging
from datetime import datetime

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "tradebot:health:beat"
MARKET_DATA_KEY = "tradebot:health:market_data"
# A failed fetch stops counting after five minutes unless another fetch fails: bots may stop fetching.
MARKET_FAILURE_TTL = 300
REDIS_TIMEOUT_SECONDS = 2


def heartbeat_interval() -> float:
    return settings.CELERY_BEAT_SCHEDULE["beat_heartbeat"]["schedule"]


def record_heartbeat() -> None:
    # No expiry: a heartbeat that stops coming must read as stale (with its age), not vanish.
    cache.set(HEARTBEAT_KEY, timezone.now(), timeout=None)


def record_market_data(feed: str, *, error: str = "") -> None:
    """The market data layer calls this after each fetch (error="" when it succeeded)."""
    state = {"feed": feed, "ok": not error, "error": error, "at": timezone.now().isoformat()}
    try:
        cache.set(MARKET_DATA_KEY, state, timeout=MARKET_FAILURE_TTL if error else None)
    except Exception:
        # Reporting health must never break a tick; an unreachable cache shows up in /health anyway.
        logger.warning("could not record the market data feed's state", exc_info=True)


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def check_redis() -> dict:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    with client:
        client.ping()
    return {"ok": True}


def check_beat() -> dict:
    interval = heartbeat_interval()
    last: datetime | None = cache.get(HEARTBEAT_KEY)
    if last is None:
        return {"ok": False, "error": "no heartbeat yet: beat or the Celery worker is not running"}
    age = (timezone.now() - last).total_seconds()
    state = {"ok": True, "last_heartbeat": last.isoformat(), "age_seconds": round(age, 1)}
    # Three missed heartbeats, not one: a busy worker may run one late.
    if age > 3 * interval:
        state.update(ok=False, error=f"no heartbeat for {age:.0f} s (expected every {interval:.0f} s)")
    return state


def check_market_data() -> dict:
    state = cache.get(MARKET_DATA_KEY)
    if state is None:
        return {"ok": True, "state": "idle"}
    return state


def _run(check) -> dict:
    try:
        return check()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


@require_safe
@never_cache
def health(request) -> JsonResponse:
    checks = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = check_redis
    checks |= {"beat": check_beat, "market_data": check_market_data}
    results = {name: _run(check) for name, check in checks.items()}
    failing = [name for name, result in results.items() if not result["ok"]]
    return JsonResponse(
        {"status": "failing" if failing else "ok", "failing": failing, "checks": results},
        status=503 if failing else 200,
    )
