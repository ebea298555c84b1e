"""Alpaca, through alpaca-py. Every request has a timeout, transient failures (timeouts, lost
connections, 429, 5xx) are retried with exponential back-off, and orders are idempotent by client
order id: a retried submission that Alpaca already holds returns the existing order."""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar
from urllib.parse import urlsplit
from uuid import UUID

import requests
from alpaca.common.enums import BaseURL
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import MarketOrderRequest
from django.conf import settings

from tradebot.brokers.base import (
    AccountInfo,
    BrokerError,
    BrokerPosition,
    BrokerUnavailable,
    OrderRejected,
    OrderRequest,
    OrderResult,
)
from tradebot.brokers.endpoints import EndpointRefused, EndpointUnresolved, check_endpoint
from tradebot.errors import BrokerAccountUnusable

log = logging.getLogger(__name__)
T = TypeVar("T")

ORDER_STATUSES = {
    "filled": "filled",
    "canceled": "cancelled",
    "expired": "cancelled",
    "replaced": "cancelled",
    "rejected": "failed",
}  # every other status (new, accepted, partially_filled, pending_*, held, suspended...) may still fill: pending


@dataclass(frozen=True)
class RetryPolicy:
    # Worst case per call with the default 10 s timeout: 3 x 10 s + 0.5 s + 1 s of back-off.
    attempts: int = 3
    first_delay: float = 0.5
    max_delay: float = 4.0

    def __post_init__(self):
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")

    def delay(self, retry_number: int) -> float:
        return min(self.first_delay * 2**retry_number, self.max_delay)

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(attempts=settings.ALPACA_RETRY_ATTEMPTS, first_delay=settings.ALPACA_RETRY_DELAY_SECONDS)


@dataclass(frozen=True)
class MarketClock:
    is_open: bool
    timestamp: datetime
    next_open: datetime
    next_close: datetime


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


def harden(client: RESTClient, timeout: float) -> None:
    """alpaca-py sends requests without a timeout and retries 429/504 itself after 3 s sleeps: give
    every request a timeout and turn its retry off, so `with_retries` alone decides."""
    if not isinstance(getattr(client, "_session", None), requests.Session):
        raise RuntimeError("alpaca-py no longer keeps a requests session in `_session`: cannot set a timeout")
    client._session = _TimeoutSession(timeout)
    client._retry = 0
    client._retry_codes = []


def is_transient(error: Exception) -> bool:
    if isinstance(error, APIError):
        return error.status_code == 429 or (error.status_code or 0) >= 500
    return isinstance(error, (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError))


# What a failure is called when it reaches a person: short, and never the upstream's own text beyond
# Alpaca's error message (a foreign body may be anything, a port scan's answer included).
MAX_MESSAGE = 200


def describe(error: Exception) -> str:
    if isinstance(error, APIError):
        return f"HTTP {error.status_code}: {api_message(error)}"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "could not connect"
    return type(error).__name__


def api_message(error: APIError) -> str:
    """Alpaca's error message; a body that is not Alpaca's JSON (a proxy's HTML page) is not repeated."""
    try:
        message = error.message
    except (ValueError, KeyError, TypeError):
        return "not an Alpaca answer"
    return str(message)[:MAX_MESSAGE] if isinstance(message, str) else "not an Alpaca answer"


def api_code(error: APIError) -> int | None:
    try:
        return int(error.code)
    except (ValueError, KeyError, TypeError):
        return None


def with_retries(action: Callable[[], T], policy: RetryPolicy, what: str) -> T:
    """Run `action`, retrying transient failures; BrokerUnavailable once the attempts are used up.
    Other errors propagate untouched for the caller to classify."""
    attempt = 1
    while True:
        try:
            return action()
        except (APIError, requests.RequestException) as error:
            if not is_transient(error):
                raise
            if attempt >= policy.attempts:
                raise BrokerUnavailable(f"Alpaca {what} failed after {attempt} attempts: {describe(error)}") from error
            log.warning("Alpaca %s failed (attempt %d of %d), retrying: %s", what, attempt, policy.attempts,
                        describe(error))
            time.sleep(policy.delay(attempt - 1))
            attempt += 1


@contextmanager
def alpaca_errors(what: str, *, rejectable: bool = False) -> Iterator[None]:
    """Turn what alpaca-py raises into our errors. With `rejectable`, Alpaca's own refusals
    (400/403/422 carrying an Alpaca error code) are final: OrderRejected with Alpaca's message."""
    try:
        yield
    except APIError as error:
        refused = error.status_code in (400, 403, 422) and api_code(error) is not None
        if rejectable and refused:
            raise OrderRejected(api_message(error)) from error
        failure = BrokerUnavailable if is_transient(error) else BrokerError
        raise failure(f"Alpaca {what} failed: {describe(error)}") from error
    except requests.RequestException as error:
        raise BrokerUnavailable(f"Alpaca {what} failed: {describe(error)}") from error
    except ValueError as error:  # pydantic's ValidationError: an answer that is not Alpaca's shape
        raise BrokerError(f"Alpaca {what} failed: the answer is not Alpaca's") from error


def is_duplicate_client_order_id(error: APIError) -> bool:
    message = api_message(error).lower()
    return error.status_code == 422 and "client_order_id" in message and "unique" in message


def checked_url(url: str, what: str) -> str:
    """`url` if the server may call it (see tradebot.brokers.endpoints)."""
    try:
        check_endpoint(url)
    except EndpointUnresolved as exc:
        raise BrokerUnavailable(f"Alpaca {what}: {exc}") from None
    except EndpointRefused as exc:
        raise BrokerAccountUnusable(f"the account's Alpaca {what} URL {exc}") from None
    return url


def client_credentials(account) -> tuple[str, str]:
    """The account's keys (BrokerKeysUnreadable when they no longer decrypt); BrokerError when there are none."""
    api_key, secret_key = account.credentials()
    if not (api_key and secret_key):
        raise BrokerError(f"Alpaca account {account} has no API credentials")
    return api_key, secret_key


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
        harden(self._client, settings.ALPACA_TIMEOUT_SECONDS if timeout is None else timeout)
        self._retry = retry or RetryPolicy.from_settings()

    def _call(self, what: str, action: Callable[[], T]) -> T:
        return with_retries(action, self._retry, what)

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
        with alpaca_errors("order submission", rejectable=True):
            try:
                placed = self._call("order submission", lambda: self._client.submit_order(request))
            except APIError as error:
                if not is_duplicate_client_order_id(error):
                    raise
                # Alpaca already holds this order (a retry after a lost response, or a second tick).
                placed = self._existing_order(order.client_order_id)
        if (placed.symbol, placed.side.value) != (order.symbol, order.side):
            raise OrderRejected(
                f"Client order id {order.client_order_id} is already used by a {placed.side.value} "
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
