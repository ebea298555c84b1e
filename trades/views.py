"""The trades page: a filterable, paginated table; new fills arrive live on the unfiltered first page."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bots.models import Bot
from trades import selectors
from trades.models import Trade

PAGE_SIZE = 50


class TradeFilterForm(forms.Form):
    """The page's filters, handed to the same selector as the API's and the export's."""

    bot = forms.ModelChoiceField(queryset=Bot.objects.none(), required=False, empty_label="All bots")
    symbol = forms.CharField(
        required=False, max_length=16, widget=forms.TextInput(attrs={"size": 8, "placeholder": "AAPL"})
    )
    type = forms.ChoiceField(choices=[("", "Buy and sell"), *Trade.Type.choices], required=False, label="Side")
    status = forms.ChoiceField(choices=[("", "Any status"), *Trade.Status.choices], required=False)
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bot"].queryset = Bot.objects.for_user(user)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            self.add_error("until", "must not be before From")
        return cleaned

    def selector_filters(self) -> dict:
        """The valid filters as trades.selectors.trade_list takes them (dates are New York trading days)."""
        data = self.cleaned_data
        return {
            "bot_id": data["bot"].pk if data.get("bot") else None,
            "symbol": data.get("symbol", "").strip() or None,
            "type": data.get("type") or None,
            "status": data.get("status") or None,
            "start": data.get("since"),
            "end": data.get("until"),
        }


@login_required
def trade_list(request: HttpRequest) -> HttpResponse:
    filters = TradeFilterForm(request.GET, user=request.user)
    # A bad filter is said on its field and shows no rows: never the unfiltered table instead.
    trades = (
        selectors.trade_list(user=request.user, **filters.selector_filters())
        if filters.is_valid()
        else Trade.objects.none()
    )
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
