"""What the simulated broker knows of an account: its trades and positions in the database. A paper
account is as rich as the bots on it (their capital plus realized P&L, less what they hold)."""

from decimal import Decimal

from django.db.models import Sum

from bots.models import Bot
from brokers.base import AccountInfo, BrokerPosition, OrderResult
from positions.models import Position
from trades.models import Trade


class DatabaseLedger:
    def __init__(self, account_id: int):
        self.account_id = account_id

    def order(self, client_order_id: str) -> OrderResult | None:
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
        return [
            BrokerPosition(p.symbol, p.quantity, p.entry_price, p.current_price)
            for p in Position.objects.filter(bot__broker_account_id=self.account_id, is_open=True)
        ]

    def account(self) -> AccountInfo:
        capital = Bot.objects.filter(broker_account_id=self.account_id).aggregate(s=Sum("capital"))["s"] or Decimal(0)
        realized = Trade.objects.filter(
            bot__broker_account_id=self.account_id, status="filled", profit_loss__isnull=False
        ).aggregate(s=Sum("profit_loss"))["s"] or Decimal(0)
        held = Position.objects.filter(bot__broker_account_id=self.account_id, is_open=True)
        cost = sum((p.entry_price * p.quantity for p in held), Decimal(0))
        value = sum((p.current_price * p.quantity for p in held), Decimal(0))
        cash = capital + realized - cost
        return AccountInfo(cash=cash, buying_power=cash, equity=cash + value, status="ACTIVE")
