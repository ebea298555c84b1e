"""/api/trades: the filtered list, one trade, statistics and the CSV export."""

from django.shortcuts import get_object_or_404
from ninja import Query, Router
from ninja.pagination import paginate

from tradebot.api_types import Id, Pagination
from trades import selectors
from trades.export import csv_response
from trades.models import Trade
from trades.schemas import TradeFilters, TradeOut, TradeQuery, TradeStatsOut

router = Router(tags=["trades"])


@router.get("/trades", response=list[TradeOut])
@paginate(Pagination)
def trade_list(request, filters: Query[TradeQuery]):
    return selectors.trade_list(user=request.auth, **filters.dict())


# Declared before /trades/{id} so "stats" and "export" are never taken for an id.
@router.get("/trades/stats", response=TradeStatsOut)
def trade_stats(request, filters: Query[TradeFilters]):
    return selectors.trade_stats(selectors.trade_list(user=request.auth, **filters.dict()))


CSV_RESPONSE = {
    "responses": {
        200: {"description": "CSV, one row per trade", "content": {"text/csv": {"schema": {"type": "string"}}}}
    }
}


@router.get("/trades/export", openapi_extra=CSV_RESPONSE)
def trade_export(request, filters: Query[TradeQuery]):
    return csv_response(selectors.trade_list(user=request.auth, **filters.dict()))


@router.get("/trades/{id}", response=TradeOut)
def trade_detail(request, id: Id):
    return get_object_or_404(Trade.objects.for_user(request.auth), pk=id)
