from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bots.models import Bot
from bots.tests.test_ticks import RSI_ONLY, add_bars, falling_closes, fresh_caches  # noqa: F401
from engine.market_time import EXCHANGE_TZ
from tests.factories import BotFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_tick_force_trades_now_and_prints_each_decision_with_its_reason():
    add_bars("TEST", falling_closes())
    bot = BotFactory(config=dict(RSI_ONLY, start_hour=9, start_minute=30, end_hour=9, end_minute=31))
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.RUNNING)

    output = run("tick", str(bot.pk), "--force")

    assert f"bot {bot.pk}: traded" in output
    assert "TEST: buy 12 buy signal (RSI: buy)" in output


def test_tick_without_force_respects_the_window():
    add_bars("TEST", falling_closes())
    later = (datetime.now(EXCHANGE_TZ) + timedelta(hours=2)).hour  # a one-minute window that is not now
    bot = BotFactory(config=dict(RSI_ONLY, start_hour=later, start_minute=0, end_hour=later, end_minute=1))
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.RUNNING)

    output = run("tick", str(bot.pk))

    assert "skipped (outside the window" in output
    assert not bot.trades.exists()


def test_tick_of_an_unknown_bot_is_an_error():
    with pytest.raises(CommandError, match="no bot with id 999"):
        run("tick", "999")
