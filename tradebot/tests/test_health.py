from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError
from django.utils import timezone

from tradebot import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_health_state():
    cache.delete_many([health.HEARTBEAT_KEY, health.MARKET_DATA_KEY])
    yield
    cache.delete_many([health.HEARTBEAT_KEY, health.MARKET_DATA_KEY])


def heartbeat_at(age_seconds: float) -> None:
    cache.set(health.HEARTBEAT_KEY, timezone.now() - timedelta(seconds=age_seconds), timeout=None)


def test_it_is_200_when_every_part_is_ok(client):
    health.record_heartbeat()
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    expected = {"database", "beat", "market_data"} | ({"redis"} if settings.REDIS_URL else set())
    assert set(body["checks"]) == expected
    assert body["checks"]["beat"]["age_seconds"] < 5
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_reports_no_redis_on_embedded_defaults(client, settings):
    settings.REDIS_URL = ""
    health.record_heartbeat()
    assert "redis" not in client.get("/health").json()["checks"]


def test_no_heartbeat_at_all_is_503_naming_beat(client):
    # Beat sends a heartbeat as it starts, so none at all means beat or the worker is not running.
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["beat"]
    assert "no heartbeat yet" in body["checks"]["beat"]["error"]


def test_a_heartbeat_older_than_three_intervals_is_503_naming_beat(client):
    heartbeat_at(3 * health.heartbeat_interval() + 5)
    response = client.get("/health")
    assert response.status_code == 503
    beat = response.json()["checks"]["beat"]
    assert response.json()["failing"] == ["beat"]
    assert beat["age_seconds"] > 90
    assert "no heartbeat for" in beat["error"]


def test_a_late_heartbeat_within_three_intervals_is_still_ok(client):
    heartbeat_at(3 * health.heartbeat_interval() - 5)
    assert client.get("/health").status_code == 200


class BrokenConnection:
    def cursor(self):
        raise OperationalError("connection refused")


def test_an_unreachable_database_is_503_naming_database(client, monkeypatch):
    health.record_heartbeat()
    monkeypatch.setattr(health, "connection", BrokenConnection())
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["checks"]["database"]["error"] == "OperationalError: connection refused"


def test_an_unreachable_redis_is_503_naming_redis(client, settings):
    health.record_heartbeat()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]
    assert "ConnectionError" in response.json()["checks"]["redis"]["error"]


def test_the_market_data_feed_is_idle_before_any_fetch(client):
    health.record_heartbeat()
    assert client.get("/health").json()["checks"]["market_data"] == {"ok": True, "state": "idle"}


def test_a_failed_fetch_is_503_naming_market_data_until_a_fetch_succeeds(client):
    health.record_heartbeat()
    health.record_market_data("alpaca", error="HTTP 500 from the data API")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["market_data"]
    assert response.json()["checks"]["market_data"]["error"] == "HTTP 500 from the data API"

    health.record_market_data("alpaca")
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["market_data"]["feed"] == "alpaca"


def test_it_names_every_failing_part(client):
    health.record_market_data("sim", error="boom")
    assert client.get("/health").json()["failing"] == ["beat", "market_data"]


def test_it_rejects_post(client):
    assert client.post("/health").status_code == 405


@pytest.mark.services
def test_it_pings_the_real_redis(client):
    health.record_heartbeat()  # through the Redis cache
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == {"ok": True}
