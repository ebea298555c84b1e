from datetime import UTC, date, datetime, timedelta

import pytest

from market import calendar
from market.calendar import (
    always_open_status,
    current_session_open,
    is_trading_day,
    market_status,
    nyse_status,
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_independence_day_is_a_holiday():
    status = nyse_status(utc(2024, 7, 4, 15, 0))
    assert not status.is_open
    assert status.next_open == utc(2024, 7, 5, 13, 30) and status.next_close == utc(2024, 7, 5, 20, 0)
    assert not is_trading_day(date(2024, 7, 4)) and is_trading_day(date(2024, 7, 5))


def test_the_day_after_thanksgiving_closes_at_one_pm():
    before = nyse_status(utc(2024, 11, 29, 17, 59, 59))
    assert before.is_open and before.next_close == utc(2024, 11, 29, 18, 0)
    assert before.next_open == utc(2024, 12, 2, 14, 30)
    after = nyse_status(utc(2024, 11, 29, 18, 0))
    assert not after.is_open and after.next_open == utc(2024, 12, 2, 14, 30)


def test_the_open_minute_is_open_and_the_close_minute_is_not():
    assert nyse_status(utc(2024, 7, 3, 13, 30)).is_open
    assert not nyse_status(utc(2024, 7, 3, 13, 29, 59)).is_open
    assert not nyse_status(utc(2024, 7, 2, 20, 0)).is_open
    assert nyse_status(utc(2024, 7, 2, 19, 59, 59)).is_open


def test_a_weekend_waits_for_monday_across_the_spring_dst_change():
    saturday = nyse_status(utc(2024, 3, 9, 15, 0))
    assert not saturday.is_open
    assert saturday.next_open == utc(2024, 3, 11, 13, 30)  # 09:30 EDT; the Friday before opened 14:30 UTC (EST)
    assert current_session_open(utc(2024, 3, 9, 15, 0)) == utc(2024, 3, 8, 14, 30)


def test_the_autumn_dst_change_moves_the_open_back_an_hour_in_utc():
    assert nyse_status(utc(2024, 11, 1, 13, 30)).is_open
    assert not nyse_status(utc(2024, 11, 4, 13, 30)).is_open
    assert nyse_status(utc(2024, 11, 4, 14, 30)).is_open


def test_the_current_session_open_is_the_latest_open_at_or_before_the_moment():
    assert current_session_open(utc(2024, 7, 3, 13, 30)) == utc(2024, 7, 3, 13, 30)
    assert current_session_open(utc(2024, 7, 3, 18, 0)) == utc(2024, 7, 3, 13, 30)
    assert current_session_open(utc(2024, 7, 4, 15, 0)) == utc(2024, 7, 3, 13, 30)
    assert current_session_open(utc(2024, 7, 5, 13, 29)) == utc(2024, 7, 3, 13, 30)
    assert current_session_open(utc(1980, 1, 1)) is None


def test_the_always_open_market_runs_new_york_day_sessions():
    sunday_night = utc(2024, 7, 7, 7, 0)  # 03:00 EDT
    status = always_open_status(sunday_night)
    assert status.is_open and status.source == "always_open"
    assert status.next_open == status.next_close == utc(2024, 7, 8, 4, 0)
    assert current_session_open(sunday_night, source="always_open") == utc(2024, 7, 7, 4, 0)
    assert market_status(sunday_night, source="always_open") == status


def test_market_status_dispatches_on_its_source():
    at = utc(2024, 7, 4, 15, 0)
    assert market_status(at) == nyse_status(at) and market_status(at).source == "nyse"
    assert market_status(at).timestamp == at
    with pytest.raises(ValueError, match="source"):
        market_status(at, source="alpaca-someday")


def test_times_must_be_aware_and_inside_the_calendar():
    with pytest.raises(ValueError, match="timezone-aware"):
        nyse_status(datetime(2024, 7, 4, 15, 0))
    with pytest.raises(ValueError, match="beyond the NYSE calendar"):
        nyse_status(utc(2024, 7, 4) + timedelta(days=365 * 40))
    with pytest.raises(ValueError, match="outside the NYSE calendar"):
        is_trading_day(date(1900, 1, 2))


def test_the_calendar_is_built_once_per_process():
    assert calendar._nyse() is calendar._nyse()
