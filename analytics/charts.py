"""Realized P&L per day as a chart (tradebot.charts) with a daily / cumulative toggle: the analytics
page's and the trades page's."""

from datetime import date
from decimal import Decimal

from analytics import selectors
from tradebot.charts import series, series_chart

TOGGLES = {
    "cumulative": {"label": "Cumulative", "show": "cumulative"},
    "daily": {"label": "Daily", "show": "daily"},
}


def pnl_chart(element_id: str, days: list[date], pnls: list[Decimal], *, first: str) -> dict:
    """{"chart", "toggles"} for templates/charts/series_chart.html; `first` ("daily" or "cumulative")
    is shown, the other a click away."""
    times = [selectors.epoch_day(day) for day in days]
    running = selectors.cumulative(days, dict(zip(days, pnls, strict=True)))
    lines = {
        "cumulative": series("cumulative", times, running, type="baseline", hidden=first != "cumulative"),
        "daily": series("daily", times, pnls, type="histogram", hidden=first != "daily"),
    }
    order = [first, *(name for name in lines if name != first)]
    return {
        "chart": series_chart(element_id, *(lines[name] for name in order), daily=True),
        "toggles": [TOGGLES[name] for name in order],
    }
