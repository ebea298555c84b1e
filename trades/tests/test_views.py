"""The trades page: sort, detail, statistics, export and bad filters, for its owner only, in constant queries."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import BotFactory, TradeFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def at(day: int) -> datetime:
    return datetime(2024, 3, day, 15, 0, tzinfo=UTC)


def sell(bot, pnl: str, day: int, **kwargs):
    return TradeFactory(bot=bot, type="sell", profit_loss=Decimal(pnl), timestamp=at(day), filled_at=at(day), **kwargs)


async def read(response) -> str:
    return b"".join([chunk async for chunk in response.streaming_content]).decode()


def rows(response) -> list[int]:
    return [trade.pk for trade in response.context["page"].object_list]


def test_columns_sort_both_ways_and_the_sort_stays_in_the_url_with_the_filters(signed_in, user):
    bot = BotFactory(owner=user)
    cheap, dear = TradeFactory(bot=bot, price=Decimal("10")), TradeFactory(bot=bot, price=Decimal("90"))
    TradeFactory(bot=bot, symbol="MSFT", price=Decimal("50"))

    ascending = signed_in.get(reverse("trades:list"), {"symbol": "aapl", "sort": "price"})
    descending = signed_in.get(reverse("trades:list"), {"symbol": "aapl", "sort": "-price"})

    assert rows(ascending) == [cheap.pk, dear.pk]
    assert rows(descending) == [dear.pk, cheap.pk]
    link = ascending.context["sort_links"]["price"]
    assert link["arrow"] == "▲" and "sort=-price" in link["query"] and "symbol=aapl" in link["query"]
    assert "symbol=aapl&amp;sort=price" in ascending.content.decode()  # the export keeps both


def test_an_unknown_sort_is_a_filter_error_and_shows_no_rows(signed_in, user):
    TradeFactory(bot=BotFactory(owner=user), symbol="SEEN")
    html = signed_in.get(reverse("trades:list"), {"sort": "owner__password"}).content.decode()
    assert "Sort: Select a valid choice" in html and "SEEN" not in html


@pytest.mark.parametrize(
    "params,said",
    [
        ({"symbol": "A" * 17}, "Symbol: must be at most 16 characters (this one has 17)"),
        ({"symbol": "AA;PL"}, "Symbol: must be a ticker"),
        ({"since": "yesterday"}, "From: Enter a valid date."),
        ({"since": "2024-03-05", "until": "2024-03-04"}, "To: must not be before From"),
        ({"bot": "999999"}, "Bot: Select a valid choice."),
    ],
)
def test_a_bad_filter_names_its_field_and_why_and_shows_no_rows(signed_in, user, params, said):
    TradeFactory(bot=BotFactory(owner=user), symbol="SEEN")
    response = signed_in.get(reverse("trades:list"), params)
    html = response.content.decode()
    assert said in html and "SEEN" not in html and 'id="trade-stats"' not in html
    assert 'id="trade-export"' not in html


def test_the_statistics_strip_covers_the_filtered_rows_on_every_page(signed_in, user):
    bot = BotFactory(owner=user)
    for day in range(1, 31):
        sell(bot, "10", day)
    sell(bot, "-20", 31)
    sell(bot, "1000", 2, symbol="MSFT")

    response = signed_in.get(reverse("trades:list"), {"symbol": "AAPL", "page": 1})
    stats = response.context["stats"]
    assert stats.count == 31 and stats.wins == 30 and stats.total_pnl == Decimal("280")
    assert 'id="trade-stats"' in response.content.decode()


def test_a_trade_has_a_page_of_its_own_and_a_dialog_body_for_htmx(signed_in, user):
    trade = TradeFactory(
        bot=BotFactory(owner=user),
        order_id="broker-42",
        client_order_id="bot-1-AAPL-buy-xyz",
        slippage=Decimal("0.0125"),
        commission=Decimal("1.25"),
        reason="RSI 25.1 below 30",
        indicators_snapshot={"RSI.rsi": 25.1234567, "close": 101.5},
    )

    page = signed_in.get(reverse("trades:detail", args=[trade.pk])).content.decode()
    body = signed_in.get(reverse("trades:detail", args=[trade.pk]), **HTMX).content.decode()

    for html in (page, body):
        for shown in ("broker-42", "bot-1-AAPL-buy-xyz", "0.0125", "1.25", "RSI 25.1 below 30", "RSI.rsi", "25.1235"):
            assert shown in html
    assert "<html" in page and "<html" not in body


def test_another_users_trade_is_not_found(signed_in):
    stranger = TradeFactory(bot=BotFactory(owner=UserFactory()))
    assert signed_in.get(reverse("trades:detail", args=[stranger.pk])).status_code == 404


def test_the_page_lists_only_the_owners_trades(signed_in, user):
    TradeFactory(bot=BotFactory(owner=user), symbol="MINE")
    TradeFactory(bot=BotFactory(owner=UserFactory()), symbol="THEIRS")
    html = signed_in.get(reverse("trades:list")).content.decode()
    assert "MINE" in html and "THEIRS" not in html


def test_the_export_downloads_the_filtered_and_sorted_trades_of_the_owner(signed_in, user):
    bot = BotFactory(owner=user)
    cheap, dear = TradeFactory(bot=bot, price=Decimal("10")), TradeFactory(bot=bot, price=Decimal("90"))
    TradeFactory(bot=bot, symbol="MSFT")
    TradeFactory(bot=BotFactory(owner=UserFactory()), symbol="AAPL")

    response = signed_in.get(reverse("trades:export"), {"symbol": "AAPL", "sort": "price"})

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(async_to_sync(read)(response))))
    assert [int(line["id"]) for line in lines] == [cheap.pk, dear.pk]


def test_an_export_with_a_bad_filter_exports_nothing_and_says_why(signed_in, user):
    TradeFactory(bot=BotFactory(owner=user))
    response = signed_in.get(reverse("trades:export"), {"since": "2024-03-05", "until": "2024-03-01"})
    assert response.status_code == 400 and response.content.decode() == "To: must not be before From"


def test_the_page_costs_the_same_queries_for_5_or_50_rows(signed_in, user):
    bot = BotFactory(owner=user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert signed_in.get(reverse("trades:list")).status_code == 200
        return len(captured)

    for day in range(1, 6):
        sell(bot, "5", day)
    few = queries()
    for day in range(1, 28):
        sell(bot, "-3", day)
        TradeFactory(bot=bot, timestamp=at(day))
    assert queries() == few
