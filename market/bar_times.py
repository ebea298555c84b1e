"""When bars open and when they count as closed, shared by every feed and the CSV importer.

Intraday bars open on their timeframe's grid in UTC (NY offsets are whole hours, so the grid is the
exchange's clock too). A 1Day bar spans one America/New_York calendar day: it opens at 00:00 ET
(04:00 or 05:00 UTC) and closes at the next 00:00 ET, so it is 23 or 25 hours long on DST days.
"""

from datetime import UTC, date, datetime, timedelta

from engine.market_time import DAILY, TIMEFRAMES, as_utc, day_start, exchange_date

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_timeframe(timeframe: str) -> None:
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"unknown timeframe {timeframe!r}; choose one of {', '.join(TIMEFRAMES)}")


def latest_closed_open(timeframe: str, end: datetime) -> datetime:
    """The latest open time of a bar that has closed by `end` (inclusive bound)."""
    check_timeframe(timeframe)
    if timeframe == DAILY:
        return day_start(exchange_date(end) - timedelta(days=1))
    return as_utc(end, "end") - TIMEFRAMES[timeframe]


def bar_close(timeframe: str, opened: datetime) -> datetime:
    """When the bar that opened at `opened` closes."""
    check_timeframe(timeframe)
    if timeframe == DAILY:
        return day_start(exchange_date(opened) + timedelta(days=1))
    return as_utc(opened, "opened") + TIMEFRAMES[timeframe]


def first_daily_on_or_after(start: datetime) -> date:
    """The first exchange day whose 1Day bar opens at or after `start`."""
    day = exchange_date(start)
    return day if day_start(day) >= as_utc(start) else day + timedelta(days=1)


def epoch_seconds(moment: datetime) -> int:
    return (as_utc(moment) - EPOCH) // timedelta(seconds=1)


def check_window(start: datetime | None, limit: int | None) -> None:
    """A window needs a start or a limit: a feed's history may be unbounded."""
    if start is None and limit is None:
        raise ValueError("bars() needs start or limit")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
