"""Which feed and clock a caller of the market API may use (their broker accounts').

That belongs to the app that owns broker accounts: it hands the market a resolver when it starts
(`serve_feeds`), so the market imports no app. Kept apart from the router (market.api) so that handing
it over costs a process no API import (django-ninja) at start-up.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from market.base import MarketData
from market.calendar import MarketStatus


@dataclass(frozen=True)
class CallerMarket:
    feed: MarketData
    status: Callable[[datetime], MarketStatus]


# (user, broker_account_id or None for their default) -> their market; raises Http404 for another's.
Resolver = Callable[[Any, int | None], CallerMarket]
_resolver: Resolver | None = None


def serve_feeds(resolver: Resolver) -> None:
    global _resolver
    _resolver = resolver


def caller_market(user, account_id: int | None) -> CallerMarket:
    if _resolver is None:
        raise RuntimeError("no app serves broker accounts' feeds (market.callers.serve_feeds was never called)")
    return _resolver(user, account_id)
