"""The data shape of a time series chart (static/js/charts.js draws it with Lightweight Charts, the
app's one chart library): series of {time, value} points in epoch seconds, each a line, an area, a
baseline (green above zero, red below) or a histogram, in the main pane or one below it.

Pages build these in their views and put them on the page with templates/charts/series_chart.html."""

from collections.abc import Iterable, Sequence

SERIES_TYPES = ("line", "area", "baseline", "histogram")


def series(
    label: str,
    times: Sequence[int],
    values: Iterable[float | None],
    *,
    type: str = "line",
    pane: int = 0,
    color: str | None = None,
    markers: list[dict] | None = None,
    hidden: bool = False,
) -> dict:
    """One series; points without a value are left out (a gap). `markers`: [{time, side, price}]."""
    if type not in SERIES_TYPES:
        raise ValueError(f"unknown series type {type!r}")
    return {
        "label": label,
        "type": type,
        "pane": pane,
        "color": color,
        "hidden": hidden,
        "data": [{"time": t, "value": float(v)} for t, v in zip(times, values, strict=True) if v is not None],
        "markers": markers or [],
    }


def series_chart(element_id: str, *series_list: dict, daily: bool = False) -> dict:
    """A chart of the given series; `daily` when each point is a day (the axis shows dates only)."""
    return {"id": element_id, "daily": daily, "series": list(series_list)}
