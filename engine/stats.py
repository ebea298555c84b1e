"""Backtest statistics: pure functions over closed-trade P&Ls and an equity curve.

Ratios are None where they are undefined (no trades, no losing trade, flat returns) rather than
infinite, so they serialise to JSON as null.
"""

import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

# Sharpe and Sortino are computed on daily returns (one per session) and annualised by √252,
# whatever the bar timeframe, so minute and daily backtests are comparable.
TRADING_DAYS_PER_YEAR = 252


def win_rate_pct(pnls: Sequence[Decimal]) -> float | None:
    """Share of closed trades with a positive P&L, in percent."""
    if not pnls:
        return None
    return 100.0 * sum(1 for pnl in pnls if pnl > 0) / len(pnls)


def profit_factor(pnls: Sequence[Decimal]) -> float | None:
    """Gross profit / gross loss; None when no trade lost (the ratio is undefined)."""
    gross_loss = -sum((pnl for pnl in pnls if pnl < 0), Decimal(0))
    if gross_loss == 0:
        return None
    gross_profit = sum((pnl for pnl in pnls if pnl > 0), Decimal(0))
    return float(gross_profit / gross_loss)


def expectancy(pnls: Sequence[Decimal]) -> Decimal | None:
    """Average P&L of a closed trade, in dollars."""
    if not pnls:
        return None
    return sum(pnls, Decimal(0)) / len(pnls)


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Fraction below the running peak at each point (0 at a new high, negative below it)."""
    if equity.size == 0:
        return np.empty(0)
    return equity / np.maximum.accumulate(equity) - 1.0


def max_drawdown_pct(equity: np.ndarray) -> float:
    """The deepest fall from a running peak, in percent (a negative number, 0 if equity never fell)."""
    return 100.0 * float(drawdown(equity).min()) if equity.size else 0.0


def period_returns(start_equity: float, closing_equity: np.ndarray) -> np.ndarray:
    """Simple returns between consecutive closing values, the first against start_equity."""
    values = np.concatenate(([start_equity], closing_equity))
    return values[1:] / values[:-1] - 1.0


def sharpe_ratio(daily_returns: np.ndarray) -> float | None:
    """Annualised Sharpe ratio (risk-free rate 0): mean / sample standard deviation × √252."""
    if daily_returns.size < 2:
        return None
    deviation = float(np.std(daily_returns, ddof=1))
    if deviation == 0:
        return None
    return float(np.mean(daily_returns)) / deviation * math.sqrt(TRADING_DAYS_PER_YEAR)


def sortino_ratio(daily_returns: np.ndarray) -> float | None:
    """Annualised Sortino ratio (target 0): mean / downside deviation × √252, where the downside
    deviation is the root mean square of the negative returns over all days."""
    if daily_returns.size < 2:
        return None
    downside = float(np.sqrt(np.mean(np.minimum(daily_returns, 0.0) ** 2)))
    if downside == 0:
        return None
    return float(np.mean(daily_returns)) / downside * math.sqrt(TRADING_DAYS_PER_YEAR)
