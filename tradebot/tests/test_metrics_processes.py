"""/metrics adds up the counts of every process: a real Celery worker ticks a bot, a real daphne
serves /metrics, both on PostgreSQL and Redis, sharing PROMETHEUS_MULTIPROC_DIR. The worker logs its
tick as a JSON line through Django's handlers, with the task's and the bot's ids."""

import json
import time
import urllib.request

import pytest

from bots import services
from bots.tasks import tick
from bots.tests.test_ticks import RSI_ONLY
from tests.celery_worker import running_worker
from tests.factories import BotFactory
from tests.metrics_scrape import samples, value
from tests.web_process import running_web
from tradebot.celery import app

WAIT_SECONDS = 60


def scrape(url: str, token: str) -> dict:
    request = urllib.request.Request(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return samples(response.read().decode())


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_web_process_serves_what_the_worker_counted(monkeypatch, tmp_path):
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared), "TRADEBOT_METRICS_TOKEN": "scrape-token", "LOG_FORMAT": "json"}
    bot = services.bot_start(bot=BotFactory(config=RSI_ONLY, owner__password=None))
    monkeypatch.setitem(app.conf, "task_always_eager", False)

    with (
        running_worker(tmp_path / "worker.log", **env) as (worker, queue),
        running_web(tmp_path / "web.log", **env) as url,
    ):
        tick.apply_async(args=[bot.pk], queue=queue, expires=WAIT_SECONDS)
        deadline = time.monotonic() + WAIT_SECONDS
        while not sum(v for (name, _), v in scrape(url, "scrape-token").items() if name == "tradebot_ticks_total"):
            assert worker.poll() is None, f"the worker died:\n{(tmp_path / 'worker.log').read_text()}"
            assert time.monotonic() < deadline, f"no tick counted:\n{(tmp_path / 'worker.log').read_text()}"
            time.sleep(0.3)
        scraped = scrape(url, "scrape-token")

    assert value(scraped, "tradebot_bots", status="running") == 1
    ticks = sum(v for (name, _), v in scraped.items() if name == "tradebot_tick_duration_seconds_count")
    assert ticks == 1
    # The web process's own requests (its earlier scrapes) and the worker's queries, in one answer.
    views = [labels for name, labels in scraped if name == "django_http_requests_total_by_view_transport_method_total"]
    assert ("view", "metrics") in set().union(*views)
    assert sum(v for (name, _), v in scraped.items() if name == "django_db_execute_total") > 0
    assert any(name == "tradebot_celery_queue_depth" for name, _ in scraped)
    # Each process wrote its own file there.
    assert len({path.name.rsplit("_", 1)[-1] for path in shared.iterdir()}) >= 2

    lines = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines() if line.startswith("{")]
    [tick_line] = [line for line in lines if line["event"] == "tick"]
    assert tick_line["bot_id"] == bot.pk and tick_line["task"] == "bots.tick" and tick_line["task_id"]
    # Celery's own lines go through the same handler.
    assert any(line["logger"].startswith("celery") for line in lines)
