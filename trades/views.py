"""The trades page: a filterable, paginated table; new fills arrive live on the unfiltered first page."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bots.models import Bot
from trades.models import Trade

PAGE_SIZE = 50


class TradeFilterForm(forms.Form):
    bot = forms.ModelChoiceField(queryset=Bot.objects.none(), required=False, empty_label="All bots")
    symbol = forms.CharField(required=False, max_length=16, widget=forms.TextInput(attrs={"size": 8, "placeholder": "AAPL"}))
    type = forms.ChoiceField(choices=[("", "Buy and sell"), *Trade.Type.choices], required=False, label="Side")
    status = forms.ChoiceField(choices=[("", "Any status"), *Trade.Status.choices], required=False)
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bot"].queryset = Bot.objects.for_user(user)

    def filter(self, trades: QuerySet) -> QuerySet:
        """The trades matching the valid filters; dates are New York calendar days."""
        data = self.cleaned_data
        if data.get("bot"):
            trades = trades.filter(bot=data["bot"])
        if data.get("symbol"):
            trades = trades.filter(symbol=data["symbol"].strip().upper())
        if data.get("type"):
            trades = trades.filter(type=data["type"])
        if data.get("status"):
            trades = trades.filter(status=data["status"])
        if data.get("since"):
            trades = trades.filter(timestamp__gte=_exchange_midnight(data["since"]))
        if data.get("until"):
            trades = trades.filter(timestamp__lt=_exchange_midnight(data["until"], days_after=1))
        return trades


def _exchange_midnight(day: date, days_after: int = 0) -> datetime:
    return datetime.combine(date.fromordinal(day.toordinal() + days_after), time(), ZoneInfo(settings.EXCHANGE_TIME_ZONE))


@login_required
def trade_list(request: HttpRequest) -> HttpResponse:
    filters = TradeFilterForm(request.GET, user=request.user)
    trades = Trade.objects.for_user(request.user).order_by("-timestamp", "-id")
    if filters.is_valid():
        trades = filters.filter(trades)
    page = Paginator(trades, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        # Live rows are only prepended where they belong: the newest page without filters.
        "tbody_id": "trade-rows" if page.number == 1 and not any(query.values()) else "",
    }
    template = "trades/trade_list.html#results" if request.htmx else "trades/trade_list.html"
    return render(request, template, context)
