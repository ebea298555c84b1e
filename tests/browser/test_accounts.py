"""A person's account in a real browser: signing in with a password and an authenticator code, making
an API token and using it, adding a broker account and testing it, and a live start refused without
two-factor authentication."""

import pytest
import requests
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

from tests.factories import BotFactory, BrokerAccountFactory, UserFactory, with_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/accounts/login/'] button[type=submit]")


def test_signing_in_takes_the_password_then_the_authenticator_code(asgi_server, page):
    secret = with_totp(UserFactory(username="careful", password=PASSWORD))
    sign_in(page, asgi_server.url, "careful")
    page.wait_for_url(f"{asgi_server.url}/accounts/2fa/authenticate/")
    page.fill("#id_code", format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time()))))
    page.click("form button[type=submit]")
    page.wait_for_url(f"{asgi_server.url}/")
    assert page.locator(".who").inner_text().find("careful") >= 0


def test_a_token_made_on_the_settings_page_works_on_the_api(asgi_server, page):
    UserFactory(username="scripter", password=PASSWORD)
    sign_in(page, asgi_server.url, "scripter")
    page.wait_for_url(f"{asgi_server.url}/")
    page.click("text=Settings")
    page.click("text=API tokens")
    page.fill("#id_name", "my script")
    page.click("button:has-text('Create token')")
    secret = page.locator("#new-token").inner_text()

    answer = requests.get(f"{asgi_server.url}/api/bots", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert answer.status_code == 200 and answer.json() == []
    page.goto(f"{asgi_server.url}/accounts/tokens/")
    assert page.locator("#new-token").count() == 0  # shown once
    assert page.locator("tr:has-text('my script')").count() == 1


def test_a_broker_account_is_added_and_its_connection_tested(asgi_server, page, alpaca_stub):
    UserFactory(username="alpacist", password=PASSWORD)
    sign_in(page, asgi_server.url, "alpacist")
    page.wait_for_url(f"{asgi_server.url}/")
    page.goto(f"{asgi_server.url}/settings/broker-accounts/new/")
    page.fill("#id_name", "Stand-in")
    page.select_option("#id_kind", "alpaca")
    page.fill("#id_api_key", alpaca_stub.api_key)
    page.fill("#id_secret_key", alpaca_stub.secret_key)
    page.fill("#id_base_url", alpaca_stub.url)
    page.fill("#id_data_url", alpaca_stub.url)
    page.click("button:has-text('Save')")
    page.wait_for_url(f"{asgi_server.url}/settings/broker-accounts/")
    page.locator("tr:has-text('Stand-in') button:has-text('Test connection')").click()
    page.wait_for_selector("text=buying power")


def test_a_live_bot_does_not_start_without_two_factor(asgi_server, page):
    owner = UserFactory(username="bold", password=PASSWORD)
    live = BrokerAccountFactory(owner=owner, name="Real money", kind="alpaca", paper=False)
    bot = BotFactory(owner=owner, broker_account=live, name="Live bot")
    sign_in(page, asgi_server.url, "bold")
    page.wait_for_url(f"{asgi_server.url}/")
    page.goto(f"{asgi_server.url}/bots/{bot.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"#bot-panel-{bot.pk} button:has-text('Start')")
    page.wait_for_selector("text=two-factor authentication")
    bot.refresh_from_db()
    assert bot.status == "stopped"
