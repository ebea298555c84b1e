"""Rate limiting of the JSON API: N requests per period per user, counted in the cache.

A fixed window (one counter per user and period, incremented atomically: Redis INCR when Redis is
the cache) rather than ninja's sliding log, which rewrites a list of every request's time on each
call and loses counts when two processes write it at once. A fixed window allows a burst of up to
2N across a window boundary; that is fine for protecting the server from a runaway script.
"""

import logging
import math
import re
import time
from functools import cache

from django.conf import settings
from django.core.cache import cache as default_cache
from django.core.exceptions import ImproperlyConfigured
from ninja.throttling import BaseThrottle

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\w+)\s*$")


@cache
def parse_rate(rate: str) -> tuple[int, int]:
    """'600/minute' -> (600, 60)."""
    match = RATE_RE.match(rate)
    if not match or match.group(2) not in PERIODS or int(match.group(1)) < 1:
        raise ImproperlyConfigured(f"TRADEBOT_API_RATE must look like '600/minute', not {rate!r}")
    return int(match.group(1)), PERIODS[match.group(2)]


class UserRateThrottle(BaseThrottle):
    # Read on every request (not at import) so tests and deployments can change it through settings.
    def _rate(self) -> tuple[int, int]:
        return parse_rate(settings.TRADEBOT_API_RATE)

    def allow_request(self, request) -> bool:
        limit, period = self._rate()
        user = getattr(request, "auth", None)
        ident = f"user:{user.pk}" if user is not None else f"ip:{self.get_ident(request)}"
        key = f"tradebot:api-rate:{ident}:{int(time.time() // period)}"
        try:
            # add() is a no-op when the key exists; the window's key expires with the window.
            default_cache.add(key, 0, timeout=period + 1)
            try:
                count = default_cache.incr(key)
            except ValueError:  # expired between add() and incr()
                default_cache.set(key, 1, timeout=period + 1)
                count = 1
        except Exception:
            # The limit protects the server; an unreachable cache (shown by /health) must not take the API down.
            logger.warning("rate limiting skipped: the cache is unavailable", exc_info=True)
            return True
        return count <= limit

    def wait(self) -> float:
        _, period = self._rate()
        return max(1, math.ceil(period - time.time() % period))
