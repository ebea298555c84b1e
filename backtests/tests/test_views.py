"""Backtest pages: the form and its errors, the result page, its HTMX progress partial, the list, the comparison."""

import json
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from backtests import services
from backtests.models import Backtest
from engine.config import BotConfig
from tests.factories import DESIGN_CONFIG, BotFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ALL_DAY = {"start_hour": 0, "start_minute": 0, "end_hour": 23, "end_minute": 59}
CONFIG = {**DESIGN_CONFIG, **ALL_DAY, "signal_mode": "any", "symbols": ["AAPL"], "capital": 50000}


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def queued(owner, **changes) -> Backtest:
    arguments = {"config": BotConfig.model_validate(CONFIG), "start": date(2024, 3, 4), "end": date(2024, 3, 5)}
    return services.backtest_create(owner=owner, **(arguments | changes))


def finished(owner, **changes) -> Backtest:
    backtest = queued(owner, **changes)
    services.backtest_run(backtest_id=backtest.pk)
    backtest.refresh_from_db()
    assert backtest.status == "done"
    return backtest


def form_data(**changes) -> dict:
    data = {"config": json.dumps(CONFIG), "start": "2024-03-04", "end": "2024-03-05", "timeframe": "", "symbols": ""}
    return {**data, **changes}


def test_the_navigation_links_to_the_backtests(signed_in):
    page = signed_in.get(reverse("backtests:list")).content.decode()
    assert f'href="{reverse("backtests:list")}" aria-current="page">Backtests' in page


def test_the_form_starts_from_the_bot_it_was_opened_for(signed_in, user):
    bot = BotFactory(owner=user)
    page = signed_in.get(reverse("backtests:new") + f"?bot={bot.pk}").content.decode()
    assert f'<option value="{bot.pk}" selected>' in page


def test_a_valid_form_queues_the_backtest_and_shows_its_page(signed_in, user):
    response = signed_in.post(reverse("backtests:new"), form_data(symbols="msft, tsla", capital="2000", commission="1"))
    backtest = Backtest.objects.get(owner=user)
    assert response.status_code == 302 and response.url == reverse("backtests:detail", args=[backtest.pk])
    assert (backtest.symbols, backtest.capital, backtest.commission) == (["MSFT", "TSLA"], Decimal(2000), Decimal(1))


def test_a_bot_alone_runs_its_saved_configuration(signed_in, user):
    bot = BotFactory(owner=user, config={**CONFIG, "timeframe": "15Min"})
    signed_in.post(reverse("backtests:new"), form_data(config="", bot=bot.pk))
    backtest = Backtest.objects.get(owner=user)
    assert backtest.bot == bot and backtest.timeframe == "15Min"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"config": json.dumps({**CONFIG, "indicators": {"RSI": {"period": 14, "oversold": 80, "overbought": 70}}})},
         "config", "indicators.RSI.overbought: must be greater than oversold"),
        ({"config": "{not json"}, "config", "Enter a valid JSON."),
        ({"config": ""}, "config", "give a bot or a configuration"),
        ({"end": "2024-03-01"}, "end", "must not be before start"),
        ({"symbols": "AAPL, 123"}, "symbols", "'123' is not a ticker"),
        ({"slippage": "2"}, "slippage", "must be a fraction of the price"),
    ],
)  # fmt: skip
def test_form_errors_land_on_their_fields(signed_in, changes, field, message):
    response = signed_in.post(reverse("backtests:new"), form_data(**changes))
    assert response.status_code == 200 and not Backtest.objects.exists()
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors


def test_another_users_bot_cannot_be_chosen(signed_in):
    response = signed_in.post(reverse("backtests:new"), form_data(bot=BotFactory().pk))
    assert "bot" in response.context["form"].errors and not Backtest.objects.exists()


def page_chart(page: str, element_id: str) -> dict:
    """The data of a chart as the page carries it (its json_script)."""
    start = page.index(f'<script id="{element_id}" type="application/json">')
    start = page.index(">", start) + 1
    return json.loads(page[start : page.index("</script>", start)])


def test_the_result_page_shows_statistics_charts_and_trades(signed_in, user):
    backtest = finished(user)
    page = signed_in.get(reverse("backtests:detail", args=[backtest.pk])).content.decode()
    for label in ("Return", "Buy and hold", "Win rate", "Profit factor", "Expectancy per trade", "Max drawdown",
                  "Sharpe ratio", "Sortino ratio", "Exposure time", "Final equity"):  # fmt: skip
        assert f"<h2>{label}</h2>" in page
    assert f"{Decimal(backtest.stats['final_equity']):,.2f}" in page
    assert f'data-series="equity-{backtest.pk}"' in page and 'data-series="price-aapl"' in page
    equity = page_chart(page, f"equity-{backtest.pk}")
    assert [(s["label"], s["pane"]) for s in equity["series"]] == [("equity", 0), ("drawdown %", 1)]
    assert len(equity["series"][0]["data"]) == len(backtest.equity_curve["time"])
    prices = page_chart(page, "price-aapl")["series"][0]
    fills = [m for m in prices["markers"] if m["side"] == "buy"]
    assert len(fills) == sum(price is not None for price in backtest.prices["AAPL"]["buy"]) > 0
    assert page.count('class="side side-') == min(backtest.trade_count, 50) > 0
    assert "hx-trigger" not in page, "a finished backtest does not poll"


def test_a_running_backtest_polls_its_progress_partial(signed_in, user):
    backtest = queued(user)
    Backtest.objects.filter(pk=backtest.pk).update(status="running", progress=0.42)
    url = reverse("backtests:detail", args=[backtest.pk])

    page = signed_in.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in page and "<h2>Return</h2>" not in page

    partial = signed_in.get(url, **HTMX)
    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="backtest-progress"') and "<html" not in body
    assert 'value="0.42"' in body and "42 %" in body

    Backtest.objects.filter(pk=backtest.pk).update(status="done", progress=1)
    assert signed_in.get(url, **HTMX).headers["HX-Refresh"] == "true", "the finished page replaces the progress bar"


def test_a_failed_backtest_shows_why(signed_in, user):
    backtest = queued(user)
    Backtest.objects.filter(pk=backtest.pk).update(
        status="failed", error="no 1Min bars for AAPL from 2024-03-04 to 2024-03-05"
    )
    page = signed_in.get(reverse("backtests:detail", args=[backtest.pk])).content.decode()
    assert "The backtest failed: no 1Min bars for AAPL" in page


def test_another_users_backtest_is_not_found(signed_in):
    theirs = queued(UserFactory())
    assert signed_in.get(reverse("backtests:detail", args=[theirs.pk])).status_code == 404
    assert signed_in.get(reverse("backtests:detail", args=[theirs.pk]), **HTMX).status_code == 404


def test_the_list_shows_the_users_backtests_and_refreshes_while_one_runs(signed_in, user):
    done = finished(user, timeframe="1Hour")
    waiting = queued(user)
    queued(UserFactory())

    page = signed_in.get(reverse("backtests:list"))
    assert [b.pk for b in page.context["backtests"]] == [waiting.pk, done.pk]
    assert 'hx-trigger="every 2s"' in page.content.decode()

    partial = signed_in.get(reverse("backtests:list"), **HTMX).content.decode()
    assert partial.lstrip().startswith('<div id="backtest-table"') and "<html" not in partial


def test_two_backtests_side_by_side(signed_in, user):
    first, second = finished(user), finished(user, timeframe="1Hour", capital=Decimal(90000))
    page = signed_in.get(reverse("backtests:compare") + f"?ids={first.pk}&ids={second.pk}")
    assert page.status_code == 200
    rows = {row.key: values for row, values in page.context["rows"]}
    assert rows["final_equity"] == [Decimal(first.stats["final_equity"]), Decimal(second.stats["final_equity"])]
    body = page.content.decode()
    assert f'data-series="equity-0-{first.pk}"' in body and f'data-series="equity-1-{second.pk}"' in body


@pytest.mark.parametrize("how_many", [1, 3])
def test_comparing_needs_exactly_two(signed_in, user, how_many):
    ids = "&".join(f"ids={queued(user).pk}" for _ in range(how_many))
    response = signed_in.get(reverse("backtests:compare") + "?" + ids)
    assert response.status_code == 302 and response.url == reverse("backtests:list")


def test_another_users_backtest_cannot_be_compared(signed_in, user):
    response = signed_in.get(reverse("backtests:compare") + f"?ids={queued(user).pk}&ids={queued(UserFactory()).pk}")
    assert response.status_code == 302


def test_the_admin_lists_backtests_read_only(client, user):
    admin = UserFactory(is_staff=True, is_superuser=True)
    backtest = finished(user)
    client.force_login(admin)
    listing = client.get(reverse("admin:backtests_backtest_changelist"))
    assert listing.status_code == 200 and backtest.name in listing.content.decode()
    change = client.get(reverse("admin:backtests_backtest_change", args=[backtest.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    assert client.get(reverse("admin:backtests_backtest_add")).status_code == 403


def test_a_result_shows_its_trades_a_page_at_a_time(signed_in, user):
    backtest = finished(user)
    fills = [{**backtest.trades[0], "reason": f"fill {n}"} for n in range(120)]
    Backtest.objects.filter(pk=backtest.pk).update(trades=fills, trade_count=len(fills))
    url = reverse("backtests:detail", args=[backtest.pk])

    first = signed_in.get(url).content.decode()
    last = signed_in.get(url, {"trades_page": 3}).content.decode()

    assert first.count('class="side side-') == 50 and "fill 49<" in first and "fill 50<" not in first
    assert last.count('class="side side-') == 20 and "fill 119<" in last and "Page 3 of 3" in last
    assert "?trades_page=2#trades" in first
