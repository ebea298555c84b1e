# Fixtures shared by every test package.
from tests.alpaca_fixtures import alpaca_account, alpaca_stub  # noqa: F401
