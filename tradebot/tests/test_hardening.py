"""Deployment hardening: HTTPS settings from the environment, a strict CSP, nothing authenticated cached,
and every API error in the API's JSON shape."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from accounts.services import api_token_create
from tests.factories import UserFactory

PRODUCTION = {
    "DEBUG": "off",
    "SECRET_KEY": "a-real-and-long-secret-key-for-this-test-0123456789-abcdefghijklmnop",
    "TRADEBOT_ENCRYPTION_KEY": "another-real-key",
    "ALLOWED_HOSTS": "trade.example.com",
    "TRADEBOT_HTTPS": "on",
}


def check_deploy(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("TRADEBOT_TESTING", "DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=environment | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_variables():
    checked = check_deploy(**PRODUCTION)
    assert checked.returncode == 0, checked.stderr


def test_check_deploy_names_what_is_missing_without_https():
    checked = check_deploy(**(PRODUCTION | {"TRADEBOT_HTTPS": "off"}))
    assert checked.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in checked.stderr


@pytest.mark.django_db
def test_pages_carry_a_strict_content_security_policy(client):
    policy = client.get("/accounts/login/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_authenticated_pages_and_api_answers_are_never_stored(client):
    client.force_login(UserFactory())
    assert "no-store" in client.get("/").headers["Cache-Control"]
    assert "no-store" in client.get("/api/bots").headers["Cache-Control"]
    _, token = api_token_create(user=UserFactory(), name="t")
    assert "no-store" in Client().get("/api/bots", HTTP_AUTHORIZATION=f"Bearer {token}").headers["Cache-Control"]


@pytest.fixture
def token_client():
    _, token = api_token_create(user=UserFactory(), name="t")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}", raise_request_exception=False)


@pytest.mark.django_db
def test_a_too_large_body_is_a_json_413(token_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "x" * 2000, "kind": "sim"})
    response = token_client.post("/api/broker-accounts", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"detail": "the request body is larger than 1000 bytes"}


@pytest.mark.django_db
def test_an_unexpected_error_is_a_json_500_that_reveals_nothing(token_client, caplog):
    # A real failure, not a mock: the bots table is gone (inside the test's transaction, rolled back after).
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE bots_bot RENAME TO bots_bot_gone")
    response = token_client.get("/api/bots")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error: it has been logged"}
    assert "bots_bot" in caplog.text


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404(token_client):
    response = token_client.get("/api/no-such-thing")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}
