"""API tokens: issued once, stored hashed, revocable in the admin, created by a command."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create, api_token_user
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_only_the_hash_of_the_secret_is_stored():
    user = UserFactory()
    token, secret = api_token_create(user=user, name="laptop")
    stored = ApiToken.objects.values_list("token_hash", "prefix").get(pk=token.pk)
    assert stored == (hashlib.sha256(secret.encode()).hexdigest(), secret[:9])
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert api_token_user(secret) == user
    assert api_token_user(secret + "x") is None and api_token_user("") is None


def test_an_expired_token_no_longer_authenticates():
    user = UserFactory()
    token, secret = api_token_create(user=user, name="short-lived", expires_at=timezone.now() + timedelta(hours=1))
    assert api_token_user(secret) == user
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_token_user(secret) is None


def test_two_tokens_never_share_a_secret():
    user = UserFactory()
    assert api_token_create(user=user, name="a")[1] != api_token_create(user=user, name="b")[1]


def test_the_command_prints_the_token_once():
    user = UserFactory(username="ada")
    out, err = StringIO(), StringIO()
    call_command("create_api_token", "ada", "--name", "grafana", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert api_token_user(secret) == user
    assert ApiToken.objects.get(user=user).name == "grafana"
    assert "shown once" in err.getvalue() and secret not in err.getvalue()


def test_the_command_refuses_an_unknown_user():
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody", stdout=StringIO(), stderr=StringIO())


@pytest.fixture
def admin_user():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_admin_shows_a_new_token_once(admin_client, admin_user):
    owner = admin_user  # a token made in the admin is always the requester's
    response = admin_client.post("/admin/accounts/apitoken/add/", {"name": "ci"}, follow=True)
    assert response.status_code == 200
    token = ApiToken.objects.get(user=owner)
    words = [word for m in response.context["messages"] for word in str(m).split()]
    [secret] = [word for word in words if word.startswith("tb_")]
    assert api_token_user(secret) == owner and token.prefix in secret
    page = admin_client.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert secret not in page and token.prefix in page


def test_the_admin_revokes_tokens(admin_client):
    token, secret = api_token_create(user=UserFactory(), name="leaked")
    response = admin_client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None and api_token_user(secret) is None
