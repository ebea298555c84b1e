"""The Alpaca broker, through alpaca-py (requests hardened as brokers.alpaca_http says). Orders are
idempotent by client order id: a retried submission that Alpaca already holds returns the existing
order."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from alpaca.common.enums import BaseURL
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest, StopOrderRequest
from django.conf import settings

from brokers.alpaca_http import (
    RetryPolicy,
    alpaca_errors,
    api_message,
    checked_url,
    client_credentials,
    describe,
    harden,
    key_fingerprint,
    with_retries,
)
from brokers.base import (
    AccountInfo,
    BrokerError,
    BrokerPosition,
    OrderRejected,
    OrderRequest,
    OrderResult,
    StopRequest,
)

T = TypeVar("T")

ORDER_STATUSES = {
    "filled": "filled",
    "canceled": "cancelled",
    "expired": "cancelled",
    "replaced": "cancelled",
    "rejected": "failed",
}  # every other status (new, accepted, partially_filled, pending_*, held, suspended...) may still fill: pending


@dataclass(frozen=True)
class MarketClock:
    is_open: bool
    timestamp: datetime
    next_open: datetime
    next_close: datetime


def is_duplicate_client_order_id(error: APIError) -> bool:
    message = api_message(error).lower()
    return error.status_code == 422 and "client_order_id" in message and "unique" in message


def check_url_matches_mode(url: str, paper: bool) -> None:
    """Refuse a paper account pointed at live trading (real money) and the reverse."""
    host = urlsplit(url).hostname
    if paper and host == urlsplit(BaseURL.TRADING_LIVE.value).hostname:
        raise BrokerError(f"Paper account points at Alpaca's live trading URL {url}")
    if not paper and host == urlsplit(BaseURL.TRADING_PAPER.value).hostname:
        raise BrokerError(f"Live account points at Alpaca's paper trading URL {url}")


def to_decimal(value: str | float | None) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def to_utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def order_result(order: Order) -> OrderResult:
    status = ORDER_STATUSES.get(order.status.value, "pending")
    quantity, filled_quantity = int(to_decimal(order.qty)), int(to_decimal(order.filled_qty))
    message = "" if status in ("pending", "filled") else f"Alpaca order {order.status.value}"
    if status in ("cancelled", "failed") and filled_quantity:
        # Shares bought or sold before the rest was cancelled are real: record them as the fill.
        status = "filled"
        message = f"Alpaca order {order.status.value} after filling {filled_quantity} of {quantity}"
    return OrderResult(
        order_id=str(order.id),
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side.value,
        quantity=quantity,
        status=status,
        filled_quantity=filled_quantity,
        filled_price=to_decimal(order.filled_avg_price) if filled_quantity and order.filled_avg_price else None,
        filled_at=to_utc(order.filled_at),
        message=message,
    )


class AlpacaBroker:
    def __init__(self, account, *, retry: RetryPolicy | None = None, timeout: float | None = None):
        check_url_matches_mode(account.trading_url, account.paper)
        api_key, secret_key = client_credentials(account)
        url = checked_url(account.trading_url, "trading")
        self._client = TradingClient(api_key, secret_key, paper=account.paper, url_override=url)
        self.circuit = f"alpaca trading {url} {key_fingerprint(api_key)}"
        harden(self._client, settings.ALPACA_TIMEOUT_SECONDS if timeout is None else timeout)
        self._retry = retry or RetryPolicy.from_settings()

    def _call(self, what: str, action: Callable[[], T]) -> T:
        return with_retries(action, self._retry, what, api="trading", circuit=self.circuit)

    def account(self) -> AccountInfo:
        with alpaca_errors("account"):
            account = self._call("account", self._client.get_account)
        return AccountInfo(
            cash=to_decimal(account.cash),
            buying_power=to_decimal(account.buying_power),
            equity=to_decimal(account.equity),
            status=account.status.value,
        )

    def submit_order(self, order: OrderRequest) -> OrderResult:
        if order.quantity <= 0:
            raise OrderRejected(f"Quantity must be a positive number of shares, not {order.quantity}")
        request = MarketOrderRequest(
            symbol=order.symbol,
            qty=order.quantity,
            side=OrderSide(order.side),
            time_in_force=TimeInForce.DAY,
            client_order_id=order.client_order_id,
        )
        return self._place(request, order.side)

    def submit_stop(self, order: StopRequest) -> OrderResult:
        """GTC, regular hours only: Alpaca triggers stop orders in the regular session alone (extended
        hours take limit orders only), and a day order would lapse at the close, leaving the night and
        the next open unprotected -- exactly when no process may be up. Alpaca expires a GTC order
        after 90 days; the repair path (bots.broker_stops) places a new one then."""
        if order.quantity <= 0:
            raise OrderRejected(f"Quantity must be a positive number of shares, not {order.quantity}")
        request = StopOrderRequest(
            symbol=order.symbol,
            qty=order.quantity,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            stop_price=float(order.stop_price),
            client_order_id=order.client_order_id,
        )
        return self._place(request, "sell")

    def _place(self, request: MarketOrderRequest | StopOrderRequest, side: str) -> OrderResult:
        with alpaca_errors("order submission", rejectable=True):
            try:
                placed = self._call("order submission", lambda: self._client.submit_order(request))
            except APIError as error:
                if not is_duplicate_client_order_id(error):
                    raise
                # Alpaca already holds this order (a retry after a lost response, or a second tick).
                placed = self._existing_order(request.client_order_id)
        if (placed.symbol, placed.side.value) != (request.symbol, side):
            raise OrderRejected(
                f"Client order id {request.client_order_id} is already used by a {placed.side.value} "
                f"order for {placed.symbol}"
            )
        return order_result(placed)

    def _existing_order(self, client_order_id: str) -> Order:
        try:
            return self._call("order lookup", lambda: self._client.get_order_by_client_id(client_order_id))
        except APIError as error:
            raise BrokerError(
                f"Alpaca reported order {client_order_id} as a duplicate but could not return it: {describe(error)}"
            ) from error

    def get_order(self, client_order_id: str) -> OrderResult | None:
        with alpaca_errors("order lookup"):
            try:
                found = self._call("order lookup", lambda: self._client.get_order_by_client_id(client_order_id))
            except APIError as error:
                if error.status_code == 404:
                    return None
                raise
        return order_result(found)

    def positions(self) -> list[BrokerPosition]:
        with alpaca_errors("positions"):
            held = self._call("positions", self._client.get_all_positions)
        return [
            BrokerPosition(
                symbol=position.symbol,
                # Our bots trade whole shares; a fractional remainder bought elsewhere is not ours to sell.
                quantity=int(to_decimal(position.qty)),
                avg_entry_price=to_decimal(position.avg_entry_price),
                current_price=to_decimal(position.current_price) if position.current_price else None,
            )
            for position in held
        ]

    def open_orders(self) -> list[OrderResult]:
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        with alpaca_errors("open orders"):
            orders = self._call("open orders", lambda: self._client.get_orders(filter=request))
        return [order_result(order) for order in orders]

    def cancel_order(self, order_id: str) -> None:
        try:
            UUID(order_id)
        except ValueError:
            raise OrderRejected(f"Not an Alpaca order id: {order_id!r}") from None
        with alpaca_errors("order cancellation", rejectable=True):
            self._call("order cancellation", lambda: self._client.cancel_order_by_id(order_id))

    def clock(self) -> MarketClock:
        with alpaca_errors("clock"):
            clock = self._call("clock", self._client.get_clock)
        return MarketClock(
            is_open=clock.is_open,
            timestamp=to_utc(clock.timestamp),
            next_open=to_utc(clock.next_open),
            next_close=to_utc(clock.next_close),
        )
