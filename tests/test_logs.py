"""Structured logs: the JSON lines of a tick, an order, a status change and a request carry their ids,
the request id comes back as a header, and no secret reaches any line (the real alpaca-py client
against the local stand-in, with keys of its own)."""

import io
import json
import logging
from datetime import timedelta

import pytest
import structlog
from django.test import override_settings

from accounts.services import api_token_create
from bots import services
from bots.tasks import tick
from market.cache import clear_caches
from tests.alpaca_stub import AlpacaStub
from tests.factories import BotFactory, BrokerAccountFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG, START, falling_bars
from tradebot import logs

pytestmark = pytest.mark.django_db

API_KEY = "PKLOGTESTKEY0000001"
SECRET_KEY = "s3cr3t-log-test-SECRET-0000000000000001"


@pytest.fixture
def json_lines():
    """Every record logged meanwhile, at DEBUG and up, as the JSON formatter renders it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("json"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def keyed_stub():
    with (
        AlpacaStub(api_key=API_KEY, secret_key=SECRET_KEY) as stub,
        override_settings(TRADEBOT_ALPACA_ALLOWED_HOSTS=["127.0.0.1"], ALPACA_RETRY_DELAY_SECONDS=0.01),
    ):
        stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
        stub.load_bars("TEST", "1Min", falling_bars())
        stub.set_price("TEST", "80")
        clear_caches()
        yield stub
    clear_caches()


@pytest.fixture
def alpaca_bot(keyed_stub):
    account = BrokerAccountFactory(kind="alpaca", base_url=keyed_stub.url, data_url=keyed_stub.url)
    account.set_credentials(API_KEY, SECRET_KEY)
    account.save()
    return services.bot_start(bot=BotFactory(config=CONFIG, owner=account.owner, broker_account=account))


def test_a_ticks_and_its_orders_lines_carry_the_bot_order_and_task_ids(json_lines, alpaca_bot):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: AFTER_FALL)
        tick.apply(args=[alpaca_bot.pk], task_id="task-1234")

    lines = json_lines()
    [order] = [line for line in lines if line["event"] == "order"]
    assert order["client_order_id"] == f"tb-{alpaca_bot.pk}-TEST-buy-20240305T1459"
    assert (order["side"], order["quantity"], order["status"]) == ("buy", 12, "filled")
    assert order["bot_id"] == alpaca_bot.pk
    assert order["task_id"] == "task-1234"
    [tick_line] = [line for line in lines if line["event"] == "tick"]
    assert (tick_line["outcome"], tick_line["orders"], tick_line["refusals"]) == ("traded", 1, 0)
    assert tick_line["bot_id"] == alpaca_bot.pk and tick_line["task_id"] == "task-1234"
    assert tick_line["task"] == "bots.tick" and tick_line["level"] == "info" and tick_line["logger"] == "bots.ticks"
    assert tick_line["duration_ms"] >= 0 and tick_line["timestamp"].startswith("20")


def test_no_secret_reaches_any_line(json_lines, alpaca_bot, keyed_stub, client):
    # A request that carries the keys, a tick that trades, a refused order, a tick whose keys are refused.
    user = alpaca_bot.owner
    _, token = api_token_create(user=user, name="logs")
    response = client.post(
        "/api/broker-accounts",
        data={
            "name": "second",
            "kind": "alpaca",
            "api_key": API_KEY,
            "secret_key": SECRET_KEY,
            "base_url": keyed_stub.url,
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201, response.content
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: AFTER_FALL)
        keyed_stub.set_account(buying_power="10")
        tick.apply(args=[alpaca_bot.pk])
        keyed_stub.fail_next("/v2/account", 401, times=5)
        tick.apply(args=[alpaca_bot.pk])
    structlog.get_logger("test").info("careless", api_key=API_KEY, password=SECRET_KEY, authorization=token)

    lines = json_lines()
    assert any(line["event"] == "order" and line["status"] == "failed" for line in lines)
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in (API_KEY, SECRET_KEY, token):
        assert secret not in text
    [careless] = [line for line in lines if line["event"] == "careless"]
    assert careless["api_key"] == careless["password"] == careless["authorization"] == logs.REDACTED


def test_a_request_answers_its_id_and_its_lines_carry_it(json_lines, client):
    bot = BotFactory(config=CONFIG)
    _, token = api_token_create(user=bot.owner, name="logs")

    response = client.post(
        f"/api/bots/{bot.pk}/start", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_REQUEST_ID="req-42"
    )

    assert response.status_code == 200, response.content
    assert response["X-Request-ID"] == "req-42"
    [changed] = [line for line in json_lines() if line["event"] == "bot_status_changed"]
    assert (changed["request_id"], changed["user_id"], changed["via"]) == ("req-42", bot.owner_id, "api")
    assert (changed["bot_id"], changed["status"]) == (bot.pk, "running")


def test_a_request_id_that_is_not_plausible_is_replaced(client):
    given = client.get("/health", HTTP_X_REQUEST_ID="x" * 65)["X-Request-ID"]
    new = client.get("/health")["X-Request-ID"]
    assert len(given) == len(new) == 32 and given != new


def test_the_console_format_is_readable_text():
    record = logging.LogRecord("bots.ticks", logging.INFO, __file__, 1, "a plain line", None, None)
    assert "a plain line" in logs.formatter("console").format(record)
    with pytest.raises(ValueError):
        logs.logging_config("yaml", "INFO")
