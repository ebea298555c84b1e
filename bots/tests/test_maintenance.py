from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import override_settings
from django.utils import timezone

from bots import maintenance, services
from bots.models import Bot, TickLog
from market.models import Bar
from tests.factories import BotFactory, PositionFactory
from tradebot.events import user_group

pytestmark = pytest.mark.django_db


def receive(group: str):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return lambda: async_to_sync(layer.receive)(channel)


def test_mark_to_market_prices_open_positions_and_tells_their_owner(django_capture_on_commit_callbacks):
    position = PositionFactory(symbol="TEST", quantity=10, entry_price=Decimal("100"), entry_commission=Decimal("1"))
    Bar.objects.create(
        symbol="TEST",
        timeframe="1Min",
        time=timezone.now() - timedelta(minutes=5),
        open=104,
        high=106,
        low=103,
        close=Decimal("105.5"),
        volume=100,
    )
    next_message = receive(user_group(position.owner_id))

    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.positions_mark_to_market() == 1

    position.refresh_from_db()
    assert position.current_price == Decimal("105.5")
    assert position.unrealized_pnl == Decimal("54")  # (105.50 - 100) x 10 - 1 commission paid
    events = {next_message()["event"], next_message()["event"]}
    assert events == {"price_update", "position_updated"}


def test_the_daily_reset_resumes_only_bots_a_daily_rule_paused_before_the_session_opened():
    before_open = services.bot_pause(
        bot=services.bot_start(bot=BotFactory()), reason="max daily loss", until_reset=True
    )
    by_hand = services.bot_pause(bot=services.bot_start(bot=BotFactory()), reason="by hand")
    after_open = services.bot_pause(bot=services.bot_start(bot=BotFactory()), reason="max daily loss", until_reset=True)
    Bot.objects.filter(pk__in=[before_open.pk, by_hand.pk]).update(paused_at=timezone.now() - timedelta(days=3))

    with override_settings(TRADEBOT_SIM_ALWAYS_OPEN=False):
        resumed = maintenance.bots_daily_reset()
        assert maintenance.bots_daily_reset() == []  # a second run changes nothing

    assert [bot.pk for bot in resumed] == [before_open.pk]
    statuses = dict(Bot.objects.values_list("pk", "status"))
    assert statuses == {before_open.pk: "running", by_hand.pk: "paused", after_open.pk: "paused"}


def test_the_tick_record_keeps_the_newest_entries_of_each_bot():
    bot = BotFactory()
    start = datetime(2024, 1, 2, tzinfo=UTC)
    TickLog.objects.bulk_create(
        TickLog(bot=bot, started_at=start + timedelta(minutes=i), outcome="idle")
        for i in range(TickLog.KEEP_PER_BOT + 25)
    )
    assert maintenance.tick_logs_prune() == 25
    kept = TickLog.objects.filter(bot=bot)
    assert kept.count() == TickLog.KEEP_PER_BOT
    assert kept.order_by("started_at").first().started_at == start + timedelta(minutes=25)
