"""The order path (bots.orders): every order, a tick's or a person's, checked against the bot's book
under its row lock before it is written ahead and sent."""

import pytest

from bots.connections import broker_for, market_for
from bots.orders import order_send
from tests.factories import PositionFactory
from tests.test_alpaca_ticks import START as FILLED_AT
from tradebot.errors import Conflict
from trades.models import Trade

pytestmark = pytest.mark.django_db


def record(position, *, side: str, quantity: int, client_order_id: str):
    account = position.bot.broker_account
    return order_send(
        bot=position.bot,
        broker=broker_for(account, market_for(account)),
        symbol=position.symbol,
        side=side,
        quantity=quantity,
        client_order_id=client_order_id,
        bar_time=None,
        reason="test",
        snapshot={"close": 82.0},
    )


def test_no_order_sells_more_shares_than_the_position_holds_or_buys_while_holding():
    position = PositionFactory(quantity=12)

    with pytest.raises(Conflict, match="holds 12"):
        record(position, side="sell", quantity=13, client_order_id="tb-x-sell-1")
    with pytest.raises(Conflict, match="already holds"):
        record(position, side="buy", quantity=1, client_order_id="tb-x-buy-1")
    position.is_open, position.closed_at = False, FILLED_AT
    position.save()
    with pytest.raises(Conflict, match="holds no"):
        record(position, side="sell", quantity=12, client_order_id="tb-x-sell-2")

    assert not Trade.objects.exists()
