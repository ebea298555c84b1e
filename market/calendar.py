"""The one market-status service: is the market open at a moment, when does it next open and close.

NYSE hours come from exchange_calendars' XNYS calendar (holidays, early closes). The simulated
market's demo mode ("always_open") trades around the clock in back-to-back sessions that start at
00:00 New York time, so daily limits still reset once a day. All times are aware UTC.
"""

import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from engine.market_time import as_utc, day_start, exchange_date
from market.bar_times import EPOCH

SOURCES = ("nyse", "always_open")
_FIRST_YEAR = 1990
_YEARS_AHEAD = 10


@dataclass(frozen=True)
class MarketStatus:
    """`next_open` is the next session's open (a later one while open); `next_close` is the close
    of the session in progress, or else of the next one."""

    is_open: bool
    next_open: datetime
    next_close: datetime
    source: str
    timestamp: datetime


@dataclass(frozen=True)
class _Sessions:
    days: np.ndarray  # datetime64[D], ascending
    opens: np.ndarray  # int64 nanoseconds since the epoch, UTC
    closes: np.ndarray


@lru_cache(maxsize=1)
def _nyse() -> _Sessions:
    """Built lazily, once per process: constructing the calendar takes a noticeable fraction of a second, and
    importing exchange_calendars another, which a process that never asks the NYSE clock does not pay."""
    import exchange_calendars

    with warnings.catch_warnings():
        # exchange_calendars 4.13 trips a pandas deprecation (Series.values on tz-aware data).
        warnings.simplefilter("ignore", pd.errors.Pandas4Warning)
        calendar = exchange_calendars.get_calendar(
            "XNYS", start=f"{_FIRST_YEAR}-01-01", end=f"{date.today().year + _YEARS_AHEAD}-12-31"
        )
    return _Sessions(
        days=calendar.sessions.to_numpy().astype("datetime64[D]"),
        opens=pd.DatetimeIndex(calendar.opens).as_unit("ns").asi8,
        closes=pd.DatetimeIndex(calendar.closes).as_unit("ns").asi8,
    )


def _nanos(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def _moment(nanos: np.int64) -> datetime:
    return EPOCH + timedelta(microseconds=int(nanos) // 1000)


def _covered(at: datetime) -> tuple[_Sessions, int]:
    """The sessions and `at` in nanoseconds, if the calendar reaches past `at` (to a later open)."""
    sessions, now = _nyse(), _nanos(at)
    if now >= sessions.opens[-1]:
        raise ValueError(f"{at.isoformat()} is beyond the NYSE calendar, which ends {sessions.days[-1]}")
    return sessions, now


def nyse_status(at: datetime) -> MarketStatus:
    sessions, now = _covered(as_utc(at, "at"))
    current = int(np.searchsorted(sessions.closes, now, side="right"))  # the first session closing after `at`
    is_open = bool(sessions.opens[current] <= now)
    next_open = sessions.opens[current + 1] if is_open else sessions.opens[current]
    return MarketStatus(is_open, _moment(next_open), _moment(sessions.closes[current]), "nyse", as_utc(at))


def always_open_status(at: datetime) -> MarketStatus:
    """Open around the clock; the next session starts (and this one ends) at the next 00:00 New York."""
    at = as_utc(at, "at")
    boundary = day_start(exchange_date(at) + timedelta(days=1))
    return MarketStatus(True, boundary, boundary, "always_open", at)


def market_status(at: datetime, *, source: str = "nyse") -> MarketStatus:
    if source == "nyse":
        return nyse_status(at)
    if source == "always_open":
        return always_open_status(at)
    raise ValueError(f"unknown market-status source {source!r}; choose one of {', '.join(SOURCES)}")


def current_session_open(at: datetime, *, source: str = "nyse") -> datetime | None:
    """The open of the session `at` falls in, or else of the most recent past one (None before the
    calendar's first session). Daily limits reset at this moment."""
    at = as_utc(at, "at")
    if source == "always_open":
        return day_start(exchange_date(at))
    if source != "nyse":
        raise ValueError(f"unknown market-status source {source!r}; choose one of {', '.join(SOURCES)}")
    sessions, now = _covered(at)
    latest = int(np.searchsorted(sessions.opens, now, side="right")) - 1
    return _moment(sessions.opens[latest]) if latest >= 0 else None


def open_seconds_between(start: datetime, end: datetime, *, source: str = "nyse") -> float:
    """How long the market was open from `start` to `end`: the clock that ages bars (a bar from
    Friday's close is not stale at Monday's open)."""
    start, end = as_utc(start, "start"), as_utc(end, "end")
    if end <= start:
        return 0.0
    if source == "always_open":
        return (end - start).total_seconds()
    if source != "nyse":
        raise ValueError(f"unknown market-status source {source!r}; choose one of {', '.join(SOURCES)}")
    sessions, until = _covered(end)
    since = _nanos(start)
    first = int(np.searchsorted(sessions.closes, since, side="right"))  # the first session closing after start
    last = int(np.searchsorted(sessions.opens, until, side="left"))  # sessions opening before end
    opens = np.clip(sessions.opens[first:last], since, until)
    closes = np.clip(sessions.closes[first:last], since, until)
    return float((closes - opens).sum()) / 1e9


def is_trading_day(day: date) -> bool:
    """Whether the NYSE holds a session on `day`."""
    sessions, wanted = _nyse(), np.datetime64(day, "D")
    if not sessions.days[0] <= wanted <= sessions.days[-1]:
        raise ValueError(f"{day} is outside the NYSE calendar ({sessions.days[0]} to {sessions.days[-1]})")
    return bool(sessions.days[int(np.searchsorted(sessions.days, wanted))] == wanted)
