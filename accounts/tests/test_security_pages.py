"""The security pages (allauth's, in the site's layout) answer, and turning on two-factor works."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.test import Client

from accounts.mfa import has_mfa
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    client = Client()
    client.force_login(UserFactory())
    return client


@pytest.mark.parametrize(
    "page",
    [
        "/accounts/settings/",
        "/accounts/password/change/",
        "/accounts/email/",
        "/accounts/2fa/",
        "/accounts/sessions/",
        "/accounts/tokens/",
        "/settings/broker-accounts/",
        "/settings/broker-accounts/new/",
    ],
)
def test_each_settings_page_answers_in_the_sites_layout(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assert 'class="topbar"' in response.content.decode()


def test_turning_on_two_factor_with_the_authenticator_app():
    user = UserFactory(username="dora")
    client = Client()
    client.force_login(user)
    # Turning two-factor on asks for the password again first.
    asked = client.get("/accounts/2fa/totp/activate/")
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/reauthenticate/")
    client.post(asked["Location"], {"password": "correct horse battery staple"})
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    code = format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))
    client.post("/accounts/2fa/totp/activate/", {"code": code})
    assert has_mfa(user)
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.RECOVERY_CODES).exists()


def test_a_request_django_refuses_under_the_api_is_json(settings):
    response = Client().get("/api/bots", HTTP_HOST="evil.example")
    assert response.status_code == 400 and response.json() == {"detail": "bad request"}
