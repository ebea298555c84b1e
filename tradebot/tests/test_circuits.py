"""Circuits: an endpoint that keeps failing is left alone for a while, probed by one caller, and
closed for everyone by its first success."""

from datetime import UTC, datetime, timedelta

from tradebot.circuits import FAILURES_TO_OPEN, circuit_blocks, circuit_failure, circuit_state, circuit_success

T0 = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
FEED = "alpaca data https://data.example iex abc"


def test_it_opens_after_failures_in_a_row_and_lets_one_caller_probe_after_the_pause():
    for _ in range(FAILURES_TO_OPEN - 1):
        circuit_failure(FEED, "HTTP 503", now=T0)
        assert circuit_blocks(FEED, now=T0) is None  # not yet
    circuit_failure(FEED, "HTTP 503", now=T0)

    blocked = circuit_blocks(FEED, now=T0 + timedelta(seconds=10))
    assert blocked.startswith("down for 0 min (HTTP 503); retrying at 15:00:30 UTC")
    later = T0 + timedelta(seconds=31)
    assert circuit_blocks(FEED, now=later) is None  # the prober
    assert circuit_blocks(FEED, now=later) is not None  # everyone else still waits


def test_a_failed_probe_doubles_the_pause_and_a_success_closes_it_for_everyone():
    for _ in range(FAILURES_TO_OPEN):
        circuit_failure(FEED, "timed out", now=T0)
    circuit_failure(FEED, "timed out", now=T0 + timedelta(seconds=31))  # the probe failed
    assert circuit_state(FEED).retry_at == T0 + timedelta(seconds=31 + 60)

    down = circuit_success(FEED, now=T0 + timedelta(minutes=2))
    assert down == timedelta(minutes=2)
    assert circuit_blocks(FEED, now=T0 + timedelta(minutes=2)) is None and not circuit_state(FEED).is_open
    assert circuit_success(FEED) is None  # nothing to report twice
