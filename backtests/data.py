"""Where a backtest's bars and costs come from: one path for `manage.py backtest` and the backtest job.

Bars for a date range come from the database where they were imported for that symbol and
timeframe, else from the bot's broker account's feed (Alpaca or the simulated market), else, with
no bot, from the simulated market. Slippage and commission default to the bot's broker account's
simulated costs, else to the account model's defaults.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bots.connections import account_feed, simulated_market
from bots.models import BrokerAccount
from engine.market_time import day_start
from market.bar_checks import bars_problem
from market.base import MarketData
from market.csv_import import parse_bars_csv
from market.csv_rows import CsvImportError
from market.feeds import PreferStored
from market.stored import has_bars


class BarsUnavailable(ValueError):
    """No bars to backtest on: an unreadable file, or a range a feed has nothing for."""


def backtest_market(account: BrokerAccount | None) -> MarketData:
    """Imported bars first (history is what they are for), then the account's feed or the simulated market."""
    return PreferStored(account_feed(account) if account else simulated_market())


def bar_sources(market: MarketData, symbols: list[str], timeframe: str) -> dict[str, str]:
    """Where each symbol's bars come from: "stored" (imported) or the feed's name."""
    return {symbol: "stored" if has_bars(symbol, timeframe) else market.name for symbol in symbols}


def session_span(start: date, end: date) -> tuple[datetime, datetime]:
    """Every bar of the session days start..end: from start's midnight in New York to the midnight after end."""
    return day_start(start), day_start(end + timedelta(days=1))


def market_bars(
    market: MarketData, symbols: list[str], timeframe: str, start: date, end: date
) -> dict[str, pd.DataFrame]:
    begin, finish = session_span(start, end)
    bars_by_symbol = {symbol: market.bars(symbol, timeframe, start=begin, end=finish) for symbol in symbols}
    if missing := [symbol for symbol, bars in bars_by_symbol.items() if bars.empty]:
        raise BarsUnavailable(f"no {timeframe} bars for {', '.join(missing)} from {start} to {end}")
    for symbol, bars in bars_by_symbol.items():
        if problem := bars_problem(bars):
            raise BarsUnavailable(f"{symbol}: {problem}")
    return bars_by_symbol


def csv_bars(path: Path, timeframe: str) -> pd.DataFrame:
    """One symbol's bars from a CSV file shaped like public sample data (Date, Open, High, Low, Close, Volume)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            return parse_bars_csv(file, timeframe).frame.sort_index()
    except (OSError, UnicodeDecodeError, CsvImportError) as error:
        raise BarsUnavailable(f"cannot use {path}: {error}") from error


def simulated_cost(given: Decimal | None, account: BrokerAccount | None, field: str) -> Decimal:
    """`given`, else the broker account's simulated cost (sim_slippage or sim_commission), else the model's default."""
    if given is not None:
        return given
    return getattr(account, field) if account else BrokerAccount._meta.get_field(field).default
