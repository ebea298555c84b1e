"""The one vocabulary for time: the timeframes bots trade on, the exchange's zone, and where "today"
starts for daily limits and for every date a person types (a date means a New York trading day).

Times are aware datetimes in UTC everywhere else; this module is where New York comes in.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

EXCHANGE_TZ = ZoneInfo("America/New_York")

TIMEFRAMES: dict[str, timedelta] = {
    "1Min": timedelta(minutes=1),
    "5Min": timedelta(minutes=5),
    "15Min": timedelta(minutes=15),
    "1Hour": timedelta(hours=1),
    "1Day": timedelta(days=1),
}
Timeframe = Literal[tuple(TIMEFRAMES)]  # type: ignore[valid-type]
DAILY = "1Day"


def as_utc(moment: datetime, what: str = "time") -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def exchange_date(moment: datetime) -> date:
    """The New York calendar day `moment` falls on."""
    return as_utc(moment).astimezone(EXCHANGE_TZ).date()


def day_start(day: date) -> datetime:
    """00:00 America/New_York on `day`, in UTC (midnight always exists there: DST shifts at 02:00)."""
    return datetime.combine(day, time(0), tzinfo=EXCHANGE_TZ).astimezone(UTC)


def trading_day_start(moment: datetime) -> datetime:
    """Where "today" starts for `moment`: the daily limits, today's P&L and trades all count from here."""
    return day_start(exchange_date(moment))


def day_span(first: date, last: date) -> tuple[datetime, datetime]:
    """From the start of New York day `first` to the start of the day after `last`: a date range as
    people mean it, both days included."""
    return day_start(first), day_start(last + timedelta(days=1))
