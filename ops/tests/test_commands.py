"""The project-wide commands `make run` calls before serving: ensure_admin and seed_demo."""

import pytest
from django.contrib.auth import authenticate, get_user_model

from bots.models import Bot
from bots.tests.test_commands import run
from engine.presets import PRESETS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_running_demo_bots_once():
    admin = UserFactory(is_superuser=True, is_staff=True)
    first = run("seed_demo")
    second = run("seed_demo")
    bots = Bot.objects.filter(owner=admin)
    demo = len(PRESETS)
    assert demo >= 5 and bots.count() == demo and first.count("created:") == demo and second.count("exists:") == demo
    assert set(bots.values_list("status", flat=True)) == {"running"}
    assert all(bot.broker_account.kind == "sim" for bot in bots)


def test_ensure_admin_creates_one_superuser_and_prints_a_login_that_works_once():
    printed = run("ensure_admin")
    password = printed.split("Log in as admin / ")[1].split()[0]
    assert authenticate(username="admin", password=password).is_superuser
    assert run("ensure_admin") == ""  # a superuser exists: nothing made, nothing shown
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
