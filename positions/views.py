"""The positions page (open or closed) and closing a position by hand."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from bots.orders import position_close
from bots.selectors import mismatches_open
from positions.models import Position
from tradebot.errors import Conflict

PAGE_SIZE = 50


@login_required
def position_list(request: HttpRequest) -> HttpResponse:
    state = "closed" if request.GET.get("state") == "closed" else "open"
    positions = Position.objects.for_user(request.user).filter(is_open=state == "open")
    if state == "closed":
        positions = positions.order_by("-closed_at", "-id")
    page = Paginator(positions, PAGE_SIZE).get_page(request.GET.get("page"))
    # New positions arrive live in the open table only.
    tbody_id = "open-position-rows" if state == "open" else ""
    context = {
        "positions": page.object_list,
        "page": page,
        "state": state,
        "tbody_id": tbody_id,
        "mismatches": mismatches_open(user=request.user),
    }
    return render(request, "positions/position_list.html", context)


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
    if not request.htmx:
        return redirect("positions:list")
    position.refresh_from_db()
    return render(request, "positions/position_list.html#position_row_response", {"position": position})
