"""Combining indicator votes into entry and exit signals, vectorised over the whole history."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from engine.indicators import BUY, REGISTRY, SELL, Params, Series

MODES = ("all", "any", "majority")

# compute(name, params) -> (values, vote series); the tick passes a memoised one so bots that
# share a symbol and an indicator compute it once per bar.
Computer = Callable[[str, Params], tuple[Series, pd.Series]]


@dataclass(frozen=True)
class Evaluation:
    """Everything the engine derived from one symbol's bars, one entry per bar."""

    bars: pd.DataFrame
    votes: dict[str, pd.Series]
    confirmations: dict[str, pd.Series]
    values: dict[str, Series]
    ready: np.ndarray
    entry: np.ndarray
    exit: np.ndarray

    @cached_property
    def columns(self) -> "_Columns":
        """The series as numpy arrays, made once: signal_at reads a bar from them (pandas' .iloc costs
        microseconds a call, and a decision reads a score of values)."""
        return _Columns(
            close=self.bars["close"].to_numpy(dtype=float),
            values=[
                (f"{name}.{key}", v.to_numpy(dtype=float))
                for name, series in self.values.items()
                for key, v in series.items()
            ],
            votes=[(name, v.to_numpy(dtype=float)) for name, v in {**self.votes, **self.confirmations}.items()],
        )


@dataclass(frozen=True)
class _Columns:
    close: np.ndarray
    values: list[tuple[str, np.ndarray]]
    votes: list[tuple[str, np.ndarray]]


def direct_computer(bars: pd.DataFrame) -> Computer:
    def compute(name: str, params: Params) -> tuple[Series, pd.Series]:
        indicator = REGISTRY[name]
        values = indicator.compute(bars, params)
        return values, indicator.vote(values, bars, params)

    return compute


def combine(count: np.ndarray, voters: int, mode: str) -> np.ndarray:
    if mode == "all":
        return count == voters
    if mode == "any":
        return count >= 1
    if mode == "majority":
        return count * 2 > voters
    raise ValueError(f"unknown signal mode {mode!r}")


def evaluate(
    bars: pd.DataFrame, indicators: dict[str, Params], mode: str, compute: Computer | None = None
) -> Evaluation:
    compute = compute or direct_computer(bars)
    votes, confirmations, values = {}, {}, {}
    for name, params in indicators.items():
        values[name], series = compute(name, params)
        (confirmations if REGISTRY[name].confirmation else votes)[name] = series

    n = len(bars)
    vote_matrix = np.vstack([s.to_numpy(dtype=float) for s in votes.values()]) if votes else np.empty((0, n))
    gate_matrix = (
        np.vstack([s.to_numpy(dtype=float) for s in confirmations.values()]) if confirmations else np.ones((0, n))
    )
    # A bar decides nothing until every indicator can be computed on it (no votes from warm-up NaNs),
    # except that a confirmation still warming up holds back entries only: it never gates an exit.
    voted = ~np.isnan(vote_matrix).any(axis=0)
    ready = voted & ~np.isnan(gate_matrix).any(axis=0)
    buys = combine((vote_matrix == BUY).sum(axis=0), len(votes), mode) & ready
    sells = combine((vote_matrix == SELL).sum(axis=0), len(votes), mode) & voted
    confirmed = (gate_matrix == 1.0).all(axis=0)
    # Conflicting signals never open a position; a sell signal still closes one.
    entry = buys & ~sells & confirmed
    return Evaluation(bars, votes, confirmations, values, ready, entry, sells)


@dataclass(frozen=True)
class Signal:
    ready: bool
    entry: bool
    exit: bool
    votes: dict[str, str]
    reasons: list[str]
    snapshot: dict[str, float]


_VOTE_NAMES = {BUY: "buy", SELL: "sell", 0.0: "none"}


def signal_at(evaluation: Evaluation, index: int) -> Signal:
    """The signal of bar `index` (negative counts from the end), with its reasons and the values that decided."""
    columns = evaluation.columns
    position = index % len(columns.close)
    snapshot = {"close": round(float(columns.close[position]), 6)}
    for key, values in columns.values:
        value = float(values[position])
        if not math.isnan(value):
            snapshot[key] = round(value, 6)
    votes, reasons = {}, []
    for name, series in columns.votes:
        value = float(series[position])
        if math.isnan(value):
            votes[name] = "warming up"
        elif REGISTRY[name].confirmation:
            votes[name] = "confirms" if value == 1.0 else "does not confirm"
        else:
            votes[name] = _VOTE_NAMES[value]
        reasons.append(f"{name}: {votes[name]}")
    return Signal(
        ready=bool(evaluation.ready[position]),
        entry=bool(evaluation.entry[position]),
        exit=bool(evaluation.exit[position]),
        votes=votes,
        reasons=reasons,
        snapshot=snapshot,
    )
