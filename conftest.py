# Fixtures shared by every test package.
import pytest
from django.core.cache import cache

from tests.alpaca_fixtures import alpaca_account, alpaca_stream_stub, alpaca_stub  # noqa: F401
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def empty_cache():
    """Cached figures are keyed by ids, which SQLite reuses after a rolled-back test: start each test clean."""
    cache.clear()
    yield


@pytest.fixture
def user():
    return UserFactory()
