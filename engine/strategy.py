"""One symbol, one closed bar: what the bot does. The live tick and the backtester both call this."""

from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import Literal

from engine.market_time import EXCHANGE_TZ
from engine.risk import Account, Holding, RiskRules, entry_refusal, exit_trigger, position_size, to_price
from engine.signals import Signal

Action = Literal["buy", "sell", "hold", "skip"]


@dataclass(frozen=True)
class Decision:
    symbol: str
    action: Action
    quantity: int
    reason: str
    price: Decimal
    snapshot: dict = field(default_factory=dict)

    @property
    def is_order(self) -> bool:
        return self.action in ("buy", "sell")


@dataclass(frozen=True)
class BarView:
    """The closed bar a decision is made on."""

    time: datetime
    low: Decimal
    high: Decimal
    close: Decimal


def decide(
    *,
    symbol: str,
    bar: BarView,
    signal: Signal,
    holding: Holding | None,
    rules: RiskRules,
    account: Account,
    may_enter: bool,
) -> Decision:
    """Exits first (stop-loss, take-profit, sell signal), then entries through the risk manager.

    Long-only, one position per symbol: an entry signal while holding is ignored.
    """

    def made(action: Action, reason: str, quantity: int = 0) -> Decision:
        return Decision(symbol, action, quantity, reason, bar.close, signal.snapshot)

    votes = ", ".join(signal.reasons)
    if holding is not None:
        if trigger := exit_trigger(holding, bar.low, bar.high):
            return made("sell", trigger, holding.quantity)
        if signal.exit:
            return made("sell", f"sell signal ({votes})", holding.quantity)
        return made("hold", f"holding {holding.quantity} ({votes})")
    if not signal.ready:
        return made("skip", f"indicators warming up ({votes})")
    if not signal.entry:
        return made("skip", f"no entry signal ({votes})")
    if not may_enter:
        return made("skip", "entry signal, but the bot is paused: exits only")
    if refusal := entry_refusal(rules, account):
        return made("skip", f"entry signal refused: {refusal}")
    quantity, sizing = position_size(rules, account, bar.close)
    if quantity == 0:
        return made("skip", f"entry signal refused: {sizing}")
    return made("buy", f"buy signal ({votes}); {sizing}", quantity)


def decide_on_price(*, symbol: str, price: Decimal, holding: Holding, why: str) -> Decision:
    """The bars cannot be decided on (`why`), but the position can still be protected: its stop-loss
    and take-profit are checked on the latest trade price. No signal, so no signal exit and no entry."""
    snapshot = {"close": float(price), "price_source": "latest trade"}
    if trigger := exit_trigger(holding, price, price):
        return Decision(symbol, "sell", holding.quantity, f"{trigger} on the latest trade ({why})", price, snapshot)
    reason = f"holding {holding.quantity}: {why}; stop and target checked on the latest trade at {price}"
    return Decision(symbol, "hold", 0, reason, price, snapshot)


def in_window(moment: datetime, start: time, end: time) -> bool:
    """Whether `moment` (aware) falls in the bot's [start, end) window on the exchange's clock."""
    local = moment.astimezone(EXCHANGE_TZ).time()
    return start <= local < end


__all__ = ["Account", "BarView", "Decision", "Holding", "decide", "decide_on_price", "in_window", "to_price"]
