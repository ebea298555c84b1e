"""What the Alpaca broker and the Alpaca market data client share: every request with a timeout,
transient failures (timeouts, lost connections, 429, 5xx) retried with exponential back-off, errors
turned into ours with a short reason, and the account's checked URL and keys."""

import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from django.conf import settings

from brokers.base import BrokerAuthRefused, BrokerError, BrokerUnavailable, OrderRejected
from brokers.endpoints import EndpointRefused, EndpointUnresolved, check_endpoint
from tradebot import metrics
from tradebot.errors import BrokerAccountUnusable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Doubling back-off with up to a quarter of jitter (many bots retrying one endpoint should not come
    back in step), or what the server asks in Retry-After, capped so a tick is never held long."""

    # Worst case per call with the default 10 s timeout: 3 x 10 s + 0.5 s + 1 s of back-off.
    attempts: int = 3
    first_delay: float = 0.5
    max_delay: float = 4.0
    max_retry_after: float = 10.0

    def __post_init__(self):
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        backoff = min(self.first_delay * 2**retry_number, self.max_delay)
        return backoff * random.uniform(1.0, 1.25)

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(
            attempts=settings.ALPACA_RETRY_ATTEMPTS,
            first_delay=settings.ALPACA_RETRY_DELAY_SECONDS,
            max_retry_after=settings.ALPACA_RETRY_AFTER_MAX_SECONDS,
        )


def retry_after(error: Exception) -> float | None:
    """The seconds a 429 or 503 asks to wait (Retry-After as seconds or an HTTP date), if it says."""
    response = getattr(error, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


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


def with_retries[T](action: Callable[[], T], policy: RetryPolicy, what: str, *, api: str, circuit: str = "") -> T:
    """Run `action`, retrying transient failures; BrokerUnavailable (for `circuit`) once the attempts
    are used up. Other errors propagate untouched for the caller to classify. Counted in /metrics
    under `api` (trading, market_data)."""
    with metrics.EXTERNAL_SECONDS.labels(api).time():
        try:
            answer = _attempts(action, policy, what, api=api, circuit=circuit)
        except BrokerUnavailable:
            metrics.EXTERNAL_REQUESTS.labels(api, "unavailable").inc()
            raise
        except Exception:
            metrics.EXTERNAL_REQUESTS.labels(api, "error").inc()
            raise
    metrics.EXTERNAL_REQUESTS.labels(api, "ok").inc()
    return answer


def _attempts[T](action: Callable[[], T], policy: RetryPolicy, what: str, *, api: str, circuit: str) -> T:
    attempt = 1
    while True:
        try:
            return action()
        except (APIError, requests.RequestException) as error:
            if not is_transient(error):
                raise
            if attempt >= policy.attempts:
                raise BrokerUnavailable(
                    f"Alpaca {what} failed after {attempt} attempts: {describe(error)}", circuit=circuit
                ) from error
            log.warning(
                "Alpaca %s failed (attempt %d of %d), retrying: %s", what, attempt, policy.attempts, describe(error)
            )
            metrics.EXTERNAL_RETRIES.labels(api).inc()
            time.sleep(policy.delay(attempt - 1, retry_after(error)))
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
        if error.status_code in (401, 403):
            raise BrokerAuthRefused(f"Alpaca refused {what} for this account: {describe(error)}") from error
        failure = BrokerUnavailable if is_transient(error) else BrokerError
        raise failure(f"Alpaca {what} failed: {describe(error)}") from error
    except requests.RequestException as error:
        raise BrokerUnavailable(f"Alpaca {what} failed: {describe(error)}") from error
    except ValueError as error:  # pydantic's ValidationError: an answer that is not Alpaca's shape
        raise BrokerError(f"Alpaca {what} failed: the answer is not Alpaca's") from error


def checked_url(url: str, what: str) -> str:
    """`url` if the server may call it (see brokers.endpoints)."""
    try:
        check_endpoint(url)
    except EndpointUnresolved as exc:
        raise BrokerUnavailable(f"Alpaca {what}: {exc}") from None
    except EndpointRefused as exc:
        raise BrokerAccountUnusable(f"the account's Alpaca {what} URL {exc}") from None
    return url


def key_fingerprint(api_key: str) -> str:
    """Tells two keys apart in a cache key or a circuit's name without keeping the key itself there."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16]


def client_credentials(account) -> tuple[str, str]:
    """The account's keys (BrokerKeysUnreadable when they no longer decrypt); BrokerError when there are none."""
    api_key, secret_key = account.credentials()
    if not (api_key and secret_key):
        raise BrokerError(f"Alpaca account {account} has no API credentials")
    return api_key, secret_key
