"""pytest fixtures for the local Alpaca stand-ins: REST (tests/alpaca_stub.py) and streams
(tests/alpaca_stream_stub.py)."""

import pytest
from django.test import override_settings

from tests.alpaca_stream_stub import AlpacaStreamStub
from tests.alpaca_stub import AlpacaStub
from tests.factories import BrokerAccountFactory


@pytest.fixture
def alpaca_stub():
    # The stand-in listens on the loopback, which accounts may only point at when the operator lists it.
    with AlpacaStub() as stub, override_settings(TRADEBOT_ALPACA_ALLOWED_HOSTS=["127.0.0.1"]):
        yield stub
    assert not stub.errors, f"the Alpaca stub itself failed: {stub.errors!r}"


@pytest.fixture
def alpaca_stream_stub():
    """Alpaca's market data and trade_updates streams, with the same keys as `alpaca_stub`."""
    with AlpacaStreamStub() as stub:
        yield stub
    assert not stub.errors, f"the Alpaca stream stub itself failed: {stub.errors!r}"


@pytest.fixture
def alpaca_account(alpaca_stub, db):
    """A paper Alpaca BrokerAccount whose trading and data URLs point at the stub."""
    account = BrokerAccountFactory(
        kind="alpaca",
        base_url=alpaca_stub.url,
        data_url=alpaca_stub.url,
        owner__password=None,  # an unusable password skips the slow hashing
    )
    account.set_credentials(alpaca_stub.api_key, alpaca_stub.secret_key)
    account.save()
    return account
