"""/analytics/: performance over a time range, by bot and by symbol, and each bot beside its backtest."""

from datetime import date

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from analytics import selectors
from analytics.charts import pnl_chart
from backtests.services import backtest_create
from bots.models import Bot
from engine.market_time import exchange_date
from tradebot.charts import series, series_chart
from tradebot.errors import Invalid

# Columns the breakdown tables sort by, and the attribute each reads.
SORTS = {"name": "key", "trades": "trades", "win_rate": "win_rate_pct", "pnl": "pnl", "return": "return_pct"}
COMPARED_LINES = 8  # a chart of more lines than this is unreadable: the largest by P&L


class AnalyticsForm(forms.Form):
    range = forms.ChoiceField(choices=[(name, name) for name in selectors.RANGES], required=False)
    bot_sort = forms.ChoiceField(choices=[(f"{d}{k}", k) for k in SORTS for d in ("", "-")], required=False)
    symbol_sort = forms.ChoiceField(choices=[(f"{d}{k}", k) for k in SORTS for d in ("", "-")], required=False)


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    form = AnalyticsForm(request.GET)
    if not form.is_valid():
        return render(request, "analytics/overview.html", {"form": form, "ranges": selectors.RANGES}, status=422)
    choice = {"range": "ALL", "bot_sort": "-pnl", "symbol_sort": "-pnl"} | {
        k: v for k, v in form.cleaned_data.items() if v
    }
    today = exchange_date(timezone.now())
    performance = selectors.performance(user=request.user, range_name=choice["range"], today=today)
    history = performance.history
    context = {
        "form": form,
        "choice": choice,
        "ranges": selectors.RANGES,
        "performance": performance,
        "by_bot": _sorted(performance.by_bot, choice["bot_sort"]),
        "by_symbol": _sorted(history.by_symbol, choice["symbol_sort"]),
        "pnl": pnl_chart("pnl", history.days, history.daily_pnl, first="cumulative"),
        "bot_chart": _compared("bots-pnl", history.days, history.bot_days, performance.by_bot),
        "symbol_chart": _compared("symbols-pnl", history.days, history.symbol_days, history.by_symbol),
        "drifts": selectors.drift(user=request.user, performance=performance, today=today),
    }
    return render(request, "analytics/overview.html", context)


def _sorted(rows: list, sort: str) -> list:
    attribute = SORTS[sort.lstrip("-")]
    present = [row for row in rows if getattr(row, attribute) is not None]
    missing = [row for row in rows if getattr(row, attribute) is None]
    return sorted(present, key=lambda row: getattr(row, attribute), reverse=sort.startswith("-")) + missing


def _compared(element_id: str, days: list[date], per_key: dict, rows: list) -> dict:
    """Cumulative P&L of each of the largest rows (by absolute P&L), one line each."""
    largest = sorted(rows, key=lambda row: abs(row.pnl), reverse=True)[:COMPARED_LINES]
    times = [selectors.epoch_day(day) for day in days]
    lines = [series(row.key, times, selectors.cumulative(days, per_key.get(row.key, {}))) for row in largest]
    return series_chart(element_id, *lines, daily=True)


@require_POST
@login_required
def drift_backtest(request: HttpRequest, bot_pk: int) -> HttpResponse:
    """Backtest the bot's configuration over the days the analytics page shows."""
    bot = get_object_or_404(Bot.objects.for_user(request.user), pk=bot_pk)
    back = f"{reverse('analytics:overview')}?range={request.POST.get('range', 'ALL')}#drift"
    try:
        start = date.fromisoformat(request.POST.get("start", ""))
        end = date.fromisoformat(request.POST.get("end", ""))
        backtest_create(owner=request.user, bot=bot, start=start, end=end)
    except ValueError:
        messages.error(request, "The period to backtest must be two dates (YYYY-MM-DD).")
    except Invalid as exc:
        messages.error(request, "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors))
    else:
        messages.success(request, f"Backtesting {bot.name} from {start} to {end}: the comparison shows when it ends.")
    return redirect(back)
