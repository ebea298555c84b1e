"""Sending orders: write the pending trade, ask the broker, record its answer. The one path every
order takes, from a tick or from a person closing a position."""

import logging
from datetime import datetime

from django.utils import timezone

from bots.models import Bot
from tradebot.brokers.base import Broker, OrderRejected, OrderRequest, OrderResult
from trades.models import Trade
from trades.services import trade_apply_result, trade_record_pending

logger = logging.getLogger(__name__)


def order_send(
    *,
    bot: Bot,
    broker: Broker,
    symbol: str,
    side: str,
    quantity: int,
    client_order_id: str,
    bar_time: datetime | None,
    reason: str,
    snapshot: dict,
) -> Trade | None:
    """Place one order exactly once. None when this client order id was already recorded (the order
    belongs to an earlier or concurrent attempt). BrokerError propagates with the trade left pending
    for the next tick to repair."""
    trade = trade_record_pending(
        bot=bot,
        symbol=symbol,
        side=side,
        quantity=quantity,
        client_order_id=client_order_id,
        timestamp=timezone.now(),
        bar_time=bar_time,
        reason=reason,
        snapshot=snapshot,
    )
    if trade is None:
        return None
    return trade_apply_result(trade=trade, result=_submit(broker, trade))


def orders_repair(*, bot: Bot, broker: Broker) -> list[Trade]:
    """Settle the bot's pending trades with the broker: an order it has is recorded as it stands; one it
    never received is sent now, under the same client order id (so it can never be placed twice).
    Returns the trades as they now stand (some may still be pending at the broker)."""
    repaired = []
    for trade in Trade.objects.filter(bot=bot, status=Trade.Status.PENDING).order_by("timestamp"):
        result = broker.get_order(trade.client_order_id)
        if result is None:
            logger.warning("order %s never reached the broker: sending it now", trade.client_order_id)
            result = _submit(broker, trade)
        repaired.append(trade_apply_result(trade=trade, result=result))
    return repaired


def _submit(broker: Broker, trade: Trade) -> OrderResult:
    request = OrderRequest(trade.symbol, trade.type, trade.quantity, trade.client_order_id)
    try:
        return broker.submit_order(request)
    except OrderRejected as exc:
        return OrderResult(
            order_id="",
            client_order_id=trade.client_order_id,
            symbol=trade.symbol,
            side=trade.type,
            quantity=trade.quantity,
            status="failed",
            message=str(exc),
        )
