"""Backtest pages: the form, the list, one result (a live progress bar while it runs), two side by side.

Thin like the other pages: parse input, call backtests.services, render (a partial for HTMX).
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django_htmx.http import HttpResponseClientRefresh

from backtests.models import Backtest
from backtests.services import backtest_create
from bots.forms import PrettyJSONField, SymbolsField
from bots.models import Bot
from bots.services import parse_config
from engine.config import EXAMPLE_CONFIG, BotConfig
from engine.market_time import TIMEFRAMES, exchange_date
from tradebot.charts import series, series_chart
from tradebot.errors import Invalid, LimitReached

PAGE_SIZE = 50
TRADES_PER_PAGE = 50  # a result shows its fills a page at a time; the API returns them all
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class StatRow:
    key: str
    label: str
    unit: str = ""  # "%", or nothing for dollars (as everywhere on the dashboard), counts and ratios
    signed: bool = False  # shown green above zero, red below
    places: str = "2g"  # floatformat's argument


STATS = (
    StatRow("return_pct", "Return", "%", signed=True),
    StatRow("buy_and_hold_return_pct", "Buy and hold", "%", signed=True),
    StatRow("trades", "Trades (closed)", places="0g"),
    StatRow("win_rate_pct", "Win rate", "%"),
    StatRow("profit_factor", "Profit factor"),
    StatRow("expectancy", "Expectancy per trade", signed=True),
    StatRow("max_drawdown_pct", "Max drawdown", "%", signed=True),
    StatRow("sharpe_ratio", "Sharpe ratio"),
    StatRow("sortino_ratio", "Sortino ratio"),
    StatRow("exposure_time_pct", "Exposure time", "%"),
    StatRow("final_equity", "Final equity"),
)


class OptionalJSONField(PrettyJSONField):
    """Left empty, it shows empty (with its placeholder), not the word null."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class BacktestForm(forms.Form):
    bot = forms.ModelChoiceField(
        queryset=Bot.objects.none(),
        required=False,
        empty_label="None: run the configuration below",
        help_text=(
            "Its saved configuration runs unless you paste one below; its broker account's costs are the defaults."
        ),
    )
    config = OptionalJSONField(
        required=False,
        label="Configuration (JSON)",
        help_text="An unsaved configuration in the bots API's shape; empty runs the chosen bot's.",
    )
    symbols = SymbolsField(required=False, help_text="Default: the configuration's, e.g. AAPL, MSFT")
    timeframe = forms.ChoiceField(
        choices=[("", "The configuration's"), *((timeframe, timeframe) for timeframe in TIMEFRAMES)], required=False
    )
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="First session day (New York)")
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Last session day (New York)")
    capital = forms.DecimalField(required=False, help_text="Default: the configuration's")
    slippage = forms.DecimalField(
        required=False, help_text="Fraction of the price; default: the bot's account's, else 0.0005"
    )
    commission = forms.DecimalField(required=False, help_text="Dollars per order; default: the bot's account's, else 0")

    # Service errors name the service's arguments; these are the form fields they belong to.
    FIELD_OF = {"bot_id": "bot"}

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bot"].queryset = Bot.objects.for_user(owner)
        self.fields["config"].widget.attrs["placeholder"] = json.dumps(EXAMPLE_CONFIG, indent=2)

    def clean_config(self) -> BotConfig | None:
        data = self.cleaned_data["config"]
        if data is None:
            return None
        try:
            return parse_config(data)
        except Invalid as exc:
            raise forms.ValidationError([_located(error) for error in exc.errors]) from None

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        arguments = {name: data[name] or None for name in ("bot", "config", "symbols", "timeframe")}
        arguments.update({name: data[name] for name in ("start", "end", "capital", "slippage", "commission")})
        return arguments

    def add_service_errors(self, errors: list[dict]) -> None:
        for error in errors:
            head = error["field"].split(".")[0]
            name = self.FIELD_OF.get(head, head)
            message = _located(error) if "." in error["field"] else error["message"]
            self.add_error(name if name in self.fields else None, message)


def _located(error: dict) -> str:
    path = error["field"]
    return error["message"] if path == "__all__" else f"{path}: {error['message']}"


def _backtests(request: HttpRequest):
    return Backtest.objects.for_user(request.user)


@login_required
def backtest_new(request: HttpRequest) -> HttpResponse:
    yesterday = exchange_date(timezone.now()) - timedelta(days=1)
    initial = {"start": yesterday - timedelta(days=DEFAULT_DAYS - 1), "end": yesterday, "bot": request.GET.get("bot")}
    form = BacktestForm(request.POST or None, owner=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            backtest = backtest_create(owner=request.user, **form.service_arguments())
        except Invalid as exc:
            form.add_service_errors(exc.errors)
        except LimitReached as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("backtests:detail", pk=backtest.pk)
    return render(request, "backtests/backtest_form.html", {"form": form})


@login_required
def backtest_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(_backtests(request).summaries().select_related("bot"), PAGE_SIZE).get_page(request.GET.get("page"))
    for backtest in page.object_list:
        backtest.numbers = {row.key: _stat_value(backtest, row) for row in STATS}
    context = {"page": page, "backtests": page.object_list, "unfinished": any(not b.finished for b in page.object_list)}
    if request.htmx:
        return render(request, "backtests/backtest_list.html#backtest_table", context)
    return render(request, "backtests/backtest_list.html", context)


@login_required
def backtest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if request.htmx:
        # The progress bar polls here: the small columns only, and the whole page once the run ends.
        backtest = get_object_or_404(_backtests(request).summaries(), pk=pk)
        if backtest.finished:
            return HttpResponseClientRefresh()
        return render(request, "backtests/backtest_detail.html#progress", {"backtest": backtest})
    backtest = get_object_or_404(_backtests(request).select_related("bot"), pk=pk)
    trades = Paginator(backtest.trades, TRADES_PER_PAGE).get_page(request.GET.get("trades_page"))
    context = {
        "backtest": backtest,
        "stats": _stat_values(backtest),
        "equity": _equity_chart(backtest, "equity"),
        "charts": _price_charts(backtest),
        "trades_page": trades,
        "trades": [_parsed(trade) for trade in trades.object_list],
        "open_positions": [_parsed(position) for position in backtest.open_positions],
    }
    return render(request, "backtests/backtest_detail.html", context)


@login_required
def backtest_compare(request: HttpRequest) -> HttpResponse:
    ids = request.GET.getlist("ids")
    chosen = {
        str(b.pk): b
        for b in _backtests(request)
        .filter(pk__in=[i for i in ids if i.isdigit()])
        .defer("trades", "prices", "open_positions")
    }
    if len(ids) != 2 or len(chosen) != 2:
        messages.error(request, "Choose two of your backtests to compare.")
        return redirect("backtests:list")
    pair = [chosen[i] for i in ids]
    rows = [(row, [_stat_value(backtest, row) for backtest in pair]) for row in STATS]
    charts = [_equity_chart(backtest, f"equity-{n}") for n, backtest in enumerate(pair)]
    context = {"pair": list(zip(pair, charts, strict=True)), "rows": rows}
    return render(request, "backtests/backtest_compare.html", context)


def _stat_value(backtest: Backtest, row: StatRow) -> Decimal | None:
    value = backtest.stats.get(row.key)
    return None if value is None else Decimal(str(value))


def _stat_values(backtest: Backtest) -> list[tuple[StatRow, Decimal | None]]:
    return [(row, _stat_value(backtest, row)) for row in STATS]


def _equity_chart(backtest: Backtest, element_id: str) -> dict:
    """The equity curve over its drawdown below the running peak (percent), in a pane beneath."""
    curve = backtest.equity_curve
    times = curve.get("time", [])
    return series_chart(
        f"{element_id}-{backtest.pk}",
        series("equity", times, curve.get("equity", []), type="area"),
        series(
            "drawdown %",
            times,
            [round(100 * fraction, 4) for fraction in curve.get("drawdown", [])],
            type="area",
            pane=1,
            color="#dc2626",
        ),
    )


def _price_charts(backtest: Backtest) -> list[dict]:
    """Each symbol's closes with the fills marked on their bars."""
    return [
        series_chart(
            f"price-{slugify(symbol)}",
            series(symbol, points["time"], points["close"], markers=_fill_markers(points)),
        )
        for symbol, points in backtest.prices.items()
    ]


def _fill_markers(points: dict) -> list[dict]:
    return [
        {"time": moment, "side": side, "price": price}
        for side in ("buy", "sell")
        for moment, price in zip(points["time"], points[side], strict=True)
        if price is not None
    ]


# Stored rows hold money as decimal strings and times as ISO 8601 strings (JSON has neither type).
MONEY_FIELDS = {
    "price",
    "commission",
    "profit_loss",
    "entry_price",
    "last_price",
    "market_value",
    "unrealized_pnl",
    "stop_loss_price",
    "take_profit_price",
}
TIME_FIELDS = {"timestamp", "bar_time", "opened_at"}


def _parsed(row: dict) -> dict:
    """A stored trade or position with its money as Decimal and its times as datetimes, for the templates."""
    parsed = dict(row)
    for name, value in row.items():
        if value is not None and name in MONEY_FIELDS:
            parsed[name] = Decimal(value)
        elif value is not None and name in TIME_FIELDS:
            parsed[name] = datetime.fromisoformat(value)
    return parsed
