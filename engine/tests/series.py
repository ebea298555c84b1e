"""Small hand-made bar histories for the engine's tests."""

import pandas as pd

from engine.indicators import REGISTRY


def bars(close, *, high=None, low=None, volume=None) -> pd.DataFrame:
    """Bars from closes; high and low default to the close, volume to 100 a bar."""
    close = [float(c) for c in close]
    return pd.DataFrame(
        {
            "open": close,
            "high": [float(h) for h in high] if high is not None else close,
            "low": [float(v) for v in low] if low is not None else close,
            "close": close,
            "volume": [float(v) for v in volume] if volume is not None else [100.0] * len(close),
        }
    )


def run(name: str, history: pd.DataFrame, **params) -> tuple[dict[str, list], list]:
    """An indicator's values and vote per bar, as plain lists (NaN stays NaN)."""
    indicator = REGISTRY[name]
    validated = indicator.params(**params)
    values = indicator.compute(history, validated)
    vote = indicator.vote(values, history, validated)
    return {key: series.tolist() for key, series in values.items()}, vote.tolist()
