"""The tick, end to end on SQLite: hand-made bars stored in the database (the path imported CSV bars
take), the simulated broker, the real services. Every price and P&L below is computed by hand."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from bots import services, ticks
from bots.maintenance import bots_daily_reset
from bots.models import Bot, TickLog
from bots.orders import position_close
from bots.ticks import CLAIM_LEASE, bot_tick
from market.cache import clear_caches
from market.models import Bar
from positions.models import Position
from tests.factories import BotFactory, PositionFactory
from trades.models import Trade

pytestmark = pytest.mark.django_db

START = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)  # a Tuesday, 09:00 in New York
RSI_ONLY = {
    "name": "RSI bot",
    "capital": 10000,
    "symbols": ["TEST"],
    "indicators": {"RSI": {"period": 14, "oversold": 30, "overbought": 70}},
    "risk_management": {"stop_loss": 0.02, "take_profit": 0.05, "max_position_size": 0.1},
    "signal_mode": "any",
    "start_hour": 0,
    "start_minute": 0,
    "end_hour": 23,
    "end_minute": 59,
}


@pytest.fixture(autouse=True)
def fresh_caches():
    clear_caches()
    yield
    clear_caches()


def add_bars(symbol: str, closes: list[float], *, first: int = 0, lows: dict[int, float] | None = None) -> datetime:
    """One-minute bars from START + `first` minutes; each opens at the previous close.
    Returns the moment the last one closes."""
    lows = lows or {}
    previous = Bar.objects.filter(symbol=symbol).order_by("-time").values_list("close", flat=True).first()
    rows = []
    for offset, close in enumerate(closes):
        index = first + offset
        open_ = float(previous) if previous is not None else close
        rows.append(
            Bar(
                symbol=symbol,
                timeframe="1Min",
                time=START + timedelta(minutes=index),
                open=Decimal(str(open_)),
                high=Decimal(str(max(open_, close) + 0.1)),
                low=Decimal(str(lows.get(index, min(open_, close) - 0.1))),
                close=Decimal(str(close)),
                volume=Decimal(1000),
            )
        )
        previous = close
    Bar.objects.bulk_create(rows)
    clear_caches()
    return START + timedelta(minutes=first + len(closes))


def falling_closes() -> list[float]:
    """20 flat bars at 100, then 40 bars down 0.5 each: RSI(14) ends at 0, far below oversold."""
    return [100.0] * 20 + [100.0 - 0.5 * i for i in range(1, 41)]


def running_bot(config: dict = RSI_ONLY, **fields) -> Bot:
    bot = BotFactory(config=config, **fields)
    return services.bot_start(bot=bot)


def test_a_buy_signal_buys_the_sized_quantity_at_the_fill_price():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()

    report = bot_tick(bot_id=bot.pk, now=now)

    assert report.outcome == "traded", report.lines()
    trade = Trade.objects.get(bot=bot)
    # floor(10000 x 0.1 / 80) = 12 shares at the last close, 80 (no slippage on this account).
    assert (trade.type, trade.quantity, trade.price, trade.status) == ("buy", 12, Decimal("80"), "filled")
    assert trade.client_order_id == f"tb-{bot.pk}-TEST-buy-20240305T1459"
    assert trade.indicators_snapshot["RSI.rsi"] < 30
    assert "RSI: buy" in trade.reason
    position = Position.objects.get(bot=bot, is_open=True)
    assert (position.quantity, position.entry_price) == (12, Decimal("80"))
    assert position.stop_loss_price == Decimal("78.4")  # 80 x (1 - 0.02)
    assert position.take_profit_price == Decimal("84")  # 80 x (1 + 0.05)


def test_the_stop_loss_sells_and_records_the_loss_to_the_cent():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    bot_tick(bot_id=bot.pk, now=now)
    # The next bar trades down through the stop at 78.40 and closes at 78.25.
    now = add_bars("TEST", [78.25], first=60, lows={60: 78.2})

    bot_tick(bot_id=bot.pk, now=now)

    sell = Trade.objects.get(bot=bot, type="sell")
    assert (sell.quantity, sell.price) == (12, Decimal("78.25"))
    assert sell.profit_loss == Decimal("-21")  # (78.25 - 80) x 12
    assert sell.reason.startswith("stop-loss")
    position = Position.objects.get(bot=bot)
    assert not position.is_open and position.realized_pnl == Decimal("-21")
    assert position.exit_price == Decimal("78.25")


def test_commissions_and_slippage_come_off_the_realized_pnl():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    account = bot.broker_account
    account.sim_slippage, account.sim_commission = Decimal("0.001"), Decimal("1.50")
    account.save()
    bot_tick(bot_id=bot.pk, now=now)
    buy = Trade.objects.get(bot=bot)
    assert buy.price == Decimal("80.08")  # 80 x 1.001
    assert buy.slippage == Decimal("0.96")  # 0.08 above the decision price, 12 shares
    assert buy.commission == Decimal("1.50")
    now = add_bars("TEST", [78.25], first=60, lows={60: 78.2})

    bot_tick(bot_id=bot.pk, now=now)

    sell = Trade.objects.get(bot=bot, type="sell")
    assert sell.price == Decimal("78.1718")  # 78.25 x 0.999
    # (78.1718 - 80.08) x 12 - 1.50 - 1.50
    assert sell.profit_loss == Decimal("-25.8984")


def test_an_entry_signal_while_holding_adds_nothing():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    bot_tick(bot_id=bot.pk, now=now)
    now = add_bars("TEST", [79.9], first=60)

    report = bot_tick(bot_id=bot.pk, now=now)

    assert Trade.objects.filter(bot=bot).count() == 1
    assert report.decisions[0]["action"] == "hold"


def test_a_paused_bot_makes_no_entries_but_still_exits():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    services.bot_pause(bot=bot)
    report = bot_tick(bot_id=bot.pk, now=now)
    assert not Trade.objects.filter(bot=bot).exists()
    assert "paused" in report.decisions[0]["reason"]

    services.bot_start(bot=bot)
    bot_tick(bot_id=bot.pk, now=now)
    services.bot_pause(bot=Bot.objects.get(pk=bot.pk))
    now = add_bars("TEST", [78.25], first=60, lows={60: 78.2})
    bot_tick(bot_id=bot.pk, now=now)
    assert Trade.objects.filter(bot=bot, type="sell").count() == 1


def test_a_stopped_bot_does_nothing():
    now = add_bars("TEST", falling_closes())
    bot = BotFactory(config=RSI_ONLY)
    report = bot_tick(bot_id=bot.pk, now=now)
    assert report.outcome == "skipped" and not Trade.objects.exists()


def test_a_tick_that_finds_the_bot_claimed_returns_at_once():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    Bot.objects.filter(pk=bot.pk).update(tick_claimed_until=now + CLAIM_LEASE)

    report = bot_tick(bot_id=bot.pk, now=now)

    assert report.outcome == "skipped" and "another tick" in report.message
    assert not Trade.objects.exists()
    # Never silent: a worker that died holding the bot shows as skipped ticks until its lease runs out.
    [record] = TickLog.objects.filter(bot=bot)
    assert record.outcome == "skipped" and record.message.startswith("another tick of this bot holds it until")


def test_an_order_already_recorded_for_this_bar_is_not_placed_again():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    # A concurrent tick recorded this bar's order and has not finished with it.
    Trade.objects.create(
        owner=bot.owner,
        bot=bot,
        bot_name=bot.name,
        symbol="TEST",
        type="buy",
        quantity=12,
        timestamp=now,
        client_order_id=f"tb-{bot.pk}-TEST-buy-20240305T1459",
        status="filled",
        price=Decimal(80),
    )

    report = bot_tick(bot_id=bot.pk, now=now)

    assert Trade.objects.filter(bot=bot).count() == 1
    assert report.decisions[0]["action"] == "skip" and "already ordered" in report.decisions[0]["reason"]


def test_a_tick_that_died_before_reaching_the_broker_is_repaired_by_the_next():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    pending = Trade.objects.create(
        owner=bot.owner,
        bot=bot,
        bot_name=bot.name,
        symbol="TEST",
        type="buy",
        quantity=12,
        timestamp=now,
        client_order_id=f"tb-{bot.pk}-TEST-buy-20240305T1459",
        indicators_snapshot={"close": 80.0},
    )

    bot_tick(bot_id=bot.pk, now=now)

    pending.refresh_from_db()
    assert pending.status == "filled" and pending.price == Decimal("80")
    assert Trade.objects.filter(bot=bot).count() == 1
    assert Position.objects.get(bot=bot, is_open=True).quantity == 12


def test_the_max_daily_loss_pauses_the_bot_until_the_next_session():
    config = dict(RSI_ONLY, risk_management={"max_position_size": 0.5, "max_daily_loss": 0.01})
    now = add_bars("TEST", falling_closes())
    bot = running_bot(config)
    bot_tick(bot_id=bot.pk, now=now)  # buys floor(5000 / 80) = 62 shares
    # Down 2 a share: -124 unrealized, beyond 1% of 10,000.
    now = add_bars("TEST", [78.0], first=60)

    report = bot_tick(bot_id=bot.pk, now=now)

    bot.refresh_from_db()
    assert bot.status == Bot.Status.PAUSED and bot.paused_until_reset
    assert "max daily loss" in bot.status_reason
    assert all(d["action"] != "buy" for d in report.decisions)

    with override_settings(TRADEBOT_SIM_ALWAYS_OPEN=True):
        Bot.objects.filter(pk=bot.pk).update(paused_at=now - timedelta(days=1))
        bots_daily_reset()
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RUNNING


def test_the_max_daily_loss_counts_a_position_held_overnight_from_todays_open():
    # Today's bars open at 80 and close at 79.5. Bought yesterday at 100: 62 × -0.5 = -31 today (within
    # 1 % of 10,000), though 1,271 under its cost. The same position bought today at 100 is -1,271 today.
    config = dict(RSI_ONLY, symbols=["TEST"], risk_management={"max_position_size": 0.1, "max_daily_loss": 0.01})
    now = add_bars("TEST", [80.0] * 30 + [79.5])
    held_overnight, bought_today = running_bot(config), running_bot(config)
    for bot, opened in ((held_overnight, START - timedelta(days=1)), (bought_today, START)):
        PositionFactory(bot=bot, symbol="TEST", quantity=62, entry_price=100, current_price=80, opened_at=opened)

    for bot in (held_overnight, bought_today):
        bot_tick(bot_id=bot.pk, now=now)

    assert Bot.objects.get(pk=held_overnight.pk).status == Bot.Status.RUNNING
    paused = Bot.objects.get(pk=bought_today.pk)
    assert paused.status == Bot.Status.PAUSED and "-1271.00" in paused.status_reason


def test_outside_its_window_a_bot_waits_and_says_why():
    config = dict(RSI_ONLY, start_hour=9, start_minute=30, end_hour=12, end_minute=0)
    now = add_bars("TEST", falling_closes())  # 15:00 UTC = 10:00 in New York: inside
    bot = running_bot(config)

    report = bot_tick(bot_id=bot.pk, now=now + timedelta(hours=3))  # 13:00 in New York

    assert report.outcome == "skipped" and "outside the window" in report.message
    assert TickLog.objects.get(bot=bot).outcome == "skipped"
    assert bot_tick(bot_id=bot.pk, now=now, force=False).outcome == "traded"


@override_settings(TRADEBOT_SIM_ALWAYS_OPEN=False)
def test_when_the_market_is_closed_only_force_trades():
    saturday = datetime(2024, 3, 9, 15, 0, tzinfo=UTC)
    add_bars("TEST", falling_closes())
    bot = running_bot()

    assert "market closed" in bot_tick(bot_id=bot.pk, now=saturday).message
    assert bot_tick(bot_id=bot.pk, now=saturday, force=True).outcome == "traded"


def test_each_tick_records_its_decisions_and_reasons():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    bot_tick(bot_id=bot.pk, now=now)
    log = TickLog.objects.get(bot=bot)
    assert log.outcome == "traded"
    assert log.decisions[0]["symbol"] == "TEST" and log.decisions[0]["action"] == "buy"
    assert "shares at 80" in log.decisions[0]["reason"]


def test_a_symbol_taken_off_the_list_while_held_is_still_sold_at_its_stop():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    bot_tick(bot_id=bot.pk, now=now)
    add_bars("OTHER", [50.0] * 60)
    services.bot_update(bot=bot, config=services.parse_config(dict(RSI_ONLY, name=bot.name, symbols=["OTHER"])))
    now = add_bars("TEST", [78.25], first=60, lows={60: 78.2})

    report = bot_tick(bot_id=bot.pk, now=now)

    assert [d["symbol"] for d in report.decisions] == ["OTHER", "TEST"]
    sell = Trade.objects.get(bot=bot, type="sell")
    assert (sell.symbol, sell.quantity, sell.profit_loss) == ("TEST", 12, Decimal("-21"))


def test_a_manual_close_racing_the_ticks_stop_loss_sells_the_shares_once(monkeypatch):
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    bot_tick(bot_id=bot.pk, now=now)
    now = add_bars("TEST", [78.25], first=60, lows={60: 78.2})
    # The person's close lands after the tick read the open position, before it sends its stop-loss sell.
    fetch = ticks.recent_bars

    def close_by_hand_first(*args, **kwargs):
        if (held := Position.objects.filter(bot=bot, is_open=True).first()) is not None:
            position_close(position=held)
        return fetch(*args, **kwargs)

    monkeypatch.setattr(ticks, "recent_bars", close_by_hand_first)

    report = bot_tick(bot_id=bot.pk, now=now)

    assert report.outcome != "failed", report.lines()
    sell = Trade.objects.get(bot=bot, type="sell")  # one sell: the 12 shares are not sold twice
    assert (sell.quantity, sell.status, sell.reason) == (12, "filled", "closed by hand")
    assert not Trade.objects.filter(bot=bot, status="pending").exists()
    assert report.decisions[0]["action"] == "skip" and "order refused" in report.decisions[0]["reason"]


def test_a_tick_that_outlived_its_lease_leaves_the_next_ticks_claim_alone(monkeypatch):
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    later = now + 2 * CLAIM_LEASE
    run = ticks._run

    def slow_run(bot, **kwargs):
        # The lease ran out mid-tick and another tick claimed the bot.
        Bot.objects.filter(pk=bot.pk).update(tick_claimed_until=later)
        return run(bot, **kwargs)

    monkeypatch.setattr(ticks, "_run", slow_run)

    bot_tick(bot_id=bot.pk, now=now)

    assert Bot.objects.get(pk=bot.pk).tick_claimed_until == later
    assert bot_tick(bot_id=bot.pk, now=now + CLAIM_LEASE).outcome == "skipped"


def test_a_stop_made_while_a_tick_runs_is_not_undone_by_its_daily_loss_pause(monkeypatch):
    config = dict(RSI_ONLY, risk_management={"max_position_size": 0.5, "max_daily_loss": 0.01})
    now = add_bars("TEST", falling_closes())
    bot = running_bot(config)
    bot_tick(bot_id=bot.pk, now=now)  # buys 62 shares at 80
    now = add_bars("TEST", [78.0], first=60)  # -124: beyond the daily loss limit
    fetch = ticks.recent_bars

    def stopped_by_hand(*args, **kwargs):
        services.bot_stop(bot=Bot.objects.get(pk=bot.pk), close_positions=False)
        return fetch(*args, **kwargs)

    monkeypatch.setattr(ticks, "recent_bars", stopped_by_hand)

    report = bot_tick(bot_id=bot.pk, now=now)

    bot.refresh_from_db()
    assert bot.status == Bot.Status.STOPPED and not bot.periodic_task.enabled
    assert report.outcome == "skipped" and "stopped" in report.message


def test_the_daily_reset_does_not_restart_a_bot_stopped_after_it_looked():
    config = dict(RSI_ONLY, risk_management={"max_position_size": 0.5, "max_daily_loss": 0.01})
    bot = running_bot(config)
    services.bot_pause(bot=bot, reason="max daily loss", until_reset=True)
    stale = Bot.objects.get(pk=bot.pk)  # what the reset read
    services.bot_stop(bot=Bot.objects.get(pk=bot.pk), close_positions=False)

    assert services.bot_resume_after_reset(bot=stale) is None
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.STOPPED


def test_a_buy_that_never_reached_the_broker_and_went_stale_is_cancelled_not_sent():
    now = add_bars("TEST", falling_closes())
    bot = running_bot()
    stale = Trade.objects.create(
        owner=bot.owner,
        bot=bot,
        bot_name=bot.name,
        symbol="TEST",
        type="buy",
        quantity=12,
        timestamp=now - timedelta(days=1),
        client_order_id=f"tb-{bot.pk}-TEST-buy-20240304T1459",
        indicators_snapshot={"close": 95.0},
    )

    bot_tick(bot_id=bot.pk, now=now)

    stale.refresh_from_db()
    assert stale.status == "cancelled" and "too old" in stale.message
    # Today's decision is taken afresh, at today's price.
    fresh = Trade.objects.get(bot=bot, status="filled")
    assert fresh.client_order_id == f"tb-{bot.pk}-TEST-buy-20240305T1459" and fresh.price == Decimal("80")
