"""The positions page and a position's own page: filters, sort, summary, detail, close, for the owner only,
in constant queries."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from market.cache import clear_caches
from tests.factories import BotFactory, PositionFactory, TradeFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def shown(response) -> list[int]:
    return [position.pk for position in response.context["positions"]]


def test_the_summary_bar_totals_the_filtered_open_positions(signed_in, user):
    bot = BotFactory(owner=user)
    PositionFactory(bot=bot, symbol="AAPL", quantity=10, current_price=Decimal("110"), unrealized_pnl=Decimal("100"))
    PositionFactory(bot=bot, symbol="MSFT", quantity=2, current_price=Decimal("50"), unrealized_pnl=Decimal("-20"))
    PositionFactory(bot=BotFactory(owner=UserFactory()), symbol="AAPL", quantity=99)

    everything = signed_in.get(reverse("positions:list")).context["summary"]
    apple = signed_in.get(reverse("positions:list"), {"symbol": "aapl"}).context["summary"]

    assert everything == {
        "count": 2,
        "market_value": Decimal("1200"),
        "unrealized_pnl": Decimal("80"),
        "realized_pnl": Decimal("0"),
    }
    assert apple["count"] == 1 and apple["market_value"] == Decimal("1100")


def test_filters_by_bot_and_symbol_and_sorts(signed_in, user):
    first, second = BotFactory(owner=user), BotFactory(owner=user)
    small = PositionFactory(bot=first, symbol="AAPL", quantity=1, unrealized_pnl=Decimal("-5"))
    large = PositionFactory(bot=first, symbol="MSFT", quantity=50, unrealized_pnl=Decimal("40"))
    other = PositionFactory(bot=second, symbol="AAPL", quantity=5, unrealized_pnl=Decimal("1"))

    assert set(shown(signed_in.get(reverse("positions:list"), {"bot": first.pk}))) == {small.pk, large.pk}
    assert set(shown(signed_in.get(reverse("positions:list"), {"symbol": "AAPL"}))) == {small.pk, other.pk}
    assert shown(signed_in.get(reverse("positions:list"), {"sort": "value"})) == [large.pk, other.pk, small.pk]
    assert shown(signed_in.get(reverse("positions:list"), {"sort": "-pnl"})) == [small.pk, other.pk, large.pk]


@pytest.mark.parametrize(
    "params,said",
    [({"bot": "999999"}, "Bot: Select a valid choice."), ({"symbol": "A;B"}, "Symbol: must be a ticker"),
     ({"sort": "password"}, "Sort: Select a valid choice.")],
)  # fmt: skip
def test_a_bad_filter_names_its_field_and_shows_no_rows(signed_in, user, params, said):
    PositionFactory(bot=BotFactory(owner=user), symbol="SEEN")
    html = signed_in.get(reverse("positions:list"), params).content.decode()
    assert said in html and "SEEN" not in html


def test_htmx_asks_for_the_results_or_the_summary_alone(signed_in, user):
    PositionFactory(bot=BotFactory(owner=user), symbol="AAPL")
    results = signed_in.get(reverse("positions:list"), {"symbol": "AAPL"}, **HTMX).content.decode()
    summary = signed_in.get(reverse("positions:list"), {"symbol": "AAPL", "part": "summary"}, **HTMX).content.decode()
    assert "<html" not in results and 'id="position-results"' in results and "AAPL" in results
    assert summary.strip().startswith('<dl id="position-summary"') and "<table" not in summary
    assert "?symbol=AAPL&part=summary" in summary  # it reloads itself with the same filters


def test_a_position_has_its_own_page_with_its_trades_and_a_close_button(signed_in, user):
    position = PositionFactory(bot=BotFactory(owner=user), symbol="NVDA", stop_loss_price=Decimal("90"))
    TradeFactory(bot=position.bot, position=position, symbol="NVDA", reason="MACD crossed up")

    html = signed_in.get(reverse("positions:detail", args=[position.pk])).content.decode()

    assert "NVDA" in html and "MACD crossed up" in html and "90.00" in html
    assert reverse("positions:close", args=[position.pk]) in html and "Sell all 10 NVDA" in html


def test_another_users_position_is_not_found(signed_in):
    stranger = PositionFactory(bot=BotFactory(owner=UserFactory()))
    assert signed_in.get(reverse("positions:detail", args=[stranger.pk])).status_code == 404
    assert signed_in.post(reverse("positions:close", args=[stranger.pk])).status_code == 404


def test_closing_from_the_detail_page_returns_to_it(signed_in, user):
    clear_caches()
    position = PositionFactory(bot=BotFactory(owner=user), symbol="AAPL")
    response = signed_in.post(reverse("positions:close", args=[position.pk]), {"next": "detail"}, **HTMX)
    position.refresh_from_db()
    assert not position.is_open
    assert response["HX-Redirect"] == reverse("positions:detail", args=[position.pk])


def test_the_page_costs_the_same_queries_for_3_or_40_positions(signed_in, user):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert signed_in.get(reverse("positions:list")).status_code == 200
        return len(captured)

    for n in range(3):
        PositionFactory(bot=BotFactory(owner=user), symbol=f"S{n}")
    few = queries()
    for n in range(3, 40):
        PositionFactory(bot=BotFactory(owner=user), symbol=f"S{n}")
    assert queries() == few
