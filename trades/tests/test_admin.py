import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import BotFactory, TradeFactory, UserFactory
from trades.models import Trade

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:trades_trade_changelist")


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["trades", "bots"]))
    client.force_login(user)
    return user


def test_trades_cannot_be_added_changed_or_deleted_in_the_admin(client, staff):
    trade = TradeFactory(bot=BotFactory(owner=staff))

    changelist = client.get(CHANGELIST)
    assert changelist.status_code == 200
    assert changelist.context["action_form"] is None  # no actions at all, so no bulk delete
    assert client.get(reverse("admin:trades_trade_add")).status_code == 403
    assert client.post(reverse("admin:trades_trade_delete", args=[trade.pk]), {"post": "yes"}).status_code == 403
    change = client.post(reverse("admin:trades_trade_change", args=[trade.pk]), {"symbol": "EDITED"})
    assert change.status_code == 403
    trade.refresh_from_db()
    assert trade.symbol == "AAPL"
    assert Trade.objects.filter(pk=trade.pk).exists()


def test_trades_filter_by_symbol_type_and_status(client, staff):
    bot = BotFactory(owner=staff)
    TradeFactory(bot=bot, symbol="AAPL", type="buy", status="filled")
    TradeFactory(bot=bot, symbol="TSLA", type="buy", status="failed", price=None)

    response = client.get(CHANGELIST, {"symbol": "TSLA", "type__exact": "buy", "status__exact": "failed"})

    assert [t.symbol for t in response.context["cl"].result_list] == ["TSLA"]


def test_trades_filter_by_bot_and_date(client, staff):
    mine = BotFactory(owner=staff)
    other = BotFactory(owner=staff)
    TradeFactory(bot=mine, timestamp="2024-07-01T15:00:00Z")
    TradeFactory(bot=other, timestamp="2024-07-01T15:00:00Z")
    TradeFactory(bot=mine, timestamp="2024-08-01T15:00:00Z")

    response = client.get(CHANGELIST, {"bot__id__exact": mine.pk, "timestamp__year": 2024, "timestamp__month": 7})

    assert [t.bot_id for t in response.context["cl"].result_list] == [mine.pk]


def test_a_user_sees_only_their_own_trades(client, staff):
    TradeFactory(bot=BotFactory(owner=staff), symbol="MINE")
    TradeFactory(symbol="THEIRS")

    response = client.get(CHANGELIST)

    assert [t.symbol for t in response.context["cl"].result_list] == ["MINE"]
