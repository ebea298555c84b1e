"""The risk manager: pure rules over Decimal money. Every refusal says why.

Fractions are of the bot's capital (position size, daily loss, daily target) or of the entry price
(stop-loss, take-profit). A rule set to None is off.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PRICE_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class RiskRules:
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    max_position_size: Decimal | None = None
    max_daily_loss: Decimal | None = None
    max_positions: int | None = None
    max_daily_trades: int | None = None
    daily_target: Decimal | None = None


@dataclass(frozen=True)
class Account:
    """A bot's money as the engine sees it at one moment."""

    capital: Decimal
    realized_pnl: Decimal = Decimal(0)
    open_cost: Decimal = Decimal(0)
    open_positions: int = 0
    today_realized_pnl: Decimal = Decimal(0)
    # How much the open positions' value changed since today's open: from the open of their first bar
    # of today if held overnight, from their cost (commission included) if bought today.
    open_change_today: Decimal = Decimal(0)
    entries_today: int = 0

    @property
    def cash(self) -> Decimal:
        """What the bot may still spend: capital + realized P&L - cost of open positions."""
        return self.capital + self.realized_pnl - self.open_cost

    @property
    def today_pnl(self) -> Decimal:
        """Today's change: realized today + the open positions' change since today's open."""
        return self.today_realized_pnl + self.open_change_today


@dataclass(frozen=True)
class Holding:
    symbol: str
    quantity: int
    entry_price: Decimal
    stop_loss_price: Decimal | None
    take_profit_price: Decimal | None


def to_price(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(PRICE_STEP, rounding=ROUND_HALF_UP)


def protective_prices(rules: RiskRules, entry_price: Decimal) -> tuple[Decimal | None, Decimal | None]:
    """(stop-loss price, take-profit price) for a position entered at entry_price."""
    stop = to_price(entry_price * (1 - rules.stop_loss)) if rules.stop_loss else None
    take = to_price(entry_price * (1 + rules.take_profit)) if rules.take_profit else None
    return stop, take


def exit_trigger(holding: Holding, low: Decimal, high: Decimal) -> str | None:
    """Stop-loss or take-profit crossed within the bar. When a bar spans both, the stop wins:
    the bar alone cannot tell which came first, and assuming the loss is the safe side."""
    if holding.stop_loss_price is not None and low <= holding.stop_loss_price:
        return f"stop-loss: low {low} reached the stop at {holding.stop_loss_price}"
    if holding.take_profit_price is not None and high >= holding.take_profit_price:
        return f"take-profit: high {high} reached the target at {holding.take_profit_price}"
    return None


def exit_on_trade(holding: Holding, price: Decimal, *, gapped: bool) -> tuple[str, Decimal] | None:
    """The stop-loss or take-profit a trade at `price` reaches, and the price the exit fills at: the
    level itself, as a resting stop or limit order would fill, unless the market `gapped` past it (the
    trade opens its bar beyond the level, or the price was beyond it already), then the trade's price.
    The live exit watcher reads each trade this way and the backtest a bar's open, low and high."""
    stop, take = holding.stop_loss_price, holding.take_profit_price
    if stop is not None and price <= stop:
        return f"stop-loss: {price} reached the stop at {stop}", price if gapped else stop
    if take is not None and price >= take:
        return f"take-profit: {price} reached the target at {take}", price if gapped else take
    return None


def exit_in_bar(holding: Holding, open_: Decimal, low: Decimal, high: Decimal) -> tuple[str, Decimal] | None:
    """A bar read as its trades: the open (beyond a level, the market gapped past it), then the low, then
    the high. Low before high, so a bar that reaches both takes the stop: the bar alone cannot tell
    which came first, and assuming the loss is the safe side. The simulated stream trades in that order."""
    return (
        exit_on_trade(holding, open_, gapped=True)
        or exit_on_trade(holding, low, gapped=False)
        or exit_on_trade(holding, high, gapped=False)
    )


def daily_halt(rules: RiskRules, account: Account) -> str | None:
    """Why the bot must stop entering for the rest of the day (and pause), if it must."""
    today = account.today_pnl
    if rules.max_daily_loss is not None:
        limit = account.capital * rules.max_daily_loss
        if today <= -limit:
            return f"max daily loss reached: today's P&L {today:.2f} is at or below -{limit:.2f}"
    if rules.daily_target is not None:
        target = account.capital * rules.daily_target
        if today >= target:
            return f"daily target reached: today's P&L {today:.2f} is at or above {target:.2f}"
    return None


def entry_refusal(rules: RiskRules, account: Account) -> str | None:
    """Why no new position may be opened now, or None when entries are allowed."""
    if halt := daily_halt(rules, account):
        return halt
    if rules.max_positions is not None and account.open_positions >= rules.max_positions:
        return f"max open positions reached ({account.open_positions} of {rules.max_positions})"
    if rules.max_daily_trades is not None and account.entries_today >= rules.max_daily_trades:
        return f"max daily trades reached ({account.entries_today} of {rules.max_daily_trades})"
    return None


def position_size(rules: RiskRules, account: Account, price: Decimal) -> tuple[int, str]:
    """Whole shares to buy at price, with how the number was reached.

    floor(capital x max_position_size / price), never more than the cash left buys.
    """
    if price <= 0:
        return 0, f"no price to size at ({price})"
    cash = account.cash
    budget = account.capital * rules.max_position_size if rules.max_position_size is not None else cash
    by_size = int(budget // price)
    by_cash = int(max(cash, Decimal(0)) // price)
    quantity = min(by_size, by_cash)
    if quantity <= 0:
        return 0, f"zero shares affordable at {price} (budget {budget:.2f}, cash left {cash:.2f})"
    limit = "cash left" if by_cash < by_size else "position size"
    return quantity, f"{quantity} shares at {price} (limited by {limit})"
