from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError
from django.utils import timezone

from tests.factories import UserFactory
from tradebot import health

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_health_state():
    keys = [health.BEAT_SENT_KEY, health.HEARTBEAT_KEY, health.MARKET_DATA_KEY, health.STREAM_KEY]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def staff_client(client):
    """The details of each part are for signed-in staff."""
    client.force_login(UserFactory(is_staff=True))
    return client


def heartbeats_fresh() -> None:
    """Beat sent a heartbeat and a worker ran it, just now."""
    health.record_beat_sent()
    health.record_heartbeat()


def heartbeat_at(age_seconds: float, *, key: str = health.BEAT_SENT_KEY) -> None:
    cache.set(key, timezone.now() - timedelta(seconds=age_seconds), timeout=None)


def test_it_is_200_when_every_part_is_ok(staff_client):
    heartbeats_fresh()
    response = staff_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    expected = {"database", "beat", "worker", "stream", "market_data", "broker_keys"} | (
        {"redis"} if settings.REDIS_URL else set()
    )
    assert set(body["checks"]) == expected
    assert body["checks"]["beat"]["age_seconds"] < 5 and body["checks"]["worker"]["age_seconds"] < 5
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_reports_no_redis_on_embedded_defaults(client, settings):
    settings.REDIS_URL = ""
    heartbeats_fresh()
    assert "redis" not in client.get("/health").json()["checks"]


def test_no_heartbeat_at_all_is_503_naming_beat_alone(staff_client):
    # Beat sends a heartbeat as it starts: none sent means beat is not running. Whether a worker would
    # run one cannot be told then, so the worker is not blamed.
    response = staff_client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["beat"]
    assert "beat is not running" in body["checks"]["beat"]["error"]
    assert body["checks"]["worker"] == {"ok": True, "state": "unknown while beat sends no heartbeat"}


def test_a_heartbeat_older_than_three_intervals_is_503_naming_beat(staff_client):
    heartbeat_at(3 * health.heartbeat_interval() + 5)
    response = staff_client.get("/health")
    assert response.status_code == 503
    beat = response.json()["checks"]["beat"]
    assert response.json()["failing"] == ["beat"]
    assert beat["age_seconds"] > 90
    assert "beat has sent no heartbeat for" in beat["error"]


def test_heartbeats_sent_but_never_run_name_the_worker_not_beat(staff_client):
    health.record_beat_sent()
    heartbeat_at(3 * health.heartbeat_interval() + 5, key=health.HEARTBEAT_KEY)  # the worker died a while ago
    response = staff_client.get("/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]
    assert "no Celery worker runs them" in response.json()["checks"]["worker"]["error"]


def test_a_late_heartbeat_within_three_intervals_is_still_ok(client):
    heartbeat_at(3 * health.heartbeat_interval() - 5)
    heartbeat_at(3 * health.heartbeat_interval() - 5, key=health.HEARTBEAT_KEY)
    assert client.get("/health").status_code == 200


class BrokenConnection:
    def cursor(self):
        raise OperationalError("connection refused")


def test_an_unreachable_database_is_503_naming_database(staff_client, monkeypatch):
    heartbeats_fresh()
    staff_client.get("/health")  # the session is read before the database breaks
    monkeypatch.setattr(health, "connection", BrokenConnection())
    response = staff_client.get("/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert response.json()["checks"]["database"]["error"] == "OperationalError: connection refused"


def test_an_unreachable_redis_is_503_naming_redis(staff_client, settings):
    heartbeats_fresh()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = staff_client.get("/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]
    assert "ConnectionError" in response.json()["checks"]["redis"]["error"]


def test_no_market_data_feed_before_any_fetch_is_ok(staff_client):
    heartbeats_fresh()
    assert staff_client.get("/health").json()["checks"]["market_data"] == {"ok": True, "feeds": {}}


def test_a_failed_fetch_is_503_naming_market_data_until_a_fetch_of_that_symbol_succeeds(staff_client):
    heartbeats_fresh()
    health.record_market_data("alpaca iex", symbol="AAPL", error="HTTP 500: injected")
    response = staff_client.get("/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["market_data"]
    feed = response.json()["checks"]["market_data"]["feeds"]["alpaca iex"]
    assert feed["failing_symbols"] == ["AAPL"]
    assert feed["last_failure"]["error"] == "HTTP 500: injected" and feed["last_success"] is None

    health.record_market_data("alpaca iex", symbol="AAPL")
    response = staff_client.get("/health")
    assert response.status_code == 200
    feed = response.json()["checks"]["market_data"]["feeds"]["alpaca iex"]
    assert feed["ok"] and feed["last_success"]["symbol"] == "AAPL" and feed["last_failure"]["symbol"] == "AAPL"


def test_a_symbol_that_keeps_failing_is_not_hidden_by_another_that_succeeds(client):
    heartbeats_fresh()
    for symbol in ("AAA", "BBB", "CCC"):
        health.record_market_data("simulated", symbol=symbol, error="boom")
    health.record_market_data("simulated", symbol="MSFT")
    assert client.get("/health").json()["failing"] == ["market_data"]


def test_a_failure_older_than_five_minutes_no_longer_counts(client, monkeypatch):
    heartbeats_fresh()
    health.record_market_data("simulated", symbol="AAA", error="boom")
    later = timezone.now() + timedelta(seconds=health.MARKET_FAILURE_TTL + 1)
    monkeypatch.setattr(health.timezone, "now", lambda: later)
    assert client.get("/health").json()["checks"]["market_data"] == {"ok": True}


def test_it_names_every_failing_part(client):
    health.record_market_data("simulated", symbol="AAPL", error="boom")
    assert client.get("/health").json()["failing"] == ["beat", "market_data"]


def test_anonymous_callers_get_only_ok_or_failing_per_part(client):
    health.record_market_data("alpaca iex", symbol="AAPL", error="HTTP 500 from https://data.example/v2?key=x")
    body = client.get("/health").json()
    assert body["status"] == "failing"
    assert body["checks"] == {name: {"ok": name not in ("beat", "market_data")} for name in body["checks"]}
    assert "data.example" not in str(body)


def test_a_signed_in_trader_who_is_not_staff_gets_no_details_either(client):
    client.force_login(UserFactory())
    health.record_market_data("alpaca iex", symbol="AAPL", error="HTTP 500")
    assert client.get("/health").json()["checks"]["market_data"] == {"ok": False}


def test_it_rejects_post(client):
    assert client.post("/health").status_code == 405


@pytest.mark.services
def test_it_pings_the_real_redis(client):
    heartbeats_fresh()  # through the Redis cache
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == {"ok": True}


def stream_connection(**state) -> dict:
    return {
        "name": "alpaca data iex",
        "connected": True,
        "subscriptions": 3,
        "last_message_age_seconds": 0.2,
        "reconnects": 0,
        "down_seconds": None,
    } | state


def test_the_stream_before_any_report_is_ok_and_says_so(staff_client):
    heartbeats_fresh()
    response = staff_client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["stream"] == {"ok": True, "state": "no stream service has reported yet"}


def test_the_streams_connections_are_shown_and_a_long_drop_or_a_silent_service_fails(staff_client):
    heartbeats_fresh()
    health.record_stream([stream_connection()])
    stream = staff_client.get("/health").json()["checks"]["stream"]
    assert stream["ok"] and stream["connections"][0]["subscriptions"] == 3

    health.record_stream([stream_connection(connected=False, down_seconds=45.0)])
    response = staff_client.get("/health")
    assert response.status_code == 503 and response.json()["failing"] == ["stream"]
    assert "alpaca data iex" in response.json()["checks"]["stream"]["error"]

    cache.set(health.STREAM_KEY, {"at": timezone.now() - timedelta(seconds=60), "connections": []}, timeout=None)
    assert "not reported for 60 s" in staff_client.get("/health").json()["checks"]["stream"]["error"]
