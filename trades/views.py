"""The trades page: a filterable, sortable, paginated table with the statistics of the filtered rows, each
trade's detail, and the CSV export of what is shown. New fills arrive live on the default first page."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from trades import selectors
from trades.export import csv_response
from trades.forms import TradeFilterForm
from trades.models import Trade

PAGE_SIZE = 50
# The sortable columns: header label -> the ordering its first click asks for.
SORTABLE = {"time": "-timestamp", "symbol": "symbol", "quantity": "-quantity", "price": "-price", "pnl": "-profit_loss"}


def _sort_links(query, current: str) -> dict[str, dict]:
    """Per sortable column: the URL query that sorts by it (a second click reverses it) and its arrow."""
    links = {}
    for column, first in SORTABLE.items():
        field = first.lstrip("-")
        active = current.lstrip("-") == field
        wanted = (current[1:] if current.startswith("-") else f"-{field}") if active else first
        params = query.copy()
        params["sort"] = wanted
        arrow = ("▼" if current.startswith("-") else "▲") if active else ""
        links[column] = {"column": column, "query": params.urlencode(), "arrow": arrow, "active": active}
    return links


@login_required
def trade_list(request: HttpRequest) -> HttpResponse:
    filters = TradeFilterForm(request.GET, user=request.user)
    valid = filters.is_valid()
    # A bad filter is said on its field and shows no rows: never the unfiltered table instead.
    trades = selectors.trade_list(user=request.user, **filters.selector_filters()) if valid else Trade.objects.none()
    page = Paginator(trades, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort = filters.sort_value
    context = {
        "filters": filters,
        "page": page,
        "trades": trades,
        "stats": selectors.trade_stats(trades) if valid else None,
        "query": query.urlencode(),
        "sort_links": _sort_links(query, sort),
        # Live rows are only prepended where they belong: the newest page without filters or another sort.
        "tbody_id": "trade-rows" if page.number == 1 and not any(query.values()) else "",
        "page_size": PAGE_SIZE,
        "current_sort": filters.cleaned_data.get("sort", "") if valid else "",
    }
    template = "trades/trade_list.html#results" if request.htmx else "trades/trade_list.html"
    return render(request, template, context)


@login_required
def trade_export(request: HttpRequest) -> HttpResponse:
    """The trades the page shows, every page of them, as CSV; a bad filter exports nothing and says why."""
    filters = TradeFilterForm(request.GET, user=request.user)
    if not filters.is_valid():
        return HttpResponse("\n".join(filters.error_list()), status=400, content_type="text/plain; charset=utf-8")
    return csv_response(selectors.trade_list(user=request.user, **filters.selector_filters()))


@login_required
def trade_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One trade: its own page, or the body of the trades page's dialog when asked by htmx."""
    trade = get_object_or_404(Trade.objects.for_user(request.user), pk=pk)
    template = "trades/trade_detail.html#detail" if request.htmx else "trades/trade_detail.html"
    return render(request, template, {"trade": trade})
