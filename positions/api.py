"""/api/positions: list, one position, and closing it by hand."""

from django.shortcuts import get_object_or_404
from ninja import Query, Router
from ninja.pagination import paginate
from ninja.responses import Status

from bots.orders import position_close
from positions.models import Position
from positions.schemas import PositionCloseOut, PositionOut, PositionQuery
from tradebot.api_types import Id, Pagination
from tradebot.errors import Conflict
from trades.models import Trade

router = Router(tags=["positions"])


def _position(request, position_id: int) -> Position:
    return get_object_or_404(Position.objects.for_user(request.auth), pk=position_id)


@router.get("/positions", response=list[PositionOut])
@paginate(Pagination)
def position_list(request, query: Query[PositionQuery]):
    positions = Position.objects.for_user(request.auth).filter(is_open=query.is_open)
    if query.bot_id is not None:
        positions = positions.filter(bot_id=query.bot_id)
    if query.symbol:
        positions = positions.filter(symbol=query.symbol.upper())
    return positions.order_by(query.ordering, "-id" if query.ordering.startswith("-") else "id")


@router.get("/positions/{id}", response=PositionOut)
def position_detail(request, id: Id):
    return _position(request, id)


@router.post("/positions/{id}/close", response={200: PositionCloseOut, 202: PositionCloseOut})
def position_close_view(request, id: Id):
    """200 when the sell filled; 202 when the broker took it and has not filled it yet (the position
    closes when it does); 409 with the broker's reason when it refused or cancelled it; 502 when the
    broker could not be reached (the order is looked up again until it settles)."""
    position = _position(request, id)
    trade = position_close(position=position, reason="closed through the API")
    if trade.broker_refusal:
        raise Conflict(f"the close of {trade.symbol} did not happen: {trade.broker_refusal}")
    position.refresh_from_db()
    return Status(200 if trade.status == Trade.Status.FILLED else 202, {"position": position, "trade": trade})
