"""manage.py backtest: a configuration file over a CSV, a bot over a date range, JSON and text output."""

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engine.market_time import day_start
from market.models import Bar
from tests.factories import DESIGN_CONFIG, BotFactory

ZIGZAG = [10, 11, 10.5, 12, 11, 12.5, 11.5, 13, 12, 12.5, 11, 11.5, 10.5, 12]
CONFIG = {
    "name": "Zigzag",
    "capital": 1000,
    "symbols": ["ZIG"],
    "indicators": {"SMA": {"period": 2}},
    "signal_mode": "any",
    "timeframe": "1Day",
    "risk_management": {"max_position_size": 0.5},
}
STATS = (
    "return_pct",
    "buy_and_hold_return_pct",
    "trades",
    "win_rate_pct",
    "profit_factor",
    "expectancy",
    "max_drawdown_pct",
    "sharpe_ratio",
    "sortino_ratio",
    "exposure_time_pct",
    "final_equity",
)


@pytest.fixture
def files(tmp_path):
    config = tmp_path / "bot.json"
    config.write_text(json.dumps(CONFIG))
    csv = tmp_path / "zig.csv"
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    for number, close in enumerate(ZIGZAG):
        day = date(2024, 1, 2) + timedelta(days=number)
        lines.append(f"{day},{close},{close + 0.5},{close - 0.5},{close},{close},1000")
    csv.write_text("\n".join(lines) + "\n")
    return config, csv


def backtest(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("backtest", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_json_output_of_a_configuration_over_a_csv(files):
    config, csv = files
    out, err = backtest("--config", str(config), "--csv", str(csv), "--commission", "1", "--slippage", "0", "--json")

    result = json.loads(out)
    assert set(result) == {"stats", "trades", "open_positions"}
    assert set(STATS) <= set(result["stats"])
    assert result["trades"], "the zigzag trades"
    first = result["trades"][0]
    assert set(first) == {"symbol", "side", "quantity", "price", "timestamp", "profit_loss"}
    # January 3 closes at 11, above its SMA(2): 500 // 11 = 45 shares, filled at January 4's open (10.5).
    assert first == {
        "symbol": "ZIG",
        "side": "buy",
        "quantity": 45,
        "price": "10.5000",
        "timestamp": "2024-01-04T05:00:00+00:00",
        "profit_loss": None,
    }
    sells = [trade for trade in result["trades"] if trade["side"] == "sell"]
    assert all(isinstance(trade["profit_loss"], str) for trade in sells)
    assert isinstance(result["stats"]["final_equity"], str)
    realized = sum(Decimal(trade["profit_loss"]) for trade in sells)
    unrealized = sum(Decimal(position["unrealized_pnl"]) for position in result["open_positions"])
    assert Decimal(result["stats"]["final_equity"]) == Decimal(1000) + realized + unrealized
    assert "100%" in err  # the progress bar


@pytest.mark.django_db
def test_text_summary_of_a_bot_over_the_simulated_market():
    bot = BotFactory(
        config={
            **DESIGN_CONFIG,
            "symbols": ["AAPL", "MSFT"],
            "start_hour": 0,
            "start_minute": 0,
            "end_hour": 23,
            "end_minute": 59,
            "signal_mode": "any",
        }
    )
    out, _ = backtest(str(bot.pk), "--start", "2024-03-04", "--end", "2024-03-05")
    assert "AAPL (simulated), MSFT (simulated)" in out
    assert "Final equity" in out and "Sharpe, Sortino" in out


@pytest.mark.django_db
def test_imported_bars_take_the_place_of_the_feed(files):
    config, _ = files
    for day, close in enumerate(ZIGZAG):
        Bar.objects.create(
            symbol="ZIG",
            timeframe="1Day",
            time=day_start(date(2024, 1, 2) + timedelta(days=day)),
            open=close,
            high=close + 0.5,
            low=close - 0.5,
            close=close,
            volume=1000,
        )
    out, _ = backtest("--config", str(config), "--start", "2024-01-02", "--end", "2024-01-15", "--json")
    assert json.loads(out)["stats"]["bars"] == len(ZIGZAG)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give a bot id or --config FILE"),
        (("999999", "--start", "2024-01-02", "--end", "2024-01-03"), "no bot with id 999999"),
        (("--config", "{config}", "--start", "2024-01-02"), "give --csv FILE, or --start and --end"),
        (("--config", "{config}", "--csv", "{csv}", "--slippage", "-0.1"), "slippage a fraction"),
    ],
)
def test_refusals(files, args, message):
    config, csv = files
    with pytest.raises(CommandError, match=message):
        backtest(*(arg.format(config=config, csv=csv) for arg in args))


@pytest.mark.django_db
def test_a_config_file_that_does_not_validate_is_refused_with_its_errors(tmp_path, files):
    _, csv = files
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**CONFIG, "indicators": {"SMA": {"period": 2}, "MACD": {"fast": 26, "slow": 12}}}))
    with pytest.raises(CommandError, match=r"indicators\.MACD\.slow"):
        backtest("--config", str(bad), "--csv", str(csv))


# Imported by nothing a CSV backtest runs: pandas-ta (numba), the NYSE calendar, daphne, alpaca-py, the API.
# (Twisted itself is imported: structlog, which every module logs through, loads its Twisted adapter
# whenever Twisted is installed.)
HEAVY_MODULES = ("pandas_ta", "numba", "exchange_calendars", "daphne", "alpaca", "ninja")


def test_a_csv_backtest_process_imports_none_of_the_heavy_modules_it_does_not_use(files):
    config, csv = files
    script = (
        "import sys, django; django.setup()\n"
        "from django.core.management import call_command\n"
        f"call_command('backtest', '--config', {str(config)!r}, '--csv', {str(csv)!r}, '--json')\n"
        f"print('imported:', sorted(name for name in {HEAVY_MODULES!r} if name in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tradebot.settings", "TRADEBOT_TESTING": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert '"trades"' in done.stdout
    assert done.stdout.splitlines()[-1] == "imported: []"
