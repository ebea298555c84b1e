"""Fuzzing the JSON API with schemathesis, from its own OpenAPI schema, as an authenticated user.

Every operation gets generated requests (valid and invalid by the schema); each response must not be
a 5xx, must have a documented status code and content type, and must match the documented schema.
Bounded by FUZZ_EXAMPLES per operation (TRADEBOT_FUZZ_EXAMPLES overrides) to finish in a few minutes.
"""

import os

import pytest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from accounts.services import api_token_create
from tests.factories import BotFactory, PositionFactory, TradeFactory, UserFactory

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis to fuzz the API")
from schemathesis import checks  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("TRADEBOT_FUZZ_EXAMPLES", "60"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def keep_the_test_transactions_connection():
    """The real WSGI handler closes "old" database connections around each request; inside the test's
    transaction that would close it for good (Django's own test client disconnects them the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(settings):
    settings.TRADEBOT_API_RATE = "1000000/minute"  # the fuzzer is one very busy user
    user = UserFactory()
    # A little of everything, so some generated ids and filters hit real rows.
    bot = BotFactory(owner=user)
    PositionFactory(bot=bot)
    TradeFactory(bot=bot, type="sell", profit_loss=1)
    return api_token_create(user=user, name="fuzz")[1]


def _schema():
    """The schema /api/openapi.json serves (tradebot/tests/test_api.py checks it is served), bound to the
    WSGI app. Built at import: schemathesis' fixture-based loader does not run on pytest 9."""
    from tradebot.api import api

    loaded = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/"))
    loaded.app = get_wsgi_application()
    return loaded


schema = _schema()


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests every run: a failure in CI replays locally
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_request_breaks_the_api(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
