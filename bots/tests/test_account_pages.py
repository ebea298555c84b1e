"""A person's own broker accounts in their settings: add, test the connection (against the Alpaca
stand-in), rotate keys, delete unless an order is pending."""

import pytest
from django.test import Client

from bots.models import BrokerAccount
from tests.factories import BotFactory, BrokerAccountFactory, TradeFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/settings/broker-accounts/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_a_trader_adds_an_alpaca_account_and_tests_it(alpaca_stub):
    user = UserFactory()
    client = signed_in(user)
    form = {
        "name": "My Alpaca",
        "kind": "alpaca",
        "paper": "on",
        "api_key": alpaca_stub.api_key,
        "secret_key": alpaca_stub.secret_key,
        "base_url": alpaca_stub.url,
        "data_url": alpaca_stub.url,
        "data_feed": "iex",
        "sim_slippage": "0",
        "sim_commission": "0",
    }
    assert client.post(f"{PAGE}new/", form).status_code == 302
    account = BrokerAccount.objects.get(owner=user, name="My Alpaca")
    page = client.get(PAGE).content.decode()
    assert "My Alpaca" in page and alpaca_stub.secret_key not in page

    tested = client.post(f"{PAGE}{account.pk}/test/", follow=True)
    [message] = shown_messages(tested)
    assert "connected" in message and "buying power" in message


def test_a_failed_connection_says_why(alpaca_stub):
    user = UserFactory()
    account = BrokerAccountFactory(owner=user, kind="alpaca", base_url=alpaca_stub.url, data_url=alpaca_stub.url)
    account.set_credentials("wrong", "keys")
    account.save()
    tested = signed_in(user).post(f"{PAGE}{account.pk}/test/", follow=True)
    [message] = shown_messages(tested)
    assert "the connection failed" in message


def test_keys_are_rotated_and_never_shown(alpaca_stub):
    user = UserFactory()
    account = BrokerAccountFactory(owner=user, kind="alpaca", base_url=alpaca_stub.url, data_url=alpaca_stub.url)
    account.set_credentials("old", "old-secret")
    account.save()
    client = signed_in(user)
    client.post(f"{PAGE}{account.pk}/keys/", {"api_key": alpaca_stub.api_key, "secret_key": alpaca_stub.secret_key})
    account.refresh_from_db()
    assert account.credentials() == (alpaca_stub.api_key, alpaca_stub.secret_key)
    assert "old-secret" not in client.get(f"{PAGE}{account.pk}/keys/").content.decode()


def test_an_account_with_a_pending_order_is_not_deleted():
    user = UserFactory()
    account = BrokerAccountFactory(owner=user)
    bot = BotFactory(owner=user, broker_account=account)
    TradeFactory(bot=bot, status="pending")
    answer = signed_in(user).post(f"{PAGE}{account.pk}/delete/", follow=True)
    assert "still pending" in shown_messages(answer)[0]
    assert BrokerAccount.objects.filter(pk=account.pk).exists()

    unused = BrokerAccountFactory(owner=user)
    signed_in(user).post(f"{PAGE}{unused.pk}/delete/")
    assert not BrokerAccount.objects.filter(pk=unused.pk).exists()


def test_someone_elses_account_is_not_found_even_for_a_superuser():
    account = BrokerAccountFactory()
    client = signed_in(UserFactory(is_superuser=True, is_staff=True))
    assert account.name not in client.get(PAGE).content.decode()
    assert client.post(f"{PAGE}{account.pk}/delete/").status_code == 404
    assert client.post(f"{PAGE}{account.pk}/test/").status_code == 404


def test_the_settings_page_links_security_tokens_and_accounts():
    page = signed_in(UserFactory()).get("/accounts/settings/").content.decode()
    for link in ("/accounts/password/change/", "/accounts/2fa/", "/accounts/sessions/", "/accounts/tokens/", PAGE):
        assert f'href="{link}"' in page
    assert "<strong>off</strong>" in page  # two-factor
