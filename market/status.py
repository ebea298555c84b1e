"""The market status service: whether the market is open now (the NYSE calendar, or around the clock
for the simulated market's demo mode), and market_status_changed when it opens or closes."""

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from market.calendar import MarketStatus, always_open_status, nyse_status
from tradebot.events import publish

MARKET_STATUS_KEY = "market:status"


def market_status_now() -> MarketStatus:
    now = timezone.now()
    return always_open_status(now) if settings.TRADEBOT_SIM_ALWAYS_OPEN else nyse_status(now)


def market_status_publish() -> MarketStatus:
    """Publish market_status_changed when the market opens or closes."""
    status = market_status_now()
    previous = cache.get(MARKET_STATUS_KEY)
    cache.set(MARKET_STATUS_KEY, status.is_open, timeout=None)
    if previous is not None and previous != status.is_open:
        publish(
            "market_status_changed",
            {
                "is_open": status.is_open,
                "next_open": status.next_open,
                "next_close": status.next_close,
                "source": status.source,
            },
        )
    return status
