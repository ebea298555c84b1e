"""Signing in: rate limits and lockout (the admin's login included), the second factor, sign-up modes,
email verification and password reset by email."""

import re

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time
from django.core import mail
from django.test import Client

from accounts.invites import invite_link
from tests.factories import UserFactory, with_totp

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PASSWORD = "correct horse battery staple"


def signed_in_user_id(client: Client):
    return client.session.get("_auth_user_id")


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def test_after_repeated_wrong_passwords_even_the_right_one_is_refused():
    user = UserFactory(username="ada")
    client = Client()
    answers = [client.post(LOGIN, {"login": "ada", "password": f"guess {n}"}) for n in range(50)]
    assert all(answer.status_code in (200, 429) for answer in answers)
    assert any("Too many failed login attempts" in answer.content.decode() for answer in answers)

    client.post(LOGIN, {"login": "ada", "password": PASSWORD})
    assert signed_in_user_id(client) is None
    # From another address too: the lockout is the account's, not only the address's.
    other = Client(REMOTE_ADDR="10.9.8.7")
    other.post(LOGIN, {"login": "ada", "password": PASSWORD})
    assert signed_in_user_id(other) is None
    assert user.pk


def test_the_admin_login_is_the_sites_login_with_its_limits():
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 302 and page["Location"].startswith(LOGIN)
    for n in range(50):
        client.post("/admin/login/", {"username": "root", "password": f"guess {n}"})
    assert signed_in_user_id(client) is None
    for n in range(10):
        client.post(LOGIN, {"login": "root", "password": f"guess {n}"})
    client.post(LOGIN, {"login": "root", "password": PASSWORD})
    assert signed_in_user_id(client) is None


def test_a_user_with_two_factor_signs_in_with_a_code():
    user = UserFactory(username="bea")
    secret = with_totp(user)
    client = Client()
    response = client.post(LOGIN, {"login": "bea", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/accounts/2fa/authenticate/"
    assert signed_in_user_id(client) is None

    client.post("/accounts/2fa/authenticate/", {"code": "000000" if totp_code(secret) != "000000" else "111111"})
    assert signed_in_user_id(client) is None
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
    assert signed_in_user_id(client) == str(user.pk)


def test_sign_up_is_off_by_default():
    page = Client().get("/accounts/signup/")
    assert "Sign Up Closed" in page.content.decode()


def test_open_sign_up_needs_the_email_verified_before_signing_in(settings):
    settings.TRADEBOT_SIGNUP = "open"
    client = Client()
    client.post(
        "/accounts/signup/",
        {
            "email": "new@example.com",
            "username": "newbie",
            "password1": "a long new passphrase",
            "password2": "a long new passphrase",
        },
    )
    assert signed_in_user_id(client) is None
    [message] = mail.outbox
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", message.body).group(1)

    Client().post(LOGIN, {"login": "newbie", "password": "a long new passphrase"})
    assert not EmailAddress.objects.get(email="new@example.com").verified

    client.post(link)
    assert EmailAddress.objects.get(email="new@example.com").verified
    again = Client()
    again.post(LOGIN, {"login": "newbie", "password": "a long new passphrase"})
    assert signed_in_user_id(again) is not None


def test_invite_only_sign_up_takes_the_invited_email_only(settings):
    settings.TRADEBOT_SIGNUP = "invite"
    assert "Sign Up Closed" in Client().get("/accounts/signup/").content.decode()
    assert "Sign Up Closed" in Client().get("/accounts/signup/?invite=forged").content.decode()

    client = Client()
    link = invite_link("Guest@Example.com")
    assert "Sign Up Closed" not in client.get(link).content.decode()
    form = {"username": "guest", "password1": "a long new passphrase", "password2": "a long new passphrase"}
    refused = client.post("/accounts/signup/", {**form, "email": "someone@else.com"})
    assert "This invitation is for guest@example.com" in refused.content.decode()
    client.post("/accounts/signup/", {**form, "email": "guest@example.com"})
    assert EmailAddress.objects.filter(email="guest@example.com").exists()


def test_a_forgotten_password_is_reset_by_email():
    UserFactory(username="cleo", email="cleo@example.com")
    client = Client()
    client.post("/accounts/password/reset/", {"email": "cleo@example.com"})
    [message] = mail.outbox
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", message.body).group(1)
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0], {"password1": "a brand new passphrase", "password2": "a brand new passphrase"}
    )
    fresh = Client()
    fresh.post(LOGIN, {"login": "cleo", "password": "a brand new passphrase"})
    assert signed_in_user_id(fresh) is not None


def test_existing_accounts_without_email_still_sign_in():
    user = UserFactory(username="operator", email="")
    client = Client()
    client.post(LOGIN, {"login": "operator", "password": PASSWORD})
    assert signed_in_user_id(client) == str(user.pk)


def test_sessions_from_before_allauth_stay_signed_in():
    user = UserFactory()
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/").status_code == 200
