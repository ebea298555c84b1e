"""The API root: authentication, CSRF, rate limiting, the schema and docs, and the error format."""

import re

import pytest
from django.test import Client, override_settings

from accounts.services import api_token_create, api_token_revoke
from bots.models import Bot
from tests.api_client import api_client
from tests.factories import DESIGN_CONFIG, UserFactory
from tradebot.api import api

pytestmark = pytest.mark.django_db


def every_operation():
    paths = api.get_openapi_schema(path_prefix="/api/")["paths"]
    for path, methods in paths.items():
        url = re.sub(r"\{id\}", "1", path).replace("{symbol}", "AAPL")
        for method in methods:
            yield method, url


@pytest.mark.parametrize("method,url", list(every_operation()))
def test_every_endpoint_is_401_without_credentials(method, url):
    response = getattr(Client(), method)(url)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_the_schema_and_docs_need_credentials_too():
    assert Client().get("/api/openapi.json").status_code == 401
    assert Client().get("/api/docs").status_code == 401
    client = Client()
    client.force_login(UserFactory())
    schema = client.get("/api/openapi.json").json()
    assert "/api/bots/{id}/start" in schema["paths"] and "/api/trades/export" in schema["paths"]
    assert client.get("/api/docs").status_code == 200


def test_health_needs_no_credentials():
    assert Client().get("/health").status_code in (200, 503)


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_a_bearer_token_authenticates_and_is_marked_used():
    user = UserFactory()
    token, secret = api_token_create(user=user, name="script")
    assert Client().get("/api/bots", **bearer(secret)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header", ["Bearer tb_wrong", "Bearer ", "Basic dXNlcjpwYXNz", "tb_nobearer", "Bearer " + "x" * 5000]
)
def test_bad_authorization_headers_are_401(header):
    assert Client().get("/api/bots", HTTP_AUTHORIZATION=header).status_code == 401


def test_a_revoked_token_or_an_inactive_user_is_401():
    user = UserFactory()
    token, secret = api_token_create(user=user, name="old")
    api_token_revoke(token=token)
    assert Client().get("/api/bots", **bearer(secret)).status_code == 401
    _, fresh = api_token_create(user=user, name="new")
    user.is_active = False
    user.save()
    assert Client().get("/api/bots", **bearer(fresh)).status_code == 401


def test_token_requests_need_no_csrf_token():
    _, secret = api_token_create(user=UserFactory(), name="script")
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/bots", DESIGN_CONFIG, content_type="application/json", **bearer(secret))
    assert response.status_code == 201


def test_a_session_reads_freely_but_writes_only_with_the_csrf_token():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/bots").status_code == 200
    response = client.post("/api/bots", DESIGN_CONFIG, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert not Bot.objects.exists()
    client.cookies["csrftoken"] = "a" * 32
    response = client.post("/api/bots", DESIGN_CONFIG, content_type="application/json", HTTP_X_CSRFTOKEN="a" * 32)
    assert response.status_code == 201


def test_an_anonymous_post_is_401_not_a_csrf_error():
    response = Client(enforce_csrf_checks=True).post("/api/bots", DESIGN_CONFIG, content_type="application/json")
    assert response.status_code == 401


@override_settings(TRADEBOT_API_RATE="3/minute")
def test_over_the_rate_is_429_with_retry_after():
    client, neighbour = api_client(UserFactory()), api_client(UserFactory())
    assert [client.get("/bots").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/bots")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert neighbour.get("/bots").status_code == 200  # counted per user


def test_unknown_ids_and_paths():
    client = api_client(UserFactory())
    for path in ("/bots/7", "/trades/7", "/positions/7", "/market-status?broker_account_id=7"):
        assert client.get(path).status_code == 404, path


@override_settings(TRADEBOT_API_RATE="1/minute")
def test_a_cache_that_is_down_does_not_take_the_api_down(monkeypatch):
    from accounts import throttle

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(throttle.default_cache, "add", down)
    client = api_client(UserFactory())
    assert [client.get("/bots").status_code for _ in range(3)] == [200, 200, 200]


def test_a_value_the_database_refuses_is_a_422_not_a_500(monkeypatch):
    from django.db import DataError

    from bots import selectors

    def refuse(**kwargs):
        raise DataError("value out of range")

    monkeypatch.setattr(selectors, "bot_list", refuse)
    response = api_client(UserFactory()).get("/bots")
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "__all__"
