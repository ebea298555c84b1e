"""GET /health: the state of the database, Redis (when configured), beat, the service's market data
feeds, and whatever the apps register (register_check).

200 when every part is ok, 503 naming the failing parts. Anyone may ask, for a load balancer or a
container's health check, and gets only ok / failing per part; the details (errors, hosts, ages,
account names) are for signed-in staff. The parts:
- database: a `SELECT 1`.
- redis: a PING to REDIS_URL; absent on embedded defaults (no Redis).
- beat: beat sends `beat_heartbeat` when it starts and every 30 s, and notes each sending itself;
  failing when it has sent none for three intervals (or none at all: beat is not running).
- worker: a worker runs each heartbeat and notes it; failing when beat keeps sending but no worker
  has run one for three intervals (the worker, or the broker between them, is down). While beat is
  down nothing tells whether a worker would run its tasks: the part says so without failing.
  After a start both take only seconds; a container health check covers that with its start period.
- stream: the stream service (its own process, or a thread of the embedded run) reports its
  connections every few seconds: connected, symbols subscribed, the age of the last message. Failing
  when its report is older than STREAM_REPORT_MAX_AGE or a connection has been down for as long.
  Before any report (no stream has started) it says so without failing.
- market_data: per feed of the service's own (the simulated market, Alpaca's data API at
  ALPACA_DATA_URL), its last success and last failure, failing while a symbol's latest fetch failed
  (for five minutes after). One account's custom endpoint or refused keys are that account's
  problem, shown on its bots, never the service's health.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

BEAT_SENT_KEY = "tradebot:health:beat"
HEARTBEAT_KEY = "tradebot:health:worker"
MARKET_DATA_KEY = "tradebot:health:market_data"
STREAM_KEY = "tradebot:health:stream"
STREAM_REPORT_MAX_AGE = 30  # seconds; the stream reports every few
# A failed fetch stops counting after five minutes unless another fetch of it fails: bots may stop fetching.
MARKET_FAILURE_TTL = 300
REDIS_TIMEOUT_SECONDS = 2


def heartbeat_interval() -> float:
    return settings.CELERY_BEAT_SCHEDULE["beat_heartbeat"]["schedule"]


# No expiry on either: a heartbeat that stops coming must read as stale (with its age), not vanish.


def record_beat_sent() -> None:
    cache.set(BEAT_SENT_KEY, timezone.now(), timeout=None)


def record_heartbeat() -> None:
    cache.set(HEARTBEAT_KEY, timezone.now(), timeout=None)


def record_market_data(feed: str, *, symbol: str, error: str = "") -> None:
    """The market data layer calls this after each fetch of a symbol (error="" when it succeeded)."""
    at = timezone.now().isoformat()
    try:
        feeds = cache.get(MARKET_DATA_KEY) or {}
        state = feeds.setdefault(feed, {"last_success": None, "last_failure": None, "failing": {}})
        if error:
            state["last_failure"] = state["failing"][symbol] = {"at": at, "symbol": symbol, "error": error}
        else:
            state["last_success"] = {"at": at, "symbol": symbol}
            state["failing"].pop(symbol, None)
        cache.set(MARKET_DATA_KEY, feeds, timeout=None)
    except Exception:
        # Reporting health must never break a tick; an unreachable cache shows up in /health anyway.
        logger.warning("could not record the market data feed's state", exc_info=True)


def record_stream(connections: list[dict]) -> None:
    """The stream service's connections, as market.stream.StreamState.report gives them."""
    try:
        cache.set(STREAM_KEY, {"at": timezone.now(), "connections": connections}, timeout=None)
    except Exception:
        logger.warning("could not record the stream's state", exc_info=True)


def check_stream() -> dict:
    report = cache.get(STREAM_KEY)
    if report is None:
        return {"ok": True, "state": "no stream service has reported yet"}
    age = (timezone.now() - report["at"]).total_seconds()
    result = {"ok": True, "reported_seconds_ago": round(age, 1), "connections": report["connections"]}
    down = [c["name"] for c in report["connections"] if (c.get("down_seconds") or 0) > STREAM_REPORT_MAX_AGE]
    if age > STREAM_REPORT_MAX_AGE:
        result.update(ok=False, error=f"the stream service has not reported for {age:.0f} s")
    elif down:
        result.update(ok=False, error=f"down for over {STREAM_REPORT_MAX_AGE} s: {', '.join(down)}")
    return result


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def check_redis() -> dict:
    import redis  # here: only the health endpoint with Redis configured needs it, every process imports this module

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
    )
    with client:
        client.ping()
    return {"ok": True}


def _freshness(key: str) -> dict | None:
    """The age of a noted heartbeat, stale after three intervals (a busy process may run one late)."""
    last: datetime | None = cache.get(key)
    if last is None:
        return None
    age = (timezone.now() - last).total_seconds()
    return {"ok": age <= 3 * heartbeat_interval(), "last_heartbeat": last.isoformat(), "age_seconds": round(age, 1)}


def check_beat() -> dict:
    state = _freshness(BEAT_SENT_KEY)
    if state is None:
        return {"ok": False, "error": "no heartbeat sent yet: beat is not running"}
    if not state["ok"]:
        state["error"] = f"beat has sent no heartbeat for {state['age_seconds']:.0f} s"
    return state


def check_worker() -> dict:
    beat = _freshness(BEAT_SENT_KEY)
    if beat is None or not beat["ok"]:
        return {"ok": True, "state": "unknown while beat sends no heartbeat"}
    state = _freshness(HEARTBEAT_KEY) or {"ok": False}
    if not state["ok"]:
        state["error"] = "beat sends heartbeats but no Celery worker runs them: the worker (or its broker) is down"
    return state


def check_market_data() -> dict:
    """Before any fetch (no bot has ticked yet) there are no feeds, which is ok."""
    since = (timezone.now() - timedelta(seconds=MARKET_FAILURE_TTL)).isoformat()
    feeds = {}
    for name, state in (cache.get(MARKET_DATA_KEY) or {}).items():
        failing = sorted(symbol for symbol, failure in state["failing"].items() if failure["at"] >= since)
        feeds[name] = {
            "ok": not failing,
            "failing_symbols": failing,
            "last_success": state["last_success"],
            "last_failure": state["last_failure"],
        }
    broken = [name for name, feed in feeds.items() if not feed["ok"]]
    result = {"ok": not broken, "feeds": feeds}
    if broken:
        result["error"] = f"failing: {', '.join(broken)}"
    return result


# Parts the apps add (AppConfig.ready): name -> a function returning {"ok": bool, ...details}.
REGISTERED: dict[str, Callable[[], dict]] = {}


def register_check(name: str, check: Callable[[], dict]) -> None:
    REGISTERED[name] = check


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
    checks |= {
        "beat": check_beat,
        "worker": check_worker,
        "stream": check_stream,
        "market_data": check_market_data,
        **REGISTERED,
    }
    results = {name: _run(check) for name, check in checks.items()}
    failing = [name for name, result in results.items() if not result["ok"]]
    if not request.user.is_staff:
        results = {name: {"ok": result["ok"]} for name, result in results.items()}
    return JsonResponse(
        {"status": "failing" if failing else "ok", "failing": failing, "checks": results},
        status=503 if failing else 200,
    )
