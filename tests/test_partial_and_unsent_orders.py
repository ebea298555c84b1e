"""Orders the broker fills in part, and orders that never reached it: the books say what happened (the
real alpaca-py client against the stand-in)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from bots import services
from bots.maintenance import pending_orders_settle
from bots.ticks import bot_tick
from positions.models import Position
from tests.factories import BotFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG, START, falling_bars, fast_retries  # noqa: F401
from trades.models import Trade

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]


@pytest.fixture
def market(alpaca_stub):
    alpaca_stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
    alpaca_stub.load_bars("TEST", "1Min", falling_bars())
    alpaca_stub.set_price("TEST", "80")
    alpaca_stub.accept_without_fill = True
    return alpaca_stub


@pytest.fixture
def bot(alpaca_account):
    return services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))


def test_a_buy_filled_in_part_and_left_so_holds_the_shares_it_got(market, bot):
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    [order] = market.orders
    assert order["qty"] == "12"

    # Alpaca fills 4 of the 12 and keeps the rest working (partially_filled is not a final state).
    market.update_order(order["client_order_id"], status="partially_filled", filled_qty="4", filled_avg_price="80.5")
    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=1))

    trade = Trade.objects.get(bot=bot)
    assert (trade.status, trade.filled_quantity, trade.price) == ("pending", 4, Decimal("80.5"))
    position = Position.objects.get(bot=bot, is_open=True)
    assert (position.quantity, position.entry_price) == (4, Decimal("80.5"))
    assert position.stop_loss_price == Decimal("78.89")  # 2 % under the price actually paid

    # More fills, then the broker ends the order with 8 of 12: the books hold 8 at the average price.
    market.update_order(order["client_order_id"], status="partially_filled", filled_qty="8", filled_avg_price="80.25")
    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=2))
    assert Position.objects.get(bot=bot, is_open=True).quantity == 8
    market.update_order(order["client_order_id"], status="canceled", filled_qty="8", filled_avg_price="80.25")
    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=3))

    trade.refresh_from_db()
    assert (trade.status, trade.quantity, trade.filled_quantity) == ("filled", 8, 8)
    assert trade.message == "Alpaca order canceled after filling 8 of 12"
    position = Position.objects.get(bot=bot, is_open=True)
    assert (position.quantity, position.entry_price) == (8, Decimal("80.25"))


def test_a_sell_filled_in_part_realizes_the_pnl_of_the_shares_sold(market, bot):
    market.accept_without_fill = False
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)  # bought 12 at 80
    market.accept_without_fill = True
    # The next bar falls through the stop; Alpaca fills 5 of 12 at 78 and then the rest at 77.
    market.load_bars("TEST", "1Min", falling_bars() + [(START + timedelta(minutes=60), 80.0, 80.1, 78.0, 78.1, 1000)])
    market.set_price("TEST", "78")
    from market.cache import clear_caches

    clear_caches()
    bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=1))
    sell = Trade.objects.get(bot=bot, type="sell")
    market.update_order(sell.client_order_id, status="partially_filled", filled_qty="5", filled_avg_price="78")
    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=2))

    sell.refresh_from_db()
    assert (sell.status, sell.filled_quantity, sell.profit_loss) == ("pending", 5, Decimal("-10"))  # (78 - 80) x 5
    assert Position.objects.get(bot=bot, is_open=True).quantity == 7

    # The remaining 7 at 77: the average of all 12 is (5 x 78 + 7 x 77) / 12.
    average = (Decimal(5) * 78 + Decimal(7) * 77) / 12
    market.update_order(sell.client_order_id, status="filled", filled_qty="12", filled_avg_price=str(average))
    pending_orders_settle(now=AFTER_FALL + timedelta(minutes=3))

    sell.refresh_from_db()
    assert sell.status == "filled" and sell.quantity == 12
    assert sell.profit_loss.quantize(Decimal("0.01")) == Decimal("-31.00")  # -10 + (77 - 80) x 7
    assert not Position.objects.get(bot=bot).is_open


def test_an_order_that_never_reached_the_broker_is_cancelled_once_stale_whatever_its_side(market, bot):
    market.accept_without_fill = False
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    # A sell written ahead whose process died before sending it: Alpaca never saw it.
    position = Position.objects.get(bot=bot, is_open=True)
    unsent = Trade.objects.create(
        owner=bot.owner, bot=bot, bot_name=bot.name, symbol="TEST", type="sell", quantity=12,
        timestamp=AFTER_FALL, client_order_id="tb-never-sent", indicators_snapshot={"close": 80.0},
    )  # fmt: skip
    lookups = len(market.requests_to("/v2/orders:by_client_order_id"))

    assert pending_orders_settle(now=AFTER_FALL + timedelta(minutes=1)) == 0  # fresh: it may still be sent
    assert pending_orders_settle(now=AFTER_FALL + timedelta(minutes=3)) == 1

    unsent.refresh_from_db()
    assert unsent.status == "cancelled"
    assert unsent.message == "never reached the broker; cancelled after 3 min, too old to send at the price decided"
    assert len(market.requests_to("/v2/orders:by_client_order_id")) == lookups + 2  # no more lookups after
    assert pending_orders_settle(now=AFTER_FALL + timedelta(minutes=4)) == 0
    assert len(market.requests_to("/v2/orders:by_client_order_id")) == lookups + 2
    assert [o["side"] for o in market.orders] == ["buy"]  # never sent late
    assert Position.objects.get(pk=position.pk).is_open
    services.bot_stop(bot=bot, close_positions=False)
    with pytest.raises(Exception, match="open positions"):
        services.bot_delete(bot=bot)  # the position, not a stuck order, is what stops it now
