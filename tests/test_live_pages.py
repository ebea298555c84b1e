"""What keeps every page live, across the apps: the market banner everywhere, and the mark of the latest
change (trades, positions, bots, ticks) that pages poll on the embedded run to catch up with other processes."""

import pytest
from django.test import override_settings
from django.urls import reverse

from bots import services
from tests.factories import BotFactory, PositionFactory, TradeFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


EMBEDDED = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
REDIS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://unused"]}}}


@pytest.mark.parametrize(
    "name", ["bots:dashboard", "bots:list", "bots:new", "trades:list", "positions:list", "backtests:list"]
)
def test_every_page_shows_the_market_banner_and_asks_to_catch_up_on_the_embedded_run(signed_in, name):
    with override_settings(CHANNEL_LAYERS=EMBEDDED):
        html = signed_in.get(reverse(name)).content.decode()
    assert 'id="market-status"' in html and "Market " in html
    assert f'data-catch-up-url="{reverse("bots:live_mark")}"' in html


def test_on_redis_pages_get_every_processs_events_and_poll_nothing(signed_in):
    with override_settings(CHANNEL_LAYERS=REDIS):
        html = signed_in.get(reverse("bots:dashboard")).content.decode()
    assert 'id="market-status"' in html and "data-catch-up" not in html


def test_the_mark_moves_with_a_trade_a_position_a_bot_and_ignores_other_users(signed_in, user):
    def mark() -> str:
        response = signed_in.get(reverse("bots:live_mark"))
        assert response.status_code == 200 and "no-cache" in response["Cache-Control"]
        return response.content.decode()

    bot = BotFactory(owner=user)
    marks = [mark()]
    TradeFactory(bot=bot)
    marks.append(mark())
    PositionFactory(bot=bot)
    marks.append(mark())
    services.bot_start(bot=bot)
    marks.append(mark())
    TradeFactory(bot=BotFactory(owner=UserFactory()))
    marks.append(mark())
    assert len(set(marks[:4])) == 4 and marks[4] == marks[3]


def test_the_mark_needs_a_login(client):
    assert client.get(reverse("bots:live_mark")).status_code == 302
