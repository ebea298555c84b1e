"""/api/trades: list, filters, pagination, detail, statistics and the CSV export."""

import csv
import io
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from tests.api_client import api_client
from tests.factories import BotFactory, TradeFactory, UserFactory
from trades.models import Trade

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user):
    return api_client(user)


def at(day: int, hour: int = 15, minute: int = 0) -> datetime:
    """A moment in March 2024, UTC (15:00 UTC is 10:00 or 11:00 in New York)."""
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def sell(bot, pnl: str, when: datetime, **kwargs) -> Trade:
    return TradeFactory(bot=bot, type="sell", profit_loss=Decimal(pnl), timestamp=when, filled_at=when, **kwargs)


def ids(response) -> list[int]:
    return [trade["id"] for trade in response.json()["items"]]


def test_list_is_newest_first_with_the_total_count(client, user):
    bot = BotFactory(owner=user)
    trades = [TradeFactory(bot=bot, timestamp=at(day)) for day in (1, 2, 3)]
    response = client.get("/trades")
    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert ids(response) == [t.pk for t in reversed(trades)]


def test_pagination_with_limit_and_offset(client, user):
    bot = BotFactory(owner=user)
    trades = [TradeFactory(bot=bot, timestamp=at(day)) for day in range(1, 8)]
    newest_first = [t.pk for t in reversed(trades)]
    page = client.get("/trades?limit=3&offset=2").json()
    assert page["count"] == 7 and [t["id"] for t in page["items"]] == newest_first[2:5]
    assert ids(client.get("/trades?limit=3&offset=6")) == newest_first[6:]
    assert ids(client.get("/trades?offset=100")) == []


def test_trades_fields_are_the_models_with_decimal_strings_and_utc_times(client, user):
    trade = sell(BotFactory(owner=user), "12.5", at(4, 14, 30), price=Decimal("101.25"))
    body = client.get(f"/trades/{trade.pk}").json()
    assert body["price"] == "101.250000" and body["profit_loss"] == "12.500000"
    assert body["timestamp"] == "2024-03-04T14:30:00Z"
    assert (
        body["bot_id"] == trade.bot_id and body["type"] == "sell" and body["client_order_id"] == trade.client_order_id
    )


@pytest.mark.parametrize(
    "query,expected",
    [
        ("start=2024-03-03", ["d3", "d4", "d4-late"]),
        ("end=2024-03-03", ["d2", "d3"]),  # a date as end is the whole day
        ("start=2024-03-04T12:00:00Z", ["d4", "d4-late"]),
        ("end=2024-03-04T15:00:00", ["d2", "d3", "d4"]),  # naive is UTC; both ends inclusive
        ("start=2024-03-04T10:00:00-05:00&end=2024-03-04T10:00:00-05:00", ["d4"]),
        ("start=2024-03-03&end=2024-03-03", ["d3"]),
    ],
)
def test_start_and_end_take_dates_or_datetimes(client, user, query, expected):
    bot = BotFactory(owner=user)
    named = {
        "d2": TradeFactory(bot=bot, timestamp=at(2)),
        "d3": TradeFactory(bot=bot, timestamp=at(3, 23, 59)),
        "d4": TradeFactory(bot=bot, timestamp=at(4)),
        "d4-late": TradeFactory(bot=bot, timestamp=at(4, 20)),
    }
    names = {trade.pk: name for name, trade in named.items()}
    assert sorted(names[i] for i in ids(client.get(f"/trades?{query}"))) == expected


def test_filters_by_bot_symbol_type_and_status(client, user):
    bot, other_bot = BotFactory(owner=user), BotFactory(owner=user)
    buy = TradeFactory(bot=bot, symbol="AAPL", type="buy")
    msft = TradeFactory(bot=bot, symbol="MSFT", type="buy")
    failed = TradeFactory(bot=bot, symbol="AAPL", type="buy", status="failed")
    sold = sell(bot, "1", at(5))
    elsewhere = TradeFactory(bot=other_bot, symbol="AAPL")
    assert set(ids(client.get(f"/trades?bot_id={other_bot.pk}"))) == {elsewhere.pk}
    assert set(ids(client.get("/trades?symbol=msft"))) == {msft.pk}
    assert set(ids(client.get("/trades?type=sell"))) == {sold.pk}
    assert set(ids(client.get("/trades?status=failed"))) == {failed.pk}
    assert set(ids(client.get(f"/trades?bot_id={bot.pk}&symbol=AAPL&type=buy&status=filled"))) == {buy.pk}


def test_ordering(client, user):
    bot = BotFactory(owner=user)
    cheap = TradeFactory(bot=bot, price=Decimal("5"), timestamp=at(2))
    dear = TradeFactory(bot=bot, price=Decimal("500"), timestamp=at(1))
    assert ids(client.get("/trades?ordering=price")) == [cheap.pk, dear.pk]
    assert ids(client.get("/trades?ordering=-price")) == [dear.pk, cheap.pk]
    assert ids(client.get("/trades?ordering=timestamp")) == [dear.pk, cheap.pk]


@pytest.mark.parametrize(
    "query,field",
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999", "offset"),
        ("start=yesterday", "start"),
        ("end=2024-02-30", "end"),
        ("start=0001-01-01T00:00:00%2B14:00", "start"),
        ("end=9999-12-31", "end"),
        ("type=short", "type"),
        ("status=done", "status"),
        ("ordering=password", "ordering"),
        ("bot_id=abc", "bot_id"),
        ("bot_id=0", "bot_id"),
        ("symbol=A%00B", "symbol"),
    ],
)
def test_bad_filters_are_422_with_the_field(client, query, field):
    response = client.get(f"/trades?{query}")
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["detail"]] == [field]


def test_only_the_callers_trades(client, user):
    mine = TradeFactory(bot=BotFactory(owner=user))
    theirs = TradeFactory()
    assert ids(client.get("/trades")) == [mine.pk]
    assert client.get(f"/trades/{theirs.pk}").status_code == 404
    assert client.get(f"/trades?bot_id={theirs.bot_id}").json()["count"] == 0
    assert client.get("/trades/99999999").status_code == 404


def test_a_superuser_sees_every_trade():
    trades = [TradeFactory(), TradeFactory()]
    client = api_client(UserFactory(is_superuser=True))
    assert client.get("/trades").json()["count"] == 2
    assert client.get(f"/trades/{trades[0].pk}").status_code == 200


def hand_computed_history(bot):
    """Five round trips over three New York days, plus trades that are not closed round trips."""
    sell(bot, "100", at(4, 15))
    sell(bot, "-50", at(4, 16))
    sell(bot, "30", at(5, 15))
    sell(bot, "-80", at(5, 16))
    sell(bot, "20", at(6, 15))
    TradeFactory(bot=bot, type="buy", timestamp=at(4, 14))
    TradeFactory(bot=bot, type="sell", status="pending", timestamp=at(6, 16))
    TradeFactory(bot=bot, type="sell", status="failed", timestamp=at(6, 17))


def test_stats_against_a_hand_computed_history(client, user):
    hand_computed_history(BotFactory(owner=user))
    sell(BotFactory(), "1000", at(4))  # someone else's
    stats = client.get("/trades/stats").json()
    assert stats["count"] == 5 and stats["wins"] == 3 and stats["losses"] == 2
    assert stats["win_rate_pct"] == 60.0
    assert Decimal(stats["total_pnl"]) == 20
    assert Decimal(stats["average_pnl"]) == 4 and Decimal(stats["expectancy"]) == 4
    assert Decimal(stats["average_win"]) == 50 and Decimal(stats["average_loss"]) == -65
    assert stats["profit_factor"] == pytest.approx(150 / 130)
    assert Decimal(stats["largest_win"]) == 100 and Decimal(stats["largest_loss"]) == -80
    # Cumulative P&L 100, 50, 80, 0, 20: the peak of 100 falls to 0.
    assert Decimal(stats["max_drawdown"]) == 100
    # Daily P&L 50, -50, 20: mean 20/3, sample variance 2633.33.
    daily = [50, -50, 20]
    mean = sum(daily) / 3
    deviation = math.sqrt(sum((d - mean) ** 2 for d in daily) / 2)
    assert stats["sharpe_ratio"] == pytest.approx(mean / deviation * math.sqrt(252))


def test_stats_take_the_same_filters(client, user):
    bot = BotFactory(owner=user)
    hand_computed_history(bot)
    stats = client.get("/trades/stats?start=2024-03-05").json()
    assert stats["count"] == 3 and Decimal(stats["total_pnl"]) == -30
    assert client.get("/trades/stats?type=buy").json()["count"] == 0
    assert client.get(f"/trades/stats?bot_id={bot.pk}&symbol=MSFT").json()["count"] == 0
    assert client.get("/trades/stats?start=nope").status_code == 422


def test_a_first_losing_streak_is_a_drawdown_from_zero(client, user):
    bot = BotFactory(owner=user)
    for n, pnl in enumerate(["-30", "10", "-5"]):
        sell(bot, pnl, at(4) + timedelta(minutes=n))
    stats = client.get("/trades/stats").json()
    assert Decimal(stats["max_drawdown"]) == 30
    assert stats["profit_factor"] == pytest.approx(10 / 35)
    assert stats["sharpe_ratio"] is None  # one day: undefined


def test_stats_of_no_trades(client):
    stats = client.get("/trades/stats").json()
    assert stats["count"] == 0 and stats["win_rate_pct"] is None and stats["profit_factor"] is None
    assert Decimal(stats["total_pnl"]) == 0 and Decimal(stats["max_drawdown"]) == 0


def export(django_client, user, query: str = "") -> tuple:
    django_client.force_login(user)
    response = django_client.get(f"/api/trades/export{query}")

    async def read():
        return b"".join([chunk async for chunk in response.streaming_content])

    return response, async_to_sync(read)().decode()


def test_export_streams_the_filtered_trades_as_csv(client, user):
    from django.test import Client

    bot = BotFactory(owner=user, name="=HYPERLINK(1)")
    first = sell(bot, "12.5", at(4, 14, 30), price=Decimal("101.25"))
    TradeFactory(bot=bot, symbol="MSFT", timestamp=at(5))
    TradeFactory(symbol="AAPL")  # someone else's
    response, text = export(Client(), user, "?symbol=AAPL&ordering=timestamp")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="trades-')
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == str(first.pk) and row["symbol"] == "AAPL" and row["type"] == "sell"
    assert row["price"] == "101.250000" and row["profit_loss"] == "12.500000"
    assert row["timestamp"] == "2024-03-04T14:30:00+00:00"
    assert row["bot_name"] == "'=HYPERLINK(1)"  # a spreadsheet must not run it


def test_export_of_many_trades_comes_in_chunks(user):
    from django.test import Client

    from trades import selectors

    bot = BotFactory(owner=user)
    Trade.objects.bulk_create(
        Trade(owner=user, bot=bot, bot_name=bot.name, symbol="AAPL", type="buy", quantity=1, price=Decimal(1),
              timestamp=at(4), client_order_id=f"bulk-{n}", status="filled")
        for n in range(25)
    )  # fmt: skip
    chunks = list(selectors.trade_csv(selectors.trade_list(user=user), rows_per_chunk=10))
    assert len(chunks) == 3  # the header with rows 1-10, rows 11-20, rows 21-25
    _, text = export(Client(), user)
    assert len(text.strip().splitlines()) == 26


def test_export_needs_authentication():
    from django.test import Client

    response = Client().get("/api/trades/export")
    assert response.status_code == 401


def test_stats_follow_every_change_and_are_cached_while_nothing_changes(client, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    bot = BotFactory(owner=user)
    sell(bot, "-30", at(4))
    assert Decimal(client.get("/trades/stats").json()["max_drawdown"]) == 30
    with CaptureQueriesContext(connection) as unchanged:
        client.get("/trades/stats")
    assert len(unchanged) == 3  # the token and two counts: nothing changed, nothing recomputed
    sell(bot, "-20", at(5))  # a new closed trade
    assert Decimal(client.get("/trades/stats").json()["max_drawdown"]) == 50
    pending = TradeFactory(bot=bot, type="sell", status="pending", timestamp=at(6))
    assert client.get("/trades/stats").json()["count"] == 2
    Trade.objects.filter(pk=pending.pk).update(
        status="filled", profit_loss=Decimal("70"), filled_at=at(6)
    )  # it settles
    stats = client.get("/trades/stats").json()
    assert stats["count"] == 3 and Decimal(stats["total_pnl"]) == 20 and Decimal(stats["max_drawdown"]) == 50
    assert client.get(f"/trades/stats?bot_id={bot.pk}").json()["count"] == 3
    Trade.objects.filter(bot=bot).update(bot=None)  # what deleting the bot does to its trades
    assert client.get(f"/trades/stats?bot_id={bot.pk}").json()["count"] == 0


def test_stats_survive_a_cache_that_is_down(client, user, monkeypatch):
    from trades import selectors

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(selectors.cache, "get", down)
    monkeypatch.setattr(selectors.cache, "set", down)
    sell(BotFactory(owner=user), "-30", at(4))
    assert Decimal(client.get("/trades/stats").json()["max_drawdown"]) == 30
