"""AlpacaBroker against the local Alpaca stand-in, through the real alpaca-py client."""

import time
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from bots.models import BrokerAccount
from brokers.alpaca import AlpacaBroker, MarketClock
from brokers.alpaca_http import RetryPolicy
from brokers.base import (
    AccountInfo,
    BrokerError,
    BrokerPosition,
    BrokerUnavailable,
    OrderRejected,
    OrderRequest,
)

pytestmark = pytest.mark.django_db

FAST_RETRY = RetryPolicy(attempts=3, first_delay=0.01)
TIMEOUT = 0.5


@pytest.fixture
def broker(alpaca_account):
    return AlpacaBroker(alpaca_account, retry=FAST_RETRY, timeout=TIMEOUT)


@pytest.fixture
def stub(alpaca_stub):
    alpaca_stub.set_price("AAPL", "187.25")
    return alpaca_stub


def buy(quantity=10, client_order_id="tb-1-AAPL-buy-202401021430", symbol="AAPL"):
    return OrderRequest(symbol=symbol, side="buy", quantity=quantity, client_order_id=client_order_id)


def test_a_market_order_is_sent_as_alpaca_expects_and_its_fill_is_parsed(broker, stub):
    result = broker.submit_order(buy())

    [sent] = stub.requests_to("/v2/orders", "POST")
    assert sent.body == {
        "symbol": "AAPL",
        "qty": 10.0,
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": "tb-1-AAPL-buy-202401021430",
    }
    assert (sent.headers["apca-api-key-id"], sent.headers["apca-api-secret-key"]) == ("key", "secret")
    assert UUID(result.order_id)
    assert (result.client_order_id, result.symbol, result.side, result.quantity) == (
        "tb-1-AAPL-buy-202401021430",
        "AAPL",
        "buy",
        10,
    )
    assert (result.status, result.filled_quantity, result.filled_price) == ("filled", 10, Decimal("187.25"))
    assert result.filled_at.tzinfo == UTC


def test_an_order_alpaca_has_not_filled_yet_is_pending(broker, stub):
    stub.accept_without_fill = True

    result = broker.submit_order(buy())

    assert (result.status, result.filled_quantity, result.filled_price) == ("pending", 0, None)


def test_a_second_submission_with_the_same_client_order_id_returns_the_first_order(broker, stub):
    first = broker.submit_order(buy())
    second = broker.submit_order(buy())

    assert second == first
    assert len(stub.orders) == 1
    assert len(stub.requests_to("/v2/orders", "POST")) == 2
    assert [r.query for r in stub.requests_to("/v2/orders:by_client_order_id")] == [
        {"client_order_id": "tb-1-AAPL-buy-202401021430"}
    ]


def test_a_submission_whose_answer_was_lost_is_retried_without_placing_a_second_order(broker, stub):
    # Alpaca takes the order but answers after our timeout; the retry meets the duplicate.
    stub.hang_next("/v2/orders", seconds=TIMEOUT * 3, method="POST")

    result = broker.submit_order(buy())

    assert len(stub.orders) == 1
    assert result.order_id == stub.orders[0]["id"]
    assert result.status == "filled"


def test_a_client_order_id_already_used_for_another_symbol_is_refused(broker, stub):
    stub.set_price("MSFT", "370.87")
    broker.submit_order(buy(symbol="MSFT", client_order_id="reused"))

    with pytest.raises(OrderRejected, match="already used by a buy order for MSFT"):
        broker.submit_order(buy(symbol="AAPL", client_order_id="reused"))


def test_insufficient_buying_power_is_a_rejection_with_alpacas_message(broker, stub):
    stub.set_account(buying_power="1000")

    with pytest.raises(OrderRejected, match="insufficient buying power"):
        broker.submit_order(buy(quantity=10))

    assert len(stub.requests_to("/v2/orders", "POST")) == 1
    assert stub.orders == []


def test_invalid_parameters_are_a_rejection(broker, stub):
    with pytest.raises(OrderRejected, match='asset "NOPE" not found'):
        broker.submit_order(buy(symbol="NOPE"))


def test_a_non_positive_quantity_is_rejected_before_reaching_alpaca(broker, stub):
    with pytest.raises(OrderRejected):
        broker.submit_order(buy(quantity=0))
    assert stub.requests == []


def test_a_server_error_is_retried(broker, stub):
    stub.fail_next("/v2/orders", 503, method="POST")

    result = broker.submit_order(buy())

    assert result.status == "filled"
    assert len(stub.requests_to("/v2/orders", "POST")) == 2
    assert len(stub.orders) == 1


def test_rate_limiting_is_retried(broker, stub):
    stub.fail_next("/v2/account", 429, times=2)

    assert broker.account().status == "ACTIVE"
    assert len(stub.requests_to("/v2/account")) == 3


def test_a_retry_after_429_waits_as_long_as_alpaca_asks(broker, stub):
    stub.fail_next("/v2/account", 429, times=1, headers={"Retry-After": "1"})

    assert broker.account().status == "ACTIVE"

    first, retry = stub.requests_to("/v2/account")
    assert retry.at - first.at >= 1.0  # not the policy's 0.01 s back-off


def test_retry_after_is_capped_so_a_tick_is_never_held_for_minutes(alpaca_account, stub):
    stub.fail_next("/v2/account", 429, times=1, headers={"Retry-After": "3600"})
    capped = RetryPolicy(attempts=2, first_delay=0.01, max_retry_after=0.2)

    AlpacaBroker(alpaca_account, retry=capped, timeout=TIMEOUT).account()

    first, retry = stub.requests_to("/v2/account")
    assert 0.2 <= retry.at - first.at < 2


def test_a_persistent_server_error_becomes_a_broker_error_after_the_retries(broker, stub):
    stub.fail_next("/v2/orders", 500, times=10, method="POST")

    with pytest.raises(BrokerError, match="after 3 attempts: HTTP 500") as raised:
        broker.submit_order(buy())

    assert not isinstance(raised.value, OrderRejected)
    assert len(stub.requests_to("/v2/orders", "POST")) == 3
    assert stub.orders == []


def test_a_server_error_page_that_is_not_json_is_a_broker_error_that_does_not_repeat_it(broker, stub):
    stub.fail_next("/v2/account", 502, times=10, body="<html>502 Bad Gateway from 10.0.0.7</html>")

    with pytest.raises(BrokerUnavailable) as raised:
        broker.account()

    assert str(raised.value) == "Alpaca account failed after 3 attempts: HTTP 502: not an Alpaca answer"


def test_a_hanging_alpaca_times_out_into_a_broker_error_in_bounded_time(broker, stub):
    stub.hang_next("/v2/account", seconds=30, times=10)

    started = time.monotonic()
    with pytest.raises(BrokerError, match="after 3 attempts"):
        broker.account()

    assert time.monotonic() - started < 3 * TIMEOUT + 1.5
    assert len(stub.requests_to("/v2/account")) == 3


def test_wrong_keys_are_a_broker_error_not_an_order_rejection(alpaca_account, stub):
    alpaca_account.set_credentials("key", "wrong-secret")
    broker = AlpacaBroker(alpaca_account, retry=FAST_RETRY, timeout=TIMEOUT)

    with pytest.raises(BrokerError, match="HTTP 403: forbidden") as raised:
        broker.submit_order(buy())

    assert not isinstance(raised.value, OrderRejected)


def test_an_order_is_found_by_its_client_order_id(broker, stub):
    placed = broker.submit_order(buy())

    assert broker.get_order("tb-1-AAPL-buy-202401021430") == placed


def test_an_order_alpaca_never_received_is_none(broker, stub):
    assert broker.get_order("tb-never-sent") is None


@pytest.mark.parametrize(
    ("alpaca_status", "filled_qty", "expected_status", "expected_filled", "expected_message"),
    [
        ("new", "0", "pending", 0, ""),
        ("pending_new", "0", "pending", 0, ""),
        ("partially_filled", "4", "pending", 4, ""),
        ("filled", "10", "filled", 10, ""),
        ("canceled", "0", "cancelled", 0, "Alpaca order canceled"),
        ("expired", "0", "cancelled", 0, "Alpaca order expired"),
        ("rejected", "0", "failed", 0, "Alpaca order rejected"),
        # The day ended with 3 of 10 shares bought: those 3 are held, so they are the fill.
        ("expired", "3", "filled", 3, "Alpaca order expired after filling 3 of 10"),
    ],
)
def test_alpaca_order_statuses_map_onto_ours(
    broker, stub, alpaca_status, filled_qty, expected_status, expected_filled, expected_message
):
    stub.accept_without_fill = True
    broker.submit_order(buy())
    stub.update_order(
        "tb-1-AAPL-buy-202401021430",
        status=alpaca_status,
        filled_qty=filled_qty,
        filled_avg_price="187.1" if filled_qty != "0" else None,
    )

    result = broker.get_order("tb-1-AAPL-buy-202401021430")

    assert (result.status, result.filled_quantity, result.message) == (
        expected_status,
        expected_filled,
        expected_message,
    )
    assert result.filled_price == (Decimal("187.1") if expected_filled else None)


def test_an_open_order_can_be_cancelled(broker, stub):
    stub.accept_without_fill = True
    placed = broker.submit_order(buy())

    broker.cancel_order(placed.order_id)

    assert [r.path for r in stub.requests_to("/v2/orders", "DELETE")] == [f"/v2/orders/{placed.order_id}"]
    assert broker.get_order(placed.client_order_id).status == "cancelled"


def test_cancelling_a_filled_order_is_refused(broker, stub):
    placed = broker.submit_order(buy())

    with pytest.raises(OrderRejected, match="not cancelable"):
        broker.cancel_order(placed.order_id)


def test_cancelling_something_that_is_not_an_alpaca_order_id_is_refused(broker, stub):
    with pytest.raises(OrderRejected):
        broker.cancel_order("tb-1-AAPL-buy")
    assert stub.requests == []


def test_positions_are_parsed_as_whole_shares_and_decimals(broker, stub):
    stub.add_position("MSFT", 3, "400.10")
    stub.set_price("MSFT", "401.25")
    broker.submit_order(buy(quantity=10))

    assert broker.positions() == [
        BrokerPosition(symbol="AAPL", quantity=10, avg_entry_price=Decimal("187.25"), current_price=Decimal("187.25")),
        BrokerPosition(symbol="MSFT", quantity=3, avg_entry_price=Decimal("400.1"), current_price=Decimal("401.25")),
    ]


def test_no_positions_is_an_empty_list(broker, stub):
    assert broker.positions() == []


def test_the_account_is_parsed_into_decimals(broker, stub):
    stub.set_account(cash="25000.55", buying_power="50001.10")

    assert broker.account() == AccountInfo(
        cash=Decimal("25000.55"), buying_power=Decimal("50001.1"), equity=Decimal("25000.55"), status="ACTIVE"
    )


def test_the_clock_comes_back_in_utc(broker, stub):
    new_york = ZoneInfo("America/New_York")
    stub.set_clock(
        is_open=False,
        timestamp=datetime(2024, 1, 2, 17, 0, tzinfo=new_york),
        next_open=datetime(2024, 1, 3, 9, 30, tzinfo=new_york),
        next_close=datetime(2024, 1, 3, 16, 0, tzinfo=new_york),
    )

    clock = broker.clock()

    assert clock == MarketClock(
        is_open=False,
        timestamp=datetime(2024, 1, 2, 22, 0, tzinfo=UTC),
        next_open=datetime(2024, 1, 3, 14, 30, tzinfo=UTC),
        next_close=datetime(2024, 1, 3, 21, 0, tzinfo=UTC),
    )
    assert clock.next_open.tzinfo == UTC


def test_a_paper_account_pointed_at_live_trading_is_refused():
    account = BrokerAccount(kind="alpaca", paper=True, base_url="https://api.alpaca.markets")
    account.set_credentials("key", "secret")

    with pytest.raises(BrokerError, match="live trading URL"):
        AlpacaBroker(account)


def test_a_live_account_pointed_at_paper_trading_is_refused():
    account = BrokerAccount(kind="alpaca", paper=False, base_url="https://paper-api.alpaca.markets")
    account.set_credentials("key", "secret")

    with pytest.raises(BrokerError, match="paper trading URL"):
        AlpacaBroker(account)


def test_back_off_doubles_up_to_a_cap_with_up_to_a_quarter_of_jitter():
    policy = RetryPolicy(attempts=6, first_delay=0.5, max_delay=3)

    for _ in range(50):
        delays = [policy.delay(n) for n in range(5)]
        assert all(base <= delay <= base * 1.25 for base, delay in zip([0.5, 1, 2, 3, 3], delays, strict=True))
    assert len({policy.delay(1) for _ in range(50)}) > 1  # not all in step
