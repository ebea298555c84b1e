"""Backtests never starve live trading: their own queue (and worker), a cap per person on those queued
or running (429 with the reason), one running at a time per person, and a sweeper for the runs whose
worker died."""

import json
from datetime import date, timedelta

import pytest
from django.utils import timezone

from backtests import services
from backtests.models import Backtest
from engine.config import BotConfig
from tests.api_client import api_client
from tests.factories import DESIGN_CONFIG, UserFactory
from tradebot.celery import app

pytestmark = pytest.mark.django_db

ALL_DAY = {"start_hour": 0, "start_minute": 0, "end_hour": 23, "end_minute": 59}
CONFIG = {**DESIGN_CONFIG, **ALL_DAY, "signal_mode": "any", "symbols": ["AAPL"]}
RANGE = {"start": "2024-03-04", "end": "2024-03-05"}


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_backtests_have_their_own_queue_and_ticks_keep_the_default_one():
    assert queue_of("backtests.run_backtest") == "backtests"
    for task in ("bots.tick", "bots.reconcile", "tradebot.tasks.beat_heartbeat", "backtests.sweep_stale"):
        assert queue_of(task) == app.conf.task_default_queue


def test_over_the_cap_a_backtest_is_refused_with_429_and_the_reason(settings):
    settings.TRADEBOT_BACKTESTS_PER_USER = 3
    user = UserFactory()
    client = api_client(user)
    for _ in range(3):  # queued: the on-commit send never runs in this test's transaction
        assert client.post("/backtests", json={"config": CONFIG, **RANGE}).status_code == 201
    refused = client.post("/backtests", json={"config": CONFIG, **RANGE})
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "you have 3 backtests queued or running, the most allowed: wait for one to finish"
    }
    assert Backtest.objects.filter(owner=user).count() == 3
    # Someone else's queue is their own.
    assert api_client(UserFactory()).post("/backtests", json={"config": CONFIG, **RANGE}).status_code == 201
    # A finished one frees its place.
    Backtest.objects.filter(pk=Backtest.objects.filter(owner=user).first().pk).update(status=Backtest.Status.DONE)
    assert client.post("/backtests", json={"config": CONFIG, **RANGE}).status_code == 201


def test_the_page_shows_the_cap_as_a_form_error(client, settings):
    settings.TRADEBOT_BACKTESTS_PER_USER = 1
    user = UserFactory()
    services.backtest_create(owner=user, config=services_config(), start=date(2024, 3, 4), end=date(2024, 3, 5))
    client.force_login(user)
    form = {"config": json.dumps(CONFIG), "start": "2024-03-04", "end": "2024-03-05", "timeframe": "", "symbols": ""}
    page = client.post("/backtests/new/", form)
    assert page.status_code == 200
    assert "you have 1 backtests queued or running" in page.content.decode()
    assert Backtest.objects.filter(owner=user).count() == 1


def services_config() -> BotConfig:
    return BotConfig.model_validate(CONFIG)


def test_a_persons_second_backtest_waits_while_their_first_runs():
    user = UserFactory()
    first = services.backtest_create(owner=user, config=services_config(), start=date(2024, 3, 4), end=date(2024, 3, 5))
    second = services.backtest_create(
        owner=user, config=services_config(), start=date(2024, 3, 4), end=date(2024, 3, 5)
    )
    Backtest.objects.filter(pk=first.pk).update(status=Backtest.Status.RUNNING, alive_at=timezone.now())

    services.backtest_run(backtest_id=second.pk)
    assert Backtest.objects.get(pk=second.pk).status == Backtest.Status.QUEUED

    other = services.backtest_create(
        owner=UserFactory(), config=services_config(), start=date(2024, 3, 4), end=date(2024, 3, 5)
    )
    services.backtest_run(backtest_id=other.pk)
    assert Backtest.objects.get(pk=other.pk).status == Backtest.Status.DONE


def test_the_sweeper_fails_runs_whose_worker_died(settings):
    settings.TRADEBOT_BACKTEST_STALE_SECONDS = 600
    user = UserFactory()
    dead, alive = (
        services.backtest_create(owner=user, config=services_config(), start=date(2024, 3, 4), end=date(2024, 3, 5))
        for _ in range(2)
    )
    now = timezone.now()
    Backtest.objects.filter(pk=dead.pk).update(status="running", alive_at=now - timedelta(minutes=11))
    Backtest.objects.filter(pk=alive.pk).update(status="running", alive_at=now - timedelta(minutes=1))

    assert services.backtests_sweep_stale() == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "failed" and "worker stopped" in dead.error
    assert alive.status == "running"
