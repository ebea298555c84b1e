"""A person's own API tokens: made with a name and an optional expiry, shown once, listed with their
last use, revoked."""

import pytest
from django.test import Client

from accounts.models import ApiToken
from accounts.services import api_token_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/accounts/tokens/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_new_token_is_shown_once_and_works():
    user = UserFactory()
    client = signed_in(user)
    made = client.post(PAGE, {"name": "laptop", "expires_in": "30"}).content.decode()
    secret = made.split('<code id="new-token">')[1].split("</code>")[0]
    token = ApiToken.objects.get(user=user, name="laptop")
    assert token.expires_at is not None

    assert Client().get("/api/bots", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    listed = client.get(PAGE).content.decode()
    assert secret not in listed and token.prefix in listed


def test_a_revoked_token_stops_working():
    user = UserFactory()
    token, secret = api_token_create(user=user, name="old")
    signed_in(user).post(f"{PAGE}{token.pk}/revoke/")
    assert Client().get("/api/bots", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_someone_elses_token_is_neither_listed_nor_revoked():
    theirs, secret = api_token_create(user=UserFactory(), name="theirs")
    client = signed_in(UserFactory())
    assert "theirs" not in client.get(PAGE).content.decode()
    assert client.post(f"{PAGE}{theirs.pk}/revoke/").status_code == 404
    assert Client().get("/api/bots", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
