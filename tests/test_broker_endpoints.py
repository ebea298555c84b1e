"""The URLs a broker account may point the server at, and what a user sees when the upstream fails:
a short reason, never the upstream's body or the server's own network."""

import socket

import pytest
from django.test import override_settings

from bots import services
from bots.ticks import bot_tick
from brokers import endpoints
from brokers.endpoints import EndpointRefused, check_endpoint
from tests.api_client import api_client
from tests.factories import BotFactory, BrokerAccountFactory, UserFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolving_to(monkeypatch):
    """What the system resolver answers (a name an attacker points at the server's network, say)."""

    def answer(address: str):
        endpoints._resolved.clear()
        monkeypatch.setattr(socket, "getaddrinfo", lambda host, *args, **kwargs: [(None, None, None, "", (address, 0))])

    yield answer
    endpoints._resolved.clear()


def account_payload(**urls) -> dict:
    return {"name": "Mine", "kind": "alpaca", "api_key": "AK", "secret_key": "SK", **urls}


@pytest.mark.parametrize(
    "url,reason",
    [
        ("http://127.0.0.1:6379/", "127.0.0.1 is not an Alpaca host"),
        ("https://10.0.0.5/v2", "10.0.0.5 is not an Alpaca host"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is not an Alpaca host"),
        ("https://evil.example/v2", "evil.example is not an Alpaca host"),
        ("http://paper-api.alpaca.markets", "must be an https URL"),
        ("https://me:pw@paper-api.alpaca.markets", "must not carry a user name or password"),
        ("ftp://paper-api.alpaca.markets", "must be an https URL"),
    ],
)
def test_the_api_refuses_urls_the_server_may_not_call_on_their_field(url, reason):
    client = api_client(UserFactory())
    for field in ("base_url", "data_url"):
        response = client.post("/broker-accounts", json=account_payload(**{field: url}))
        assert response.status_code == 422
        [error] = [e for e in response.json()["detail"] if e["field"] == field]
        assert reason in error["message"]
    assert client.get("/broker-accounts").json()[0]["kind"] == "sim"  # nothing saved but the default account


def test_an_alpaca_host_that_resolves_into_the_servers_network_is_refused(resolving_to):
    resolving_to("192.168.1.20")
    with pytest.raises(EndpointRefused, match="resolves to an internal address"):
        check_endpoint("https://data.sandbox.alpaca.markets")


def test_an_alpaca_host_on_a_public_address_is_allowed(resolving_to):
    resolving_to("104.18.2.3")
    check_endpoint("https://data.sandbox.alpaca.markets/v2")


def test_the_operators_own_endpoints_are_allowed_as_configured():
    with override_settings(ALPACA_DATA_URL="http://market-proxy.internal:8080"):
        check_endpoint("http://market-proxy.internal:8080")


@pytest.mark.parametrize("listed", [["stand-in.test"], ["10.1.0.0/16"]])
def test_hosts_and_networks_the_operator_lists_are_allowed(listed):
    url = "http://stand-in.test:9000" if listed == ["stand-in.test"] else "http://10.1.2.3:9000"
    with pytest.raises(EndpointRefused):
        check_endpoint(url)
    with override_settings(TRADEBOT_ALPACA_ALLOWED_HOSTS=listed):
        check_endpoint(url)


def test_an_account_saved_before_the_rule_holds_its_bot_instead_of_calling_its_url(alpaca_stub):
    account = BrokerAccountFactory(kind="alpaca", base_url="http://10.9.9.9:1", data_url="http://10.9.9.9:1")
    account.set_credentials("AK", "SK")
    account.save()
    bot = services.bot_start(bot=BotFactory(config=CONFIG, owner=account.owner, broker_account=account))

    report = bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    assert report.outcome == "held"
    assert "10.9.9.9 is not an Alpaca host" in report.message and "Entries held" in report.message
    response = api_client(account.owner).get(f"/market-data/TEST?broker_account_id={account.pk}")
    assert response.status_code == 409 and "is not an Alpaca host" in response.json()["detail"]


def test_an_upstream_error_page_reaches_the_user_as_a_status_without_its_body(alpaca_stub, alpaca_account):
    alpaca_stub.fail_next("/v2/stocks/bars", 404, body="<!doctype html><title>internal admin</title>", times=5)

    response = api_client(alpaca_account.owner).get(f"/market-data/TEST?broker_account_id={alpaca_account.pk}")

    assert response.status_code == 502
    assert response.json()["detail"] == (
        "the broker or market data provider failed: Alpaca bars failed: HTTP 404: not an Alpaca answer"
    )


def test_an_unreachable_upstream_is_said_in_words_not_the_sockets_error(alpaca_account):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    alpaca_account.data_url = f"http://127.0.0.1:{closed}"
    alpaca_account.save()
    with override_settings(TRADEBOT_ALPACA_ALLOWED_HOSTS=["127.0.0.1"], ALPACA_RETRY_DELAY_SECONDS=0.01):
        response = api_client(alpaca_account.owner).get(f"/market-data/TEST?broker_account_id={alpaca_account.pk}")

    assert response.status_code == 502
    assert response.json()["detail"].endswith("bars failed after 3 attempts: could not connect")
    assert "Errno" not in response.json()["detail"]
