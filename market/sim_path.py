"""The simulated market's price process: every value is a pure function of (seed, symbol, minute).

The log-price is a Brownian path built by midpoint displacement (Lévy's construction): independent
anchors every TOP_SPAN minutes, then each interval's midpoint is the mean of its ends plus a
Brownian-bridge displacement drawn from a counter-based hash of the midpoint's minute. A minute's
value depends only on its ~20 ancestors, never on the window asked for, so every window yields
bit-identical bars, and n minutes cost O(n + log span). Random numbers come from arithmetic on
integers (splitmix64) so no state is carried between calls.

Volatility follows a slow regime (calm spells and storms over days to months) and, below an hour,
an intraday profile on the New York clock (busiest at the open, again into the close, quieter off
hours). Volume follows a U-shaped session profile and grows with the size of the move.
"""

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from engine.market_time import EXCHANGE_TZ

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
MINUTES_PER_YEAR = 365.25 * MINUTES_PER_DAY
TOP_SPAN = 1 << 20  # ~2 years between independent anchors: the price wanders but stays near its base
FINE_SPAN = 64  # displacements over at most this many minutes follow the intraday profile
WICK = 0.8  # a minute's high/low reach beyond its open/close, in minute volatilities
_SQRT3 = math.sqrt(3.0)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_STREAMS = ("params", "anchor", "path", "minute", "regime-day", "regime-week", "regime-month")


def _mix(bits: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser; uint64 arithmetic wraps, which is the point."""
    bits = (bits ^ (bits >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    bits = (bits ^ (bits >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return bits ^ (bits >> np.uint64(31))


def _hash(key: np.uint64, index: np.ndarray) -> np.ndarray:
    return _mix(np.asarray(index, dtype=np.int64).view(np.uint64) * _GOLDEN + key)


def _unit(bits: np.ndarray, width: int) -> np.ndarray:
    """The low `width` bits as a uniform number in [0, 1)."""
    return (bits & np.uint64((1 << width) - 1)) * (1.0 / (1 << width))


def _normal(bits: np.ndarray) -> np.ndarray:
    """A unit-variance, near-normal number: the sum of four 16-bit uniforms (Irwin-Hall)."""
    lanes = (bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) + ((bits >> 32) & 0xFFFF) + (bits >> 48)
    return ((lanes + 2.0) / 65536.0 - 2.0) * _SQRT3


def _value_noise(key: np.uint64, x: np.ndarray, scale: int) -> np.ndarray:
    """Smooth noise in [0, 1]: uniform values every `scale` steps of x, smoothstep in between."""
    cell = x // scale
    t = (x - cell * scale) / scale
    t = t * t * (3.0 - 2.0 * t)
    left = _unit(_hash(key, cell) >> np.uint64(11), 53)
    right = _unit(_hash(key, cell + 1) >> np.uint64(11), 53)
    return left + (right - left) * t


@dataclass(frozen=True)
class SymbolModel:
    base_price: float
    annual_vol: float
    minute_vol: float
    base_volume: float  # shares per minute at an average moment of the regular session
    keys: dict[str, np.uint64]


def _stream_key(seed: int, symbol: str, stream: str) -> np.uint64:
    # A stable hash: Python's hash() of a str changes from process to process.
    digest = hashlib.blake2b(f"{seed}\x1f{symbol}\x1f{stream}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


@lru_cache(maxsize=4096)
def symbol_model(seed: int, symbol: str) -> SymbolModel:
    keys = {stream: _stream_key(seed, symbol, stream) for stream in _STREAMS}
    price_u, vol_u, volume_u = _unit(_hash(keys["params"], np.arange(3)) >> np.uint64(11), 53)
    annual_vol = 0.15 + 0.45 * float(vol_u)
    return SymbolModel(
        base_price=20.0 * 25.0 ** float(price_u),
        annual_vol=annual_vol,
        minute_vol=annual_vol / math.sqrt(MINUTES_PER_YEAR),
        base_volume=2_000.0 * 30.0 ** float(volume_u),
        keys=keys,
    )


def _profiles() -> tuple[np.ndarray, np.ndarray]:
    """Volatility and volume multipliers for each minute of the week on the New York clock,
    Monday 00:00 first. Volatility has a mean square of 1 over the week (it keeps the annual
    volatility); volume averages 1 over regular sessions."""
    minute = np.arange(MINUTES_PER_WEEK)
    weekday, clock = minute // MINUTES_PER_DAY, minute % MINUTES_PER_DAY
    session = (weekday < 5) & (clock >= 9 * 60 + 30) & (clock < 16 * 60)
    extended = (weekday < 5) & (clock >= 4 * 60) & (clock < 20 * 60) & ~session
    since_open, to_close = clock - (9 * 60 + 30), (16 * 60 - 1) - clock
    volatility = np.where(
        session,
        1.0 + 1.2 * np.exp(-since_open / 30) + 0.5 * np.exp(-to_close / 20),
        np.where(extended, 0.7, 0.55),
    )
    volume = np.where(
        session,
        0.6 + 2.4 * np.exp(-since_open / 20) + 1.6 * np.exp(-to_close / 25),
        np.where(extended, 0.08, 0.02),
    )
    return volatility / np.sqrt(np.mean(volatility**2)), volume / volume[session].mean()


VOLATILITY_PROFILE, VOLUME_PROFILE = _profiles()
REGIME_RMS = 0.8565  # measured root-mean-square of the raw regime; dividing keeps the annual volatility


def _regime(model: SymbolModel, hours: np.ndarray) -> np.ndarray:
    """The volatility regime for each hour: from about 0.4 (calm) to 2.4 (storm)."""
    level = (
        0.5 * _value_noise(model.keys["regime-day"], hours, 24)
        + 0.3 * _value_noise(model.keys["regime-week"], hours, 24 * 7)
        + 0.2 * _value_noise(model.keys["regime-month"], hours, 24 * 30)
    )
    return (0.35 + 1.7 * level * level) / REGIME_RMS


_OFFSET_BLOCK = 1 << 13  # hours, about 11 months


@lru_cache(maxsize=64)
def _offset_block(block: int) -> np.ndarray:
    # Memoised: a time-zone conversion costs more than the few bars a live tick needs.
    hours = np.arange(block * _OFFSET_BLOCK, (block + 1) * _OFFSET_BLOCK, dtype=np.int64)
    local = pd.to_datetime(hours * 3600, unit="s", utc=True).tz_convert(EXCHANGE_TZ).tz_localize(None)
    offsets = local.as_unit("s").asi8 // 60 - hours * 60
    offsets.flags.writeable = False
    return offsets


def _utc_offsets(first_hour: int, last_hour: int) -> np.ndarray:
    """New York's UTC offset in minutes for each hour (DST changes on the hour)."""
    first_block, last_block = first_hour // _OFFSET_BLOCK, last_hour // _OFFSET_BLOCK
    blocks = np.concatenate([_offset_block(b) for b in range(first_block, last_block + 1)])
    origin = first_block * _OFFSET_BLOCK
    return blocks[first_hour - origin : last_hour - origin + 1]


@dataclass(frozen=True)
class _Clock:
    """Per-minute volatility multiplier and minute of the week for minutes first..first+len-1."""

    first: int
    volatility: np.ndarray
    week_minute: np.ndarray


def _clock(model: SymbolModel, first: int, last: int) -> _Clock:
    minutes = np.arange(first, last + 1, dtype=np.int64)
    first_hour = first // 60
    hour = minutes // 60 - first_hour
    hours = np.arange(first_hour, last // 60 + 1, dtype=np.int64)
    local = minutes + _utc_offsets(first_hour, last // 60)[hour]
    week_minute = (local + 3 * MINUTES_PER_DAY) % MINUTES_PER_WEEK  # 1970-01-01 was a Thursday
    volatility = _regime(model, hours)[hour] * VOLATILITY_PROFILE[week_minute]
    return _Clock(first, volatility, week_minute)


def _halvings(first: int, last: int) -> list[tuple[int, int, int]]:
    """(spacing, index of the first grid point, number of intervals) for each level, coarsest first:
    only the grid points whose intervals touch minutes first..last."""
    levels, spacing = [], TOP_SPAN
    while spacing > 1:
        lo = first // spacing
        levels.append((spacing, lo, -(-last // spacing) - lo))
        spacing //= 2
    return levels


def _log_path(model: SymbolModel, first: int, last: int, clock: _Clock) -> np.ndarray:
    """Log of price / base price at minutes first..last; `clock` covers them +- FINE_SPAN."""
    levels = _halvings(first, last)
    _, top_lo, top_count = levels[0]
    anchor_scale = model.annual_vol * math.sqrt(TOP_SPAN / MINUTES_PER_YEAR / 2)  # anchor steps: one span's variance
    values = anchor_scale * _normal(_hash(model.keys["anchor"], np.arange(top_lo, top_lo + top_count + 1)))
    # Every level's midpoints are known up front, so their random draws are made in one batch.
    mids = [lo * spacing + spacing // 2 + spacing * np.arange(count, dtype=np.int64) for spacing, lo, count in levels]
    coarse = sum(spacing > FINE_SPAN for spacing, _, _ in levels)
    coarse_mids, fine_mids = np.concatenate(mids[:coarse]), np.concatenate(mids[coarse:])
    volatility = np.concatenate([_regime(model, coarse_mids // 60), clock.volatility[fine_mids - clock.first]])
    # A Brownian bridge's midpoint deviates by half the square root of its interval's variance.
    scales = [model.minute_vol * math.sqrt(spacing) / 2 for spacing, _, _ in levels]
    deviation = np.repeat(scales, [len(level) for level in mids]) * volatility
    deviation *= _normal(_hash(model.keys["path"], np.concatenate(mids)))
    used = 0
    for (_, lo, count), (_, next_lo, next_count) in zip(levels, levels[1:] + [(1, first, last - first)], strict=True):
        grid = np.empty(2 * count + 1)
        grid[0::2] = values
        grid[1::2] = (values[:-1] + values[1:]) * 0.5 + deviation[used : used + count]
        used += count
        values = grid[next_lo - 2 * lo : next_lo - 2 * lo + next_count + 1]
    return values


@dataclass(frozen=True)
class MinuteBars:
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


def minute_prices(model: SymbolModel, first: int, last: int) -> np.ndarray:
    """The price (rounded to cents) at the start of each minute first..last."""
    clock = _clock(model, first - FINE_SPAN, last + FINE_SPAN)
    return _prices(model, _log_path(model, first, last, clock))


def _prices(model: SymbolModel, log_path: np.ndarray) -> np.ndarray:
    # Cents, as traded; never below a cent, so prices stay positive.
    return np.maximum(np.round(model.base_price * np.exp(log_path), 2), 0.01)


def minute_bars(model: SymbolModel, first: int, count: int) -> MinuteBars:
    """OHLCV of the `count` one-minute bars opening at minutes first, first+1, ...: a bar opens at
    the path's price at its open and closes at the path's price at its close."""
    last = first + count
    clock = _clock(model, first - FINE_SPAN, last + FINE_SPAN)
    log_path = _log_path(model, first, last, clock)
    price = _prices(model, log_path)
    opens, closes = price[:-1], price[1:]
    volatility = clock.volatility[FINE_SPAN : FINE_SPAN + count]
    bits = _hash(model.keys["minute"], np.arange(first, last, dtype=np.int64))
    wick = WICK * model.minute_vol * volatility
    high = np.round(np.maximum(opens, closes) * (1.0 + wick * _unit(bits >> np.uint64(43), 21)), 2)
    low = np.round(np.minimum(opens, closes) * (1.0 - wick * _unit(bits >> np.uint64(22), 21)), 2)
    move = np.abs(np.diff(log_path)) / (model.minute_vol * volatility)
    activity = VOLUME_PROFILE[clock.week_minute[FINE_SPAN : FINE_SPAN + count]] * (0.3 + 0.7 * move)
    volume = np.rint(model.base_volume * activity * (0.5 + _unit(bits, 22)))
    return MinuteBars(opens, high, low, closes, volume)
