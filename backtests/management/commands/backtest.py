"""manage.py backtest: replay a bot (or a configuration file) over history with the live engine.

Bars come from a CSV file (--csv), or for --start..--end from the database where bars were imported
and the bot's market data feed otherwise (the simulated market without a bot).
"""

import dataclasses
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError

from backtests.data import BarsUnavailable, backtest_market, bar_sources, csv_bars, market_bars, simulated_cost
from bots.models import Bot
from engine.backtest import BacktestResult, run_backtest
from engine.config import BotConfig, config_errors
from engine.market_time import TIMEFRAMES

TRADE_FIELDS = ("symbol", "side", "quantity", "price", "timestamp", "profit_loss")
PROGRESS_WIDTH = 30


class Command(BaseCommand):
    help = "Backtest a bot, or a configuration file, over CSV bars or a date range of market data."
    # The system checks import every URL, API router and admin: a second before a run that uses none of them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("bot_id", nargs="?", type=int, help="the bot to backtest (or give --config)")
        parser.add_argument("--config", type=Path, help="a bot configuration as JSON (the API's shape)")
        parser.add_argument("--csv", type=Path, help="bars from this file: Date, Open, High, Low, Close, Volume")
        parser.add_argument(
            "--symbol",
            action="append",
            dest="symbols",
            help="repeatable; default: the configuration's symbols (with --csv: its first)",
        )
        parser.add_argument("--start", type=date.fromisoformat, help="first session day, YYYY-MM-DD (New York)")
        parser.add_argument("--end", type=date.fromisoformat, help="last session day, YYYY-MM-DD (New York)")
        parser.add_argument("--capital", type=Decimal, help="default: the configuration's capital")
        parser.add_argument("--commission", type=Decimal, help="dollars per order; default: the broker account's")
        parser.add_argument("--slippage", type=Decimal, help="fraction of the price; default: the broker account's")
        parser.add_argument("--timeframe", choices=TIMEFRAMES, help="default: the configuration's")
        parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")

    def handle(self, *args, **options):
        bot, config = _bot_and_config(options["bot_id"], options["config"])
        account = bot.broker_account if bot else None
        timeframe = options["timeframe"] or config.timeframe
        capital = options["capital"] if options["capital"] is not None else config.capital
        slippage = simulated_cost(options["slippage"], account, "sim_slippage")
        commission = simulated_cost(options["commission"], account, "sim_commission")
        try:
            if options["csv"]:
                bars_by_symbol = _csv_bars(options["csv"], options["symbols"], config, timeframe)
                sources = dict.fromkeys(bars_by_symbol, options["csv"].name)
            else:
                market = backtest_market(account)
                symbols = [symbol.upper() for symbol in options["symbols"] or config.symbols]
                bars_by_symbol = _market_bars(market, symbols, timeframe, options["start"], options["end"])
                sources = bar_sources(market, symbols, timeframe)
        except BarsUnavailable as error:
            raise CommandError(str(error)) from error
        try:
            result = run_backtest(
                bars_by_symbol,
                config,
                capital=capital,
                slippage=slippage,
                commission=commission,
                timeframe=timeframe,
                progress=self._progress_bar(),
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        finally:
            self.stderr.write("", style_func=str)
        if options["json"]:
            self.stdout.write(json.dumps(_payload(result), default=_jsonable))
        else:
            self._summary(config, result, sources=sources, timeframe=timeframe, costs=(capital, slippage, commission))

    def _progress_bar(self):
        shown = -1

        def show(fraction: float) -> None:
            nonlocal shown
            percent = int(fraction * 100)
            if percent != shown:
                shown = percent
                filled = percent * PROGRESS_WIDTH // 100
                bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
                self.stderr.write(f"\rbacktest [{bar}] {percent:3d}%", style_func=str, ending="")
                self.stderr.flush()

        return show

    def _summary(self, config: BotConfig, result: BacktestResult, *, sources: dict, timeframe: str, costs) -> None:
        stats, write = result.stats, self.stdout.write
        capital, slippage, commission = costs
        write(f"Backtest of {config.name!r}: {stats['bars']:,} {timeframe} bars, {stats['start']} to {stats['end']}")
        write("Bars: " + ", ".join(f"{symbol} ({source})" for symbol, source in sources.items()))
        write(f"Capital {capital}, slippage {slippage}, commission {commission} per order")
        write(f"Final equity     {stats['final_equity']}")
        write(f"Return           {stats['return_pct']} %   (buy and hold {_shown(stats['buy_and_hold_return_pct'])} %)")
        write(f"Trades           {stats['trades']} closed, win rate {_shown(stats['win_rate_pct'])} %")
        write(f"Profit factor    {_shown(stats['profit_factor'])}   expectancy {_shown(stats['expectancy'])} per trade")
        write(f"Max drawdown     {_shown(stats['max_drawdown_pct'])} %")
        ratios = f"{_shown(stats['sharpe_ratio'])}, {_shown(stats['sortino_ratio'])}"
        write(f"Sharpe, Sortino  {ratios}   (daily returns, annualised × √252)")
        write(f"Exposure time    {_shown(stats['exposure_time_pct'])} %")
        for position in result.open_positions:
            write(
                f"Open at the end: {position.symbol} {position.quantity} @ {position.entry_price} since "
                f"{position.opened_at:%Y-%m-%d %H:%M} UTC, last {position.last_price}, "
                f"unrealized {position.unrealized_pnl}"
            )


def _bot_and_config(bot_id: int | None, path: Path | None) -> tuple[Bot | None, BotConfig]:
    if (bot_id is None) == (path is None):
        raise CommandError("give a bot id or --config FILE (one of them)")
    if path is None:
        bot = Bot.objects.select_related("broker_account").filter(pk=bot_id).first()
        if bot is None:
            raise CommandError(f"no bot with id {bot_id}")
        data = bot.config_data()
    else:
        bot = None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read {path}: {error}") from error
    try:
        return bot, BotConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{e['field']}: {e['message']}" for e in config_errors(error))
        raise CommandError(f"the configuration does not validate: {problems}") from error


def _csv_bars(path: Path, symbols: list[str] | None, config: BotConfig, timeframe: str) -> dict[str, pd.DataFrame]:
    if symbols and len(symbols) > 1:
        raise CommandError("a CSV file holds one symbol: give at most one --symbol")
    return {(symbols or config.symbols)[0].upper(): csv_bars(path, timeframe)}


def _market_bars(market, symbols: list[str], timeframe: str, start: date | None, end: date | None):
    if start is None or end is None:
        raise CommandError("give --csv FILE, or --start and --end (session days)")
    if end < start:
        raise CommandError("--end is before --start")
    return market_bars(market, symbols, timeframe, start, end)


def _payload(result: BacktestResult) -> dict:
    return {
        "stats": result.stats,
        "trades": [{name: getattr(trade, name) for name in TRADE_FIELDS} for trade in result.trades],
        "open_positions": [dataclasses.asdict(position) for position in result.open_positions],
    }


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _shown(value) -> str:
    return "n/a" if value is None else str(value)
