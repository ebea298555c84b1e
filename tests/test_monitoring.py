"""The Prometheus and Grafana set-up shipped in monitoring/ and docker-compose.yml: every metric the
dashboard and the alert rules ask for is one /metrics serves, the dashboard's queries use the
provisioned data source, and the compose file wires them up with pinned images."""

import json
import re
from datetime import timedelta

import pytest
import yaml
from django.conf import settings

from bots.ticks import bot_tick
from tests import test_alpaca_ticks
from tests.metrics_scrape import samples
from tests.test_alpaca_ticks import AFTER_FALL, fast_retries  # noqa: F401
from tradebot import health

MONITORING = settings.BASE_DIR / "monitoring"
DASHBOARD = json.loads((MONITORING / "grafana/dashboards/tradebot.json").read_text())
ALERTS = yaml.safe_load((MONITORING / "prometheus/alerts.yml").read_text())
COMPOSE = yaml.safe_load((settings.BASE_DIR / "docker-compose.yml").read_text())
METRIC = re.compile(r"\b(?:tradebot|django)_[a-z_]+\b")
# Served with REDIS_URL only (the service suite scrapes it: tradebot/tests/test_metrics_processes.py).
REDIS_ONLY = {"tradebot_celery_queue_depth"}

market, bot = test_alpaca_ticks.market, test_alpaca_ticks.bot


def expressions() -> list[str]:
    queries = [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]
    return queries + [rule["expr"] for group in ALERTS["groups"] for rule in group["rules"]]


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_retries")
def test_every_metric_the_dashboard_and_alerts_ask_for_is_served(client, market, bot):
    market.fail_next("/v2/orders", 503, times=1, method="POST")  # one retry
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=1))
    health.record_beat_sent()
    health.record_heartbeat()
    client.get("/health")

    served = {name for name, _ in samples(client.get("/metrics").content.decode())}

    asked = {name for expr in expressions() for name in METRIC.findall(expr)}
    assert asked - REDIS_ONLY - served == set()
    assert {"tradebot_ticks_total", "tradebot_heartbeat_age_seconds", "tradebot_orders_total"} <= asked


def test_the_dashboard_uses_the_provisioned_data_source():
    [source] = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    panels = DASHBOARD["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": source["uid"]}
        assert panel["targets"] and all(target["expr"] for target in panel["targets"])
    titles = " ".join(panel["title"] for panel in panels)
    for wanted in ("Ticks per second", "Tick duration", "Orders", "Alpaca errors", "queue depth", "HTTP p95"):
        assert wanted in titles


def test_the_alerts_cover_beat_ticks_brokers_and_the_queue():
    rules = {rule["alert"]: rule for group in ALERTS["groups"] for rule in group["rules"]}
    assert {"NoBeatHeartbeat", "TickFailureRate", "BrokerErrors", "QueueBacklog"} <= set(rules)
    assert all(rule["for"] and rule["annotations"]["summary"] for rule in rules.values())


def test_compose_runs_prometheus_and_grafana_on_pinned_images_with_the_shipped_files():
    services = COMPOSE["services"]
    for name in ("prometheus", "grafana"):
        image = services[name]["image"]
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", image), image
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (settings.BASE_DIR / source).exists(), source
    scrape = yaml.safe_load((MONITORING / "prometheus/prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert "metrics_token" in services["prometheus"]["secrets"]
    # Web and worker share the directory where each process writes its counts; migrate empties it.
    for name in ("web", "worker", "migrate"):
        assert "metrics:/var/lib/tradebot-metrics" in services[name]["volumes"]
