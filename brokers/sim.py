"""The built-in paper broker: fills market orders at the feed's latest price, plus slippage and commission.

It keeps no state of its own: what it knows of its orders and holdings is the database's record of
them, read through a `Ledger` the app that owns those records gives it (bots.sim_ledger).
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from brokers.base import AccountInfo, BrokerPosition, OrderRejected, OrderRequest, OrderResult, StopRequest
from engine.risk import to_price

ORDER_NAMESPACE = uuid.UUID("6f0c1d1e-8a3b-4d52-9d0e-2f8e6c1b7a10")


class Ledger(Protocol):
    def order(self, client_order_id: str) -> OrderResult | None:
        """The order recorded under this client order id, as the broker would report it."""

    def positions(self) -> list[BrokerPosition]: ...

    def account(self) -> AccountInfo: ...


class PriceSource(Protocol):
    def latest_price(self, symbol: str, *, at: datetime) -> Decimal: ...


def _now() -> datetime:
    return datetime.now(UTC)


class SimBroker:
    def __init__(
        self,
        *,
        ledger: Ledger,
        market: PriceSource,
        slippage: Decimal,
        commission: Decimal,
        clock: Callable[[], datetime] = _now,
    ):
        self.ledger = ledger
        self.market = market
        self.slippage = slippage
        self.commission = commission
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

    def submit_stop(self, order: StopRequest) -> OrderResult:
        raise OrderRejected("the simulated broker keeps no orders resting: its stops are watched by Tradebot")

    def get_order(self, client_order_id: str) -> OrderResult | None:
        return self.ledger.order(client_order_id)

    def positions(self) -> list[BrokerPosition]:
        return self.ledger.positions()

    def open_orders(self) -> list[OrderResult]:
        """Simulated market orders fill at once: none stays open."""
        return []

    def account(self) -> AccountInfo:
        return self.ledger.account()

    def cancel_order(self, order_id: str) -> None:
        """Simulated market orders fill at once: there is never anything left to cancel."""
