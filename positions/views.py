"""The positions page (open or closed, filtered, with their summary), a position's own page, and closing
a position by hand."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from bots.orders import position_close
from bots.selectors import mismatches_open
from positions import selectors
from positions.forms import PositionFilterForm
from positions.models import Position
from tradebot.errors import Conflict

PAGE_SIZE = 50


def _filtered(request: HttpRequest):
    filters = PositionFilterForm(request.GET, user=request.user)
    if not filters.is_valid():
        # A bad filter is said on its field and shows no rows: never the unfiltered table instead.
        return filters, Position.objects.none()
    data = filters.cleaned_data
    positions = selectors.position_list(
        user=request.user,
        state=filters.state_value,
        bot=data.get("bot"),
        symbol=data.get("symbol"),
        sort=data.get("sort"),
    )
    return filters, positions


@login_required
def position_list(request: HttpRequest) -> HttpResponse:
    filters, positions = _filtered(request)
    state = filters.state_value
    summary = selectors.position_summary(positions)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("part", None)
    if request.htmx and request.GET.get("part") == "summary":
        # Prices or positions moved (see static/js/live.js): the summary reloads; rows change in place.
        context = {"summary": summary, "state": state, "query": query.urlencode()}
        return render(request, "positions/position_list.html#summary", context)
    page = Paginator(positions, PAGE_SIZE).get_page(request.GET.get("page"))
    unfiltered = not any(value for key, value in query.items() if key != "state")
    context = {
        "filters": filters,
        "positions": page.object_list,
        "page": page,
        "state": state,
        "summary": summary,
        "query": query.urlencode(),
        # New positions arrive live in the open table only, unfiltered, on its first page.
        "tbody_id": "open-position-rows" if state == "open" and unfiltered and page.number == 1 else "",
        "page_size": PAGE_SIZE,
        "mismatches": mismatches_open(user=request.user),
    }
    template = "positions/position_list.html#results" if request.htmx else "positions/position_list.html"
    return render(request, template, context)


@login_required
def position_detail(request: HttpRequest, pk: int) -> HttpResponse:
    position = get_object_or_404(Position.objects.for_user(request.user), pk=pk)
    trades = position.trades.order_by("timestamp", "id")
    return render(request, "positions/position_detail.html", {"position": position, "trades": trades})


@require_POST
@login_required
def position_close_view(request: HttpRequest, pk: int) -> HttpResponse:
    position = get_object_or_404(Position.objects.for_user(request.user).select_related("bot__broker_account"), pk=pk)
    try:
        trade = position_close(position=position)
    except Conflict as exc:
        messages.error(request, f"{position.symbol}: {exc}")
    else:
        if trade.status == trade.Status.FILLED:
            messages.success(request, f"Sold {trade.quantity} {trade.symbol} at {trade.price:,.2f}.")
        elif trade.status == trade.Status.PENDING:
            messages.info(request, f"Close order for {trade.symbol} sent; the position closes when it fills.")
        else:
            messages.error(request, f"The close of {trade.symbol} did not happen: {trade.broker_refusal}")
    if request.POST.get("next") == "detail":
        # From the position's own page: back to it, reloaded whole (htmx follows HX-Redirect).
        url = reverse("positions:detail", args=[position.pk])
        response = HttpResponse(headers={"HX-Redirect": url}) if request.htmx else redirect(url)
        return response
    if not request.htmx:
        return redirect("positions:list")
    position.refresh_from_db()
    return render(request, "positions/position_list.html#position_row_response", {"position": position})
