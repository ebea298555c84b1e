"""The indicator registry: one entry per indicator (parameters, pandas-ta or TA-Lib call, vote).

Everything is vectorised over a whole bar history, so the backtester computes each indicator once
and the live tick takes the vote of the latest closed bar from the very same series.

A vote series holds 1.0 (buy), -1.0 (sell), 0.0 (no opinion) or NaN (not computable yet: the
look-back is not filled). A confirmation (VOLUME_SMA) holds 1.0 / 0.0 / NaN and gates entries.
Bars are a DataFrame with float columns open, high, low, close, volume.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import pandas as pd
import talib
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationInfo, field_validator, model_validator

BUY, SELL, NONE = 1.0, -1.0, 0.0


# A look-back of one bar is degenerate (the average of one close is the close) and TA-Lib refuses
# it (TA_BAD_PARAM), which would fail every tick: look-backs start at 2.
Length = Annotated[int, Field(ge=2)]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _greater_than(lower: str):
    """A field validator: this field must exceed the field named `lower` (declared before it)."""

    def check(cls, value, info: ValidationInfo):
        other = info.data.get(lower)
        if value is not None and other is not None and value <= other:
            raise ValueError(f"must be greater than {lower} ({other})")
        return value

    return classmethod(check)


class RSIParams(Params):
    period: Length = 14
    oversold: float = Field(30, ge=0, le=100)
    overbought: float = Field(70, ge=0, le=100)

    _bounds = field_validator("overbought")(_greater_than("oversold"))


class MACDParams(Params):
    fast: Length = 12
    slow: Length = 26
    signal: Length = 9

    _order = field_validator("slow")(_greater_than("fast"))


class MovingAverageParams(Params):
    """Either {period} (close vs. average) or {fast, slow} (crossover of two averages)."""

    period: Length | None = None
    fast: Length | None = None
    slow: Length | None = None

    _order = field_validator("slow")(_greater_than("fast"))

    @model_validator(mode="after")
    def _one_form(self):
        crossover = self.fast is not None or self.slow is not None
        if crossover and self.period is not None:
            raise ValueError("give either period or fast and slow, not both")
        if crossover and (self.fast is None or self.slow is None):
            raise ValueError("fast and slow must be given together")
        if not crossover and self.period is None:
            raise ValueError("give period, or fast and slow")
        return self


class BBandsParams(Params):
    period: Length = 20
    std: float = Field(2.0, gt=0, le=10)


class StochParams(Params):
    k: PositiveInt = 14
    d: PositiveInt = 3
    smooth_k: PositiveInt = 3
    oversold: float = Field(20, ge=0, le=100)
    overbought: float = Field(80, ge=0, le=100)

    _bounds = field_validator("overbought")(_greater_than("oversold"))


class PeriodParams(Params):
    period: Length = 20


class VolumeSMAParams(Params):
    period: Length = 20
    multiplier: float = Field(1.0, gt=0, le=100)


Series = dict[str, pd.Series]


@dataclass(frozen=True)
class Indicator:
    name: str
    params: type[Params]
    compute: Callable[[pd.DataFrame, Params], Series]
    vote: Callable[[Series, pd.DataFrame, Params], pd.Series]
    confirmation: bool = False

    def warmup(self, params: Params) -> int:
        """Bars needed before the vote can be computed (a lower bound used to size fetches)."""
        numbers = [v for v in params.model_dump().values() if isinstance(v, int)]
        return 3 * max(numbers, default=1) + 2


def _threshold(value: pd.Series, low: float, high: float) -> pd.Series:
    """BUY below low, SELL above high, NONE between, NaN where value is NaN."""
    out = pd.Series(np.select([value < low, value > high], [BUY, SELL], NONE), index=value.index)
    return out.where(value.notna())


# Values this close, relative to the prices compared, count as equal. Averages are running sums
# of floats: the 20-bar SMA of twenty closes of 100.10 is not exactly 100.10, and without this a
# flat price would vote buy or sell on the last bit of a float.
TOLERANCE = 1e-9


def _side(value: pd.Series, reference: pd.Series, scale: pd.Series | None = None) -> pd.Series:
    """1 where value is above reference, -1 below, 0 level (within TOLERANCE x scale), NaN where unknown.

    scale defaults to the larger magnitude of the two; pass the close when both hover around zero (MACD).
    """
    if scale is None:
        scale = np.maximum(value.abs(), reference.abs())
    diff, margin = value - reference, TOLERANCE * scale
    out = pd.Series(np.select([diff > margin, diff < -margin], [1.0, -1.0], 0.0), index=value.index)
    return out.where(value.notna() & reference.notna())


def _cross(fast: pd.Series, slow: pd.Series, scale: pd.Series | None = None) -> pd.Series:
    """BUY where fast crosses above slow on this bar, SELL where it crosses below."""
    side = _side(fast, slow, scale)
    prev = side.shift(1)
    out = pd.Series(
        np.select([(prev <= 0) & (side > 0), (prev >= 0) & (side < 0)], [BUY, SELL], NONE), index=side.index
    )
    return out.where(side.notna() & prev.notna())


def _above_below(value: pd.Series, reference: pd.Series) -> pd.Series:
    return _side(value, reference)  # BUY = 1 above, SELL = -1 below


def _ta():
    """pandas-ta, imported on first use: its import (numba) takes longer than a whole CSV backtest's start-up,
    and the moving averages do without it."""
    import pandas_ta

    return pandas_ta


def _talib_average(function):
    """pandas-ta's SMA and EMA with TA-Lib installed (it is pinned), without the pandas-ta import: TA-Lib's
    routine, and None like pandas-ta when the history is shorter than the look-back."""

    def average(close: pd.Series, length: int) -> pd.Series | None:
        return function(close, length) if len(close) >= length else None

    return average


_sma, _ema = _talib_average(talib.SMA), _talib_average(talib.EMA)


def _nan_series(bars: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nan, index=bars.index, dtype=float)


def _safe(result: pd.Series | pd.DataFrame | None, bars: pd.DataFrame) -> pd.Series | pd.DataFrame | None:
    """pandas-ta returns None when the history is shorter than the look-back."""
    return result if result is not None and len(result) == len(bars) else None


def _col(result: pd.Series | None, bars: pd.DataFrame) -> pd.Series:
    safe = _safe(result, bars)
    return safe.astype(float) if safe is not None else _nan_series(bars)


def _cols(result: pd.DataFrame | None, bars: pd.DataFrame, names: dict[str, int]) -> Series:
    safe = _safe(result, bars)
    if safe is None:
        return {name: _nan_series(bars) for name in names}
    return {name: safe.iloc[:, position].astype(float) for name, position in names.items()}


def _rsi(bars, p: RSIParams) -> Series:
    return {"rsi": _col(_ta().rsi(bars["close"], length=p.period), bars)}


def _rsi_vote(values: Series, bars, p: RSIParams) -> pd.Series:
    vote = _threshold(values["rsi"], p.oversold, p.overbought)
    # Until the price first moves there are no gains and no losses: RSI is 0 / 0 (TA-Lib says 0,
    # "oversold"; pandas-ta alone says NaN, "warming up"), which is no opinion.
    moved = bars["close"].diff().fillna(0).ne(0).cummax()
    warm = pd.Series(np.arange(len(bars)) >= p.period, index=bars.index)
    return vote.mask(~moved & warm, NONE)


def _macd(bars, p: MACDParams) -> Series:
    raw = _ta().macd(bars["close"], fast=p.fast, slow=p.slow, signal=p.signal)
    return _cols(raw, bars, {"macd": 0, "histogram": 1, "signal": 2})


def _average(function):
    def compute(bars, p: MovingAverageParams) -> Series:
        if p.period is not None:
            return {"average": _col(function(bars["close"], length=p.period), bars)}
        return {
            "fast": _col(function(bars["close"], length=p.fast), bars),
            "slow": _col(function(bars["close"], length=p.slow), bars),
        }

    return compute


def _average_vote(values: Series, bars, p: MovingAverageParams) -> pd.Series:
    if p.period is not None:
        return _above_below(bars["close"], values["average"])
    return _cross(values["fast"], values["slow"])


def _bbands(bars, p: BBandsParams) -> Series:
    raw = _ta().bbands(bars["close"], length=p.period, lower_std=p.std, upper_std=p.std)
    return _cols(raw, bars, {"lower": 0, "middle": 1, "upper": 2})


def _bbands_vote(values: Series, bars, p) -> pd.Series:
    close = bars["close"]
    lower, upper = values["lower"], values["upper"]
    out = pd.Series(np.select([_side(close, lower) < 0, _side(close, upper) > 0], [BUY, SELL], NONE), index=close.index)
    return out.where(lower.notna() & upper.notna())


def _stoch(bars, p: StochParams) -> Series:
    """%K: where the close sits in the last k bars' high-low range (0-100), averaged over smooth_k
    bars; %D: %K averaged over d bars.

    Computed here rather than by ta.stoch, which with TA-Lib installed smooths %K over d bars
    instead of smooth_k, and without it fails when d is 1.
    """
    lowest = bars["low"].rolling(p.k).min()
    span = bars["high"].rolling(p.k).max() - lowest
    raw = 100 * (bars["close"] - lowest) / span
    k = raw.rolling(p.smooth_k).mean()
    return {"k": k.astype(float), "d": k.rolling(p.d).mean().astype(float)}


def _stoch_vote(values: Series, bars, p: StochParams) -> pd.Series:
    vote = _threshold(values["k"], p.oversold, p.overbought)
    # A k-bar window without range (high = low throughout) leaves %K at 0 / 0: no opinion, and
    # not "warming up" either, which would stop every other indicator deciding.
    span = bars["high"].rolling(p.k).max() - bars["low"].rolling(p.k).min()
    return vote.mask(span.rolling(p.smooth_k).min() == 0, NONE)


def _obv(bars, p: PeriodParams) -> Series:
    obv = _col(_ta().obv(bars["close"], bars["volume"]), bars)
    return {"obv": obv, "obv_sma": _col(_sma(obv, length=p.period), bars)}


def _volume_sma(bars, p: VolumeSMAParams) -> Series:
    return {
        "volume": bars["volume"].astype(float),
        "volume_sma": _col(_sma(bars["volume"].astype(float), length=p.period), bars),
    }


def _volume_confirms(values: Series, bars, p: VolumeSMAParams) -> pd.Series:
    threshold = values["volume_sma"] * p.multiplier
    out = pd.Series(np.where(_side(values["volume"], threshold) > 0, 1.0, 0.0), index=bars.index)
    return out.where(threshold.notna())


REGISTRY: dict[str, Indicator] = {
    indicator.name: indicator
    for indicator in [
        Indicator("RSI", RSIParams, _rsi, _rsi_vote),
        Indicator("MACD", MACDParams, _macd, lambda v, b, p: _cross(v["macd"], v["signal"], b["close"])),
        Indicator("SMA", MovingAverageParams, _average(_sma), _average_vote),
        Indicator("EMA", MovingAverageParams, _average(_ema), _average_vote),
        Indicator("BBANDS", BBandsParams, _bbands, _bbands_vote),
        Indicator("STOCH", StochParams, _stoch, _stoch_vote),
        Indicator("OBV", PeriodParams, _obv, lambda v, b, p: _above_below(v["obv"], v["obv_sma"])),
        Indicator("VOLUME_SMA", VolumeSMAParams, _volume_sma, _volume_confirms, confirmation=True),
    ]
}
