from datetime import UTC, datetime
from decimal import Decimal

import pytest

from brokers.base import OrderResult
from positions.models import Position
from tests.factories import PositionFactory, TradeFactory
from trades.services import trade_apply_result

pytestmark = pytest.mark.django_db

FILLED_AT = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)


def sell_result(trade, *, quantity: int, price: str, commission: str = "1") -> OrderResult:
    return OrderResult(
        order_id="b7a1c0de-0000-4000-8000-000000000001",
        client_order_id=trade.client_order_id,
        symbol=trade.symbol,
        side="sell",
        quantity=trade.quantity,
        status="filled",
        filled_quantity=quantity,
        filled_price=Decimal(price),
        filled_at=FILLED_AT,
        commission=Decimal(commission),
    )


def pending_sell(position, quantity: int):
    return TradeFactory(
        bot=position.bot,
        symbol=position.symbol,
        type="sell",
        quantity=quantity,
        price=None,
        status="pending",
        indicators_snapshot={"close": 82.0},
    )


def test_a_sell_filled_in_full_closes_the_position_with_the_round_trips_pnl():
    position = PositionFactory(quantity=12, entry_price=Decimal("80"), entry_commission=Decimal("1.20"))
    trade = pending_sell(position, 12)

    trade = trade_apply_result(trade=trade, result=sell_result(trade, quantity=12, price="82"))

    assert trade.profit_loss == Decimal("21.8")  # (82 - 80) x 12 - 1.20 - 1
    position.refresh_from_db()
    assert not position.is_open and position.exit_price == Decimal("82") and position.realized_pnl == Decimal("21.8")


def test_a_sell_filled_in_part_leaves_the_rest_of_the_position_open():
    position = PositionFactory(quantity=12, entry_price=Decimal("80"), entry_commission=Decimal("1.20"))
    trade = pending_sell(position, 12)

    trade = trade_apply_result(trade=trade, result=sell_result(trade, quantity=5, price="82"))

    # 5 of 12 shares sold: (82 - 80) x 5 - 5/12 of the 1.20 entry commission - 1 = 8.5
    assert (trade.quantity, trade.profit_loss) == (5, Decimal("8.5"))
    position = Position.objects.get(pk=position.pk)
    assert position.is_open and position.quantity == 7
    assert position.entry_commission == Decimal("0.7")
    assert position.realized_pnl == Decimal("8.5")


def test_applying_the_same_fill_twice_changes_nothing():
    position = PositionFactory(quantity=12, entry_price=Decimal("80"))
    trade = pending_sell(position, 12)
    result = sell_result(trade, quantity=12, price="82")
    trade_apply_result(trade=trade, result=result)

    again = trade_apply_result(trade=trade, result=result)

    assert again.profit_loss == Decimal("23")
    assert Position.objects.get(pk=position.pk).realized_pnl == Decimal("23")
