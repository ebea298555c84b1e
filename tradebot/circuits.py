"""Circuit breakers for the endpoints many bots share: one per market data feed and one per broker
account endpoint, kept in the cache so every process sees the same state.

An endpoint that keeps failing (timeouts, 5xx, after its own retries) opens its circuit: for a
while no bot calls it (a dead endpoint is not hammered by every bot's tick), then one caller probes
it, and the first success closes it for everyone. Bots behind an open circuit hold: an outage is not
a person's job, so it never puts a bot in `error`.
"""

import hashlib
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

# Failures in a row (across all callers) that open a circuit, and how long it then stays open: doubling
# from the first pause to the longest while the probes keep failing.
FAILURES_TO_OPEN = 3
FIRST_PAUSE = timedelta(seconds=30)
LONGEST_PAUSE = timedelta(minutes=5)
# How long one prober has before another may try.
PROBE_SECONDS = 60


@dataclass
class Circuit:
    failures: int = 0
    opened_at: datetime | None = None
    retry_at: datetime | None = None
    pause_seconds: float = 0.0
    last_error: str = ""

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None


def _key(name: str) -> str:
    return "tradebot:circuit:" + hashlib.sha256(name.encode()).hexdigest()[:32]


def circuit_state(name: str) -> Circuit:
    state = cache.get(_key(name))
    return Circuit(**state) if state else Circuit()


def _save(name: str, circuit: Circuit) -> None:
    # Kept a day past its last change at most: an endpoint no one calls any more needs no state.
    cache.set(_key(name), asdict(circuit), timeout=86400)


def circuit_blocks(name: str, *, now: datetime | None = None) -> str | None:
    """Why a caller must not call the endpoint now, or None: the circuit is closed, or its pause is
    over and this caller is the one to probe it."""
    now = now or timezone.now()
    circuit = circuit_state(name)
    if not circuit.is_open:
        return None
    if now >= circuit.retry_at and cache.add(_key(name) + ":probe", True, timeout=PROBE_SECONDS):
        return None
    since = (now - circuit.opened_at).total_seconds() / 60
    return f"down for {since:.0f} min ({circuit.last_error}); retrying at {circuit.retry_at:%H:%M:%S} UTC"


def circuit_failure(name: str, error: str, *, now: datetime | None = None) -> Circuit:
    """Count a failure; the circuit opens at the threshold, and a failed probe doubles its pause."""
    now = now or timezone.now()
    circuit = circuit_state(name)
    circuit.failures += 1
    circuit.last_error = error[:200]
    if circuit.is_open or circuit.failures >= FAILURES_TO_OPEN:
        pause = min(max(circuit.pause_seconds * 2, FIRST_PAUSE.total_seconds()), LONGEST_PAUSE.total_seconds())
        if not circuit.is_open:
            logger.warning("circuit %s opened after %d failures: %s", name, circuit.failures, error)
        circuit.opened_at = circuit.opened_at or now
        circuit.pause_seconds = pause
        circuit.retry_at = now + timedelta(seconds=pause)
        cache.delete(_key(name) + ":probe")
    _save(name, circuit)
    return circuit


def circuit_success(name: str, *, now: datetime | None = None) -> timedelta | None:
    """The endpoint answered: closes the circuit. How long it was down, when it was open."""
    circuit = circuit_state(name)
    if not circuit.failures:
        return None
    cache.delete_many([_key(name), _key(name) + ":probe"])
    if not circuit.is_open:
        return None
    down = (now or timezone.now()) - circuit.opened_at
    logger.info("circuit %s closed: the endpoint answers again after %s", name, down)
    return down
