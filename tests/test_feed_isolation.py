"""One account's market data never decides another account's trades: two Alpaca stand-ins answer
different prices for the same symbol in the same minute, and each bot, chart and API answer uses its
own account's feed (the real alpaca-py client on the wire)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from bots import services
from bots.models import TickLog
from bots.ticks import MIN_LOOKBACK, bot_tick
from engine.config import BotConfig
from engine.indicators import REGISTRY
from market.cache import clear_caches
from market.models import Bar
from tests.alpaca_stub import AlpacaStub
from tests.api_client import api_client
from tests.factories import BotFactory, BrokerAccountFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG, START, falling_bars
from tradebot.tests.test_health import heartbeats_fresh
from trades.models import Trade

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]

from tests.test_alpaca_ticks import fast_retries  # noqa: E402,F401


def scaled(rows: list[tuple], factor: float) -> list[tuple]:
    return [(t, o * factor, h * factor, lo * factor, c * factor, v) for t, o, h, lo, c, v in rows]


def open_market(stub: AlpacaStub, symbol: str, rows: list[tuple], price: str, *, feed: str | None = None) -> None:
    stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
    stub.load_bars(symbol, "1Min", rows, feed=feed)
    stub.set_price(symbol, price)


def alpaca_account_on(stub: AlpacaStub, **fields):
    account = BrokerAccountFactory(kind="alpaca", base_url=stub.url, data_url=stub.url, owner__password=None, **fields)
    account.set_credentials(stub.api_key, stub.secret_key)
    account.save()
    return account


@pytest.fixture
def clock_at(monkeypatch):
    """The API and the pages read the time themselves: pin it to the minute the bots tick in."""

    def pin(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return pin


@pytest.fixture
def feed_b():
    """A second user's stand-in: the same symbol at a hundredth of the price, as a server B controls."""
    with AlpacaStub(api_key="key-b", secret_key="secret-b") as stub:
        open_market(stub, "TEST", scaled(falling_bars(), 0.0131), "1.05")
        yield stub
    assert not stub.errors


def test_a_bot_decides_on_its_own_accounts_bars_whatever_another_account_asked_that_minute(
    alpaca_stub, feed_b, clock_at
):
    open_market(alpaca_stub, "TEST", falling_bars(), "80")
    account_a, account_b = alpaca_account_on(alpaca_stub), alpaca_account_on(feed_b)
    bot_a, bot_b = (
        services.bot_start(bot=BotFactory(config=CONFIG, owner=account.owner, broker_account=account))
        for account in (account_a, account_b)
    )
    clock_at(AFTER_FALL)

    # At the top of the minute B asks for exactly the bars a tick fetches (the look-back: 300 with
    # RSI's warm-up), and B's own bot ticks first: each on B's feed.
    lookback = MIN_LOOKBACK - REGISTRY["RSI"].warmup(BotConfig.model_validate(CONFIG).indicator_params()["RSI"])
    response = api_client(account_b.owner).get(
        f"/market-data/TEST?limit={lookback}&indicators=RSI&broker_account_id={account_b.pk}"
    )
    assert response.status_code == 200
    assert Decimal(response.json()["bars"][-1]["close"]) == Decimal("1.048")
    bot_tick(bot_id=bot_b.pk, now=AFTER_FALL)
    assert [order["qty"] for order in feed_b.orders] == ["954"]  # floor(1,000 / 1.048)

    bot_tick(bot_id=bot_a.pk, now=AFTER_FALL)

    # A's bot sized its order on A's bars: floor(10,000 x 10 % / 80) = 12, not 954 at 1.048.
    [order] = alpaca_stub.orders
    assert (order["symbol"], order["qty"]) == ("TEST", "12")
    assert Trade.objects.get(bot=bot_a).price == Decimal("80")
    assert TickLog.objects.get(bot=bot_a).decisions[0]["price"] == "80.0000"


def test_the_market_data_api_and_the_chart_show_each_account_its_own_feed(alpaca_stub, feed_b, client, clock_at):
    open_market(alpaca_stub, "TEST", falling_bars(), "80")
    account_a, account_b = alpaca_account_on(alpaca_stub), alpaca_account_on(feed_b)
    bot = BotFactory(config=CONFIG, owner=account_a.owner, broker_account=account_a)
    clock_at(AFTER_FALL)

    closes = {}
    for account in (account_b, account_a, account_b):
        body = api_client(account.owner).get(f"/market-data/TEST?limit=3&broker_account_id={account.pk}").json()
        closes.setdefault(account.pk, set()).add(body["bars"][-1]["close"])
    assert closes == {account_a.pk: {"80.0000"}, account_b.pk: {"1.0480"}}

    client.force_login(account_a.owner)
    chart = client.get(reverse("bots:chart", args=[bot.pk]), {"symbol": "TEST"}).json()
    assert chart["candles"][-1]["close"] == 80.0


def test_two_accounts_on_different_data_feeds_do_not_share_bars(alpaca_stub, clock_at):
    # One server, one subscription, two feeds: IEX and SIP answer differently for the same minute.
    open_market(alpaca_stub, "TEST", falling_bars(), "80", feed="iex")
    alpaca_stub.load_bars("TEST", "1Min", scaled(falling_bars(), 2.0), feed="sip")
    iex, sip = alpaca_account_on(alpaca_stub, data_feed="iex"), alpaca_account_on(alpaca_stub, data_feed="sip")
    bots = [services.bot_start(bot=BotFactory(config=CONFIG, owner=a.owner, broker_account=a)) for a in (sip, iex)]

    for bot in bots:
        bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    decided = {TickLog.objects.get(bot=bot).decisions[0]["price"] for bot in bots}
    assert decided == {"160.0000", "80.0000"}
    feeds = {request.query["feed"] for request in alpaca_stub.requests_to("/v2/stocks/bars")}
    assert feeds == {"iex", "sip"}


def test_imported_bars_are_never_what_an_alpaca_bot_decides_on(alpaca_stub, alpaca_account):
    open_market(alpaca_stub, "TEST", falling_bars(), "80")
    # History imported for a backtest, at another price, for the very minutes the bot trades.
    Bar.objects.bulk_create(
        Bar(symbol="TEST", timeframe="1Min", time=t, open=o, high=h, low=lo, close=c, volume=v)
        for t, o, h, lo, c, v in scaled(falling_bars(), 0.5)
    )
    bot = services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))

    bot_tick(bot_id=bot.pk, now=AFTER_FALL)

    assert alpaca_stub.requests_to("/v2/stocks/bars")
    assert TickLog.objects.get(bot=bot).decisions[0]["price"] == "80.0000"
    assert [order["qty"] for order in alpaca_stub.orders] == ["12"]


def test_bars_that_stopped_coming_are_refused_with_the_reason_and_never_traded_on(alpaca_stub, alpaca_account):
    open_market(alpaca_stub, "TEST", falling_bars(), "80")
    bot = services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))

    # Half an hour after the last bar, the market open (10:30 New York): the feed has gone quiet.
    report = bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=30))

    assert report.outcome == "idle"
    [decision] = TickLog.objects.get(bot=bot).decisions
    assert decision["action"] == "skip" and decision["reason"].startswith("stale bars: the last 1Min bar closed")
    assert "30 min of open market ago (at most 2)" in decision["reason"]
    assert alpaca_stub.orders == []


def test_one_accounts_broken_custom_feed_is_its_own_problem_not_the_services_health(
    alpaca_stub, alpaca_account, client
):
    open_market(alpaca_stub, "TEST", falling_bars(), "80")
    alpaca_stub.fail_next("/v2/stocks/bars", 500, times=100)
    bot = services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))
    heartbeats_fresh()

    assert bot_tick(bot_id=bot.pk, now=AFTER_FALL).outcome == "held"
    assert client.get("/health").status_code == 200

    # The same failure on the service's own data endpoint is the service's.
    clear_caches()
    with override_settings(ALPACA_DATA_URL=alpaca_stub.url):
        alpaca_account.data_url = ""
        alpaca_account.save()
        assert bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=1)).outcome == "held"
    response = client.get("/health")
    assert response.status_code == 503 and response.json()["failing"] == ["market_data"]
