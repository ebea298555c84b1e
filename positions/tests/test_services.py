from decimal import Decimal

import pytest
from django.utils import timezone

from bots.orders import position_close
from positions.models import Position
from positions.services import position_mark
from tests.factories import PositionFactory, TradeFactory
from tradebot.errors import Conflict
from trades.models import Trade

pytestmark = pytest.mark.django_db


def test_closing_a_closed_position_is_a_conflict():
    position = PositionFactory(is_open=False, closed_at=timezone.now())
    with pytest.raises(Conflict, match="already closed"):
        position_close(position=position)
    assert not Trade.objects.exists()


def test_a_position_whose_bot_is_gone_cannot_be_closed_through_it():
    position = PositionFactory()
    position.bot = None
    with pytest.raises(Conflict, match="bot no longer exists"):
        position_close(position=position)
    assert not Trade.objects.exists()


def test_closing_by_hand_while_the_bots_sell_is_pending_is_refused():
    position = PositionFactory(quantity=12)
    TradeFactory(bot=position.bot, symbol=position.symbol, type="sell", quantity=12, price=None, status="pending")

    with pytest.raises(Conflict, match="still pending"):
        position_close(position=position)

    assert Trade.objects.filter(type="sell").count() == 1
    position.refresh_from_db()
    assert position.is_open and position.quantity == 12


def test_marking_counts_the_shares_held_now_not_when_the_position_was_read():
    position = PositionFactory(quantity=12, entry_price=Decimal("80"), entry_commission=Decimal("1.20"))
    read_by_the_mark_task = Position.objects.get(pk=position.pk)
    # A partial sell fills meanwhile: 7 shares and 0.70 of the entry commission are left.
    Position.objects.filter(pk=position.pk).update(quantity=7, entry_commission=Decimal("0.7"))

    position_mark(position=read_by_the_mark_task, price=Decimal("82"))

    assert Position.objects.get(pk=position.pk).unrealized_pnl == Decimal("13.3")  # (82 - 80) x 7 - 0.70


def test_a_close_the_broker_refused_can_be_tried_again_but_a_sent_one_cannot():
    position = PositionFactory(quantity=12)
    base = f"tb-{position.bot_id}-{position.symbol}-sell-close-{position.pk}"
    TradeFactory(
        bot=position.bot,
        symbol=position.symbol,
        type="sell",
        quantity=12,
        price=None,
        status="failed",
        client_order_id=base,
    )

    trade = position_close(position=position)

    assert (trade.client_order_id, trade.status) == (f"{base}-2", "filled")
    position.refresh_from_db()
    assert not position.is_open
    with pytest.raises(Conflict, match="already closed"):
        position_close(position=position)
