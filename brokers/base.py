"""The one protocol every broker speaks. Quantities are whole shares, money is Decimal, times UTC."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

Side = Literal["buy", "sell"]
# The broker's order state mapped onto our trade statuses.
OrderStatus = Literal["pending", "filled", "cancelled", "failed"]


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    quantity: int
    client_order_id: str


@dataclass(frozen=True)
class StopRequest:
    """A stop (market) sell resting at the broker until the price trades at or below `stop_price`."""

    symbol: str
    quantity: int
    stop_price: Decimal
    client_order_id: str


@dataclass(frozen=True)
class OrderResult:
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: int
    status: OrderStatus
    filled_quantity: int = 0
    filled_price: Decimal | None = None
    filled_at: datetime | None = None
    commission: Decimal = Decimal(0)
    message: str = ""


@dataclass(frozen=True)
class BrokerPosition:
    symbol: str
    quantity: int
    avg_entry_price: Decimal
    current_price: Decimal | None


@dataclass(frozen=True)
class AccountInfo:
    cash: Decimal
    buying_power: Decimal
    equity: Decimal
    status: str


class BrokerError(Exception):
    """The broker or market data provider failed or refused: the message says why, in short."""


class BrokerUnavailable(BrokerError):
    """The provider could not be reached or kept failing (timeouts, 429, 5xx, after retries): an
    outage of the service, not a problem of one account; try again later. `circuit` names the
    endpoint (tradebot.circuits), so every bot behind it can hold instead of calling it too."""

    def __init__(self, message: str, *, circuit: str = ""):
        super().__init__(message)
        self.circuit = circuit


class BrokerAuthRefused(BrokerError):
    """The broker refused the account's keys (401, 403 on an account call): a person must fix them."""


class OrderRejected(BrokerError):
    """The broker refused the order (insufficient buying power, invalid parameters...): final."""


class Broker(Protocol):
    def account(self) -> AccountInfo: ...

    def submit_order(self, order: OrderRequest) -> OrderResult:
        """Place a market order. Idempotent by client_order_id: a second call with the same id
        returns the order placed by the first instead of placing another."""

    def submit_stop(self, order: StopRequest) -> OrderResult:
        """Rest a stop sell at the broker, idempotent by client_order_id like submit_order.
        OrderRejected where the broker keeps no resting orders."""

    def get_order(self, client_order_id: str) -> OrderResult | None:
        """The order with this client order id, or None if the broker never received it."""

    def positions(self) -> list[BrokerPosition]: ...

    def open_orders(self) -> list[OrderResult]:
        """Orders the broker still works on (not filled, cancelled or rejected yet), at most a few hundred."""

    def cancel_order(self, order_id: str) -> None:
        """Ask the broker to cancel; it may still be cancelling (or filling) when this returns."""
