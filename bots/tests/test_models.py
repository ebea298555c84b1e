from decimal import Decimal

import pytest
from django.db import IntegrityError

from tests.factories import BotFactory, PositionFactory, TradeFactory


@pytest.mark.django_db
def test_a_bot_keeps_the_design_configuration_verbatim():
    bot = BotFactory()
    assert bot.config().symbols == ["AAPL", "MSFT", "GOOGL"]
    assert bot.indicators["MACD"] == {"fast": 12, "slow": 26, "signal": 9}
    assert bot.capital == Decimal("10000")


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_position_for_the_same_bot_and_symbol():
    position = PositionFactory()
    with pytest.raises(IntegrityError):
        PositionFactory(bot=position.bot, symbol=position.symbol)


@pytest.mark.django_db
def test_the_database_refuses_a_second_trade_with_the_same_client_order_id():
    trade = TradeFactory(client_order_id="tb-1-AAPL-buy-202401021430")
    with pytest.raises(IntegrityError):
        TradeFactory(bot=trade.bot, client_order_id="tb-1-AAPL-buy-202401021430")


@pytest.mark.django_db
def test_trades_are_never_deleted():
    trade = TradeFactory()
    with pytest.raises(PermissionError):
        trade.delete()
    with pytest.raises(PermissionError):
        type(trade).objects.all().delete()
