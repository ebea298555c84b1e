"""The backtest tells the truth: the live tick, replayed minute by minute on the simulated market
through the simulated broker, with the simulated stream's trades through the exit watcher between
ticks, makes exactly the trades the backtester makes on the same bars."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bots import services
from bots.connections import account_feed, simulated_market
from bots.exit_watch import ExitWatch
from bots.ticks import MIN_LOOKBACK, bot_tick
from engine.backtest import run_backtest
from market.cache import clear_caches
from market.sim_stream import minute_trades
from tests.factories import BotFactory
from trades.models import Trade

pytestmark = pytest.mark.django_db

OPEN = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)  # 09:30 in New York
MINUTES = 390
CONFIG = {
    "name": "Parity",
    "capital": 10000,
    "symbols": ["AAPL", "TSLA"],
    "indicators": {
        "RSI": {"period": 14, "oversold": 45, "overbought": 55},
        "MACD": {"fast": 12, "slow": 26, "signal": 9},
        "SMA": {"period": 20},
    },
    "risk_management": {"stop_loss": 0.002, "take_profit": 0.003, "max_position_size": 0.4, "max_positions": 1},
    "signal_mode": "any",
    "start_hour": 9,
    "start_minute": 30,
    "end_hour": 16,
    "end_minute": 0,
}


def test_live_ticks_replayed_bar_by_bar_make_exactly_the_backtests_trades():
    clear_caches()
    bot = BotFactory(config=CONFIG)
    account = bot.broker_account
    account.sim_slippage, account.sim_commission = Decimal("0.0005"), Decimal("1")
    account.save()
    services.bot_start(bot=bot)

    # Each tick runs as a bar closes: it decides on that bar and fills at the next one's open. Then the
    # minute trades (open, low, high, close) and the exit watcher sells at a stop or target inside it.
    watch, feed = ExitWatch(), account_feed(account).identity
    for minute in range(1, MINUTES + 1):
        now = OPEN + timedelta(minutes=minute)
        bot_tick(bot_id=bot.pk, now=now)
        for symbol in CONFIG["symbols"]:
            for trade in minute_trades(account_feed(account).seed, symbol, now):
                watch.trade_seen(feed=feed, symbol=symbol, price=trade.price, at=trade.at)
    live = [
        (t.symbol, t.type, t.quantity, t.price, t.bar_time, t.profit_loss)
        for t in Trade.objects.filter(bot=bot).order_by("bar_time", "id")
    ]

    market = simulated_market()
    history = {
        symbol: market.bars(symbol, "1Min", end=OPEN + timedelta(minutes=MINUTES + 1), limit=MINUTES + 1 + MIN_LOOKBACK)
        for symbol in CONFIG["symbols"]
    }
    result = run_backtest(
        history,
        bot.config(),
        capital=Decimal(10000),
        slippage=Decimal("0.0005"),
        commission=Decimal(1),
        timeframe="1Min",
    )
    backtest = [
        (t.symbol, t.side, t.quantity, t.price, t.bar_time, t.profit_loss)
        for t in result.trades
        if OPEN - timedelta(minutes=1) <= t.bar_time < OPEN + timedelta(minutes=MINUTES)
    ]

    assert len(live) >= 10, "the scenario must trade to prove anything"
    assert any("watched live" in t.reason for t in Trade.objects.filter(bot=bot)), "stops must fire inside bars"
    assert live == backtest
