"""The caches shared by a process's ticks hold what the minutes in progress need, bounded in bytes."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from market.cache import MinuteCache, nbytes

T0 = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def test_a_later_minute_drops_what_only_older_minutes_used_and_keeps_the_previous():
    cache = MinuteCache(max_bytes=10**9)
    for n in range(3):
        cache.get_or_compute(("bars", n), lambda n=n: np.zeros(100), minute=minute(n))
    computed = []
    for n in range(3):
        cache.get_or_compute(("bars", n), lambda n=n: computed.append(n) or np.zeros(100), minute=minute(2))
    assert computed == [0]  # minute 0's entry was dropped when minute 2 began; 1 and 2 were kept
    assert cache.bytes_held == 3 * nbytes(np.zeros(100))  # 0 again, 1 and 2


def test_the_byte_bound_evicts_the_least_recently_used_first():
    block = np.zeros(1000)  # 8,000 bytes
    cache = MinuteCache(max_bytes=2 * nbytes(block) + 10)
    cache.get_or_compute("a", lambda: block, minute=T0)
    cache.get_or_compute("b", lambda: block.copy(), minute=T0)
    cache.get_or_compute("a", lambda: None, minute=T0)  # used: "b" is now the least recent
    cache.get_or_compute("c", lambda: block.copy(), minute=T0)
    computed = []
    cache.get_or_compute("a", lambda: computed.append("a"), minute=T0)
    cache.get_or_compute("b", lambda: computed.append("b") or block.copy(), minute=T0)
    assert computed == ["b"] and cache.bytes_held <= cache.max_bytes


def test_nbytes_counts_a_frames_arrays():
    frame = pd.DataFrame({name: np.zeros(300) for name in ("open", "high", "low", "close", "volume")})
    assert nbytes(frame) >= 5 * 300 * 8
    assert nbytes((frame["close"], {"x": frame["open"]})) >= 2 * 300 * 8
