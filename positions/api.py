"""/api/positions: list, one position, and closing it by hand."""

from django.shortcuts import get_object_or_404
from ninja import Query, Router
from ninja.pagination import paginate

from bots.orders import position_close
from positions.models import Position
from positions.schemas import PositionCloseOut, PositionOut, PositionQuery
from tradebot.api_types import Id, Pagination

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


@router.post("/positions/{id}/close", response=PositionCloseOut)
def position_close_view(request, id: Id):
    position = _position(request, id)
    trade = position_close(position=position, reason="closed through the API")
    position.refresh_from_db()
    return {"position": position, "trade": trade}
