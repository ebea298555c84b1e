from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from market.cache import clear_caches
from positions.models import Position
from tests.factories import BotFactory, PositionFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:positions_position_changelist")


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["positions", "bots"]))
    client.force_login(user)
    return user


@pytest.fixture(autouse=True)
def fresh_caches():
    clear_caches()
    yield
    clear_caches()


def test_positions_filter_by_bot_symbol_and_state(client, staff):
    bot = BotFactory(owner=staff)
    PositionFactory(bot=bot, symbol="AAPL")
    PositionFactory(bot=bot, symbol="MSFT")
    PositionFactory(bot=BotFactory(owner=staff), symbol="AAPL")

    response = client.get(CHANGELIST, {"bot__id__exact": bot.pk, "symbol": "AAPL", "is_open__exact": "1"})

    assert [(p.bot_id, p.symbol) for p in response.context["cl"].result_list] == [(bot.pk, "AAPL")]


def test_positions_are_read_only_in_the_admin(client, staff):
    position = PositionFactory(bot=BotFactory(owner=staff))

    response = client.post(reverse("admin:positions_position_change", args=[position.pk]), {"quantity": 999})

    position.refresh_from_db()
    assert response.status_code == 403
    assert position.quantity == 10
    assert client.get(reverse("admin:positions_position_add")).status_code == 403


def test_close_action_sells_the_position_through_the_service(client, staff):
    position = PositionFactory(bot=BotFactory(owner=staff), symbol="AAPL", entry_price=Decimal("100"))

    response = client.post(CHANGELIST, {"action": "close_positions", "_selected_action": [position.pk]}, follow=True)

    position.refresh_from_db()
    assert response.status_code == 200
    assert not position.is_open
    sell = position.trades.get(type="sell")
    assert sell.status == "filled" and sell.profit_loss == position.realized_pnl


def test_a_user_cannot_close_another_users_position(client, staff):
    theirs = PositionFactory()

    client.post(CHANGELIST, {"action": "close_positions", "_selected_action": [theirs.pk]})

    assert Position.objects.get(pk=theirs.pk).is_open
