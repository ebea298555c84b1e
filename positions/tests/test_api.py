"""/api/positions: list, filters, detail, and closing by hand."""

from decimal import Decimal

import pytest

from positions.models import Position
from tests.api_client import api_client
from tests.factories import BotFactory, PositionFactory, TradeFactory, UserFactory
from trades.models import Trade

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user):
    return api_client(user)


def ids(response) -> set[int]:
    return {position["id"] for position in response.json()["items"]}


def closed(bot, symbol="AAPL") -> Position:
    from django.utils import timezone

    return PositionFactory(bot=bot, symbol=symbol, is_open=False, closed_at=timezone.now(), exit_price=Decimal("110"))


def test_open_positions_by_default(client, user):
    bot = BotFactory(owner=user)
    held = PositionFactory(bot=bot, current_price=Decimal("110"))
    gone = closed(bot, "MSFT")
    response = client.get("/positions")
    assert response.status_code == 200 and response.json()["count"] == 1
    body = response.json()["items"][0]
    assert body["id"] == held.pk and body["market_value"] == "1100.000000" and body["bot_id"] == bot.pk
    assert ids(client.get("/positions?is_open=false")) == {gone.pk}


def test_filters_ordering_and_pagination(client, user):
    bot, other = BotFactory(owner=user), BotFactory(owner=user)
    aapl = PositionFactory(bot=bot, symbol="AAPL", unrealized_pnl=Decimal("5"))
    msft = PositionFactory(bot=bot, symbol="MSFT", unrealized_pnl=Decimal("-5"))
    elsewhere = PositionFactory(bot=other, symbol="AAPL", unrealized_pnl=Decimal("1"))
    assert ids(client.get(f"/positions?bot_id={bot.pk}")) == {aapl.pk, msft.pk}
    assert ids(client.get("/positions?symbol=aapl")) == {aapl.pk, elsewhere.pk}
    ordered = client.get("/positions?ordering=unrealized_pnl").json()["items"]
    assert [p["id"] for p in ordered] == [msft.pk, elsewhere.pk, aapl.pk]
    page = client.get("/positions?ordering=-unrealized_pnl&limit=1&offset=1").json()
    assert page["count"] == 3 and [p["id"] for p in page["items"]] == [elsewhere.pk]
    assert client.get("/positions?ordering=owner").status_code == 422
    assert client.get("/positions?is_open=maybe").status_code == 422
    assert client.get("/positions?symbol=A%00").status_code == 422


def test_only_the_callers_positions(client, user):
    mine = PositionFactory(bot=BotFactory(owner=user))
    theirs = PositionFactory()
    assert ids(client.get("/positions")) == {mine.pk}
    assert client.get(f"/positions/{theirs.pk}").status_code == 404
    assert client.post(f"/positions/{theirs.pk}/close").status_code == 404
    assert Position.objects.get(pk=theirs.pk).is_open
    assert client.get(f"/positions/{mine.pk}").json()["symbol"] == "AAPL"
    assert client.get("/positions/424242").status_code == 404


def test_a_superuser_sees_every_position():
    PositionFactory(), PositionFactory()
    assert api_client(UserFactory(is_superuser=True)).get("/positions").json()["count"] == 2


def test_closing_sells_through_the_bots_broker_and_records_the_pnl(client, user):
    position = PositionFactory(bot=BotFactory(owner=user), entry_price=Decimal("1"), quantity=3)
    response = client.post(f"/positions/{position.pk}/close")
    assert response.status_code == 200
    body = response.json()
    assert body["position"]["is_open"] is False and body["position"]["closed_at"]
    trade = Trade.objects.get(pk=body["trade"]["id"])
    assert (
        trade.type == "sell" and trade.status == "filled" and trade.quantity == 3 and trade.position_id == position.pk
    )
    position.refresh_from_db()
    assert trade.profit_loss == position.realized_pnl == (trade.price - Decimal(1)) * 3
    assert Decimal(body["trade"]["profit_loss"]) == trade.profit_loss


def test_closing_a_closed_position_is_409(client, user):
    position = closed(BotFactory(owner=user))
    TradeFactory(bot=position.bot)
    response = client.post(f"/positions/{position.pk}/close")
    assert response.status_code == 409 and "already closed" in response.json()["detail"]


def test_closing_twice_is_409_the_second_time(client, user):
    position = PositionFactory(bot=BotFactory(owner=user))
    assert client.post(f"/positions/{position.pk}/close").status_code == 200
    assert client.post(f"/positions/{position.pk}/close").status_code == 409
    assert Trade.objects.filter(position=position, type="sell").count() == 1
