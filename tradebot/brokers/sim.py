"""The built-in paper broker: fills market orders at the feed's latest price, plus slippage and commission.

It keeps no state of its own: an order's record is its Trade row, found by client order id.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from engine.risk import to_price
from tradebot.brokers.base import AccountInfo, BrokerPosition, OrderRequest, OrderResult
from tradebot.market.base import MarketData

ORDER_NAMESPACE = uuid.UUID("6f0c1d1e-8a3b-4d52-9d0e-2f8e6c1b7a10")


class SimBroker:
    def __init__(self, account, *, market: MarketData, clock: Callable[[], datetime] = timezone.now):
        self.account_id = account.pk
        self.market = market
        self.slippage: Decimal = account.sim_slippage
        self.commission: Decimal = account.sim_commission
        self.clock = clock

    def submit_order(self, order: OrderRequest) -> OrderResult:
        if existing := self.get_order(order.client_order_id):
            return existing
        at = self.clock()
        quote = self.market.latest_price(order.symbol, at=at)
        direction = 1 if order.side == "buy" else -1
        price = to_price(quote * (1 + direction * self.slippage))
        return OrderResult(
            order_id=str(uuid.uuid5(ORDER_NAMESPACE, order.client_order_id)),
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            status="filled",
            filled_quantity=order.quantity,
            filled_price=price,
            filled_at=at,
            commission=self.commission,
        )

    def get_order(self, client_order_id: str) -> OrderResult | None:
        from trades.models import Trade

        trade = Trade.objects.filter(client_order_id=client_order_id).exclude(order_id="").first()
        if trade is None:
            return None
        return OrderResult(
            order_id=trade.order_id,
            client_order_id=trade.client_order_id,
            symbol=trade.symbol,
            side=trade.type,
            quantity=trade.quantity,
            status=trade.status,
            filled_quantity=trade.quantity if trade.status == "filled" else 0,
            filled_price=trade.price,
            filled_at=trade.filled_at,
            commission=trade.commission,
        )

    def positions(self) -> list[BrokerPosition]:
        from positions.models import Position

        return [
            BrokerPosition(p.symbol, p.quantity, p.entry_price, p.current_price)
            for p in Position.objects.filter(bot__broker_account_id=self.account_id, is_open=True)
        ]

    def account(self) -> AccountInfo:
        """A paper account is as rich as the bots on it: their capital plus realized P&L, less what they hold."""
        from bots.models import Bot
        from positions.models import Position
        from trades.models import Trade

        capital = Bot.objects.filter(broker_account_id=self.account_id).aggregate(s=Sum("capital"))["s"] or Decimal(0)
        realized = Trade.objects.filter(
            bot__broker_account_id=self.account_id, status="filled", profit_loss__isnull=False
        ).aggregate(s=Sum("profit_loss"))["s"] or Decimal(0)
        held = Position.objects.filter(bot__broker_account_id=self.account_id, is_open=True)
        cost = sum((p.entry_price * p.quantity for p in held), Decimal(0))
        value = sum((p.current_price * p.quantity for p in held), Decimal(0))
        cash = capital + realized - cost
        return AccountInfo(cash=cash, buying_power=cash, equity=cash + value, status="ACTIVE")

    def cancel_order(self, order_id: str) -> None:
        """Simulated market orders fill at once: there is never anything left to cancel."""
