"""The one schema for a bot's configuration, used by the API, the forms and the admin alike.

It accepts the design's JSON verbatim and reports every problem as a dotted path with a reason,
for example ``indicators.MACD.slow: must be greater than fast (12)``.
"""

import re
from datetime import time
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from engine.indicators import REGISTRY, Params
from engine.market_time import Timeframe
from engine.risk import RiskRules

# The design's example configuration: the API documents it, the tests and the demo start from it.
EXAMPLE_CONFIG = {
    "name": "Momentum Bot",
    "capital": 10000,
    "trading_frequency": 60,
    "symbols": ["AAPL", "MSFT", "GOOGL"],
    "indicators": {
        "RSI": {"period": 14, "oversold": 30, "overbought": 70},
        "MACD": {"fast": 12, "slow": 26, "signal": 9},
        "SMA": {"period": 50},
    },
    "risk_management": {"stop_loss": 0.02, "take_profit": 0.05, "max_position_size": 0.1, "max_daily_loss": 0.1},
    "start_hour": 9,
    "start_minute": 30,
    "end_hour": 12,
    "end_minute": 0,
}

SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
SIGNAL_MODES = ("all", "any", "majority")


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text, and refuses to compare with it: a field error, not a crash.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Fraction = Annotated[Decimal, Field(gt=0, le=1, max_digits=8, decimal_places=6)]
Multiple = Annotated[Decimal, Field(gt=0, le=100, max_digits=10, decimal_places=6)]


class RiskConfig(BaseModel):
    """Fractions of capital (sizes, daily limits) or of the entry price (stop / take-profit); null disables."""

    model_config = ConfigDict(extra="forbid")

    stop_loss: Fraction | None = None
    take_profit: Multiple | None = None
    max_position_size: Fraction | None = Decimal("0.1")
    max_daily_loss: Fraction | None = None
    max_positions: PositiveInt | None = None
    max_daily_trades: PositiveInt | None = None
    daily_target: Multiple | None = None
    # The stop also rests at the broker as a stop order (Alpaca accounts only, checked where the
    # account is known: bots.services), so it holds while every Tradebot process is down.
    stop_at_broker: bool = False

    @field_validator("stop_at_broker")
    @classmethod
    def _stop_to_rest(cls, value: bool, info: ValidationInfo) -> bool:
        # An invalid stop_loss is missing from info.data and already has its own error.
        if value and "stop_loss" in info.data and info.data["stop_loss"] is None:
            raise ValueError("needs a stop_loss: there is no stop to rest at the broker")
        return value

    def rules(self) -> RiskRules:
        return RiskRules(**self.model_dump(exclude={"stop_at_broker"}))


def _one_vote(self):
    chosen = [name for name in REGISTRY if getattr(self, name) is not None]
    if not chosen:
        raise ValueError("choose at least one indicator")
    if all(REGISTRY[name].confirmation for name in chosen):
        raise ValueError("at least one voting indicator is needed (VOLUME_SMA only confirms entries)")
    return self


# One optional field per registered indicator, so adding an indicator touches the registry only.
Indicators = create_model(
    "Indicators",
    __config__=ConfigDict(extra="forbid"),
    __validators__={"one_vote": model_validator(mode="after")(_one_vote)},
    **{name: (indicator.params | None, None) for name, indicator in REGISTRY.items()},
)


class BotConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[Text, Field(min_length=1, max_length=100)]
    capital: Annotated[Decimal, Field(gt=0, le=Decimal("1e12"), max_digits=16, decimal_places=2)]
    trading_frequency: Annotated[int, Field(ge=5, le=86400, description="Seconds between ticks")] = 60
    symbols: Annotated[list[str], Field(min_length=1, max_length=50)]
    indicators: Indicators
    risk_management: RiskConfig = Field(default_factory=RiskConfig)
    signal_mode: Literal["all", "any", "majority"] = "majority"
    timeframe: Timeframe = "1Min"
    start_hour: Annotated[int, Field(ge=0, le=23)] = 9
    start_minute: Annotated[int, Field(ge=0, le=59)] = 30
    end_hour: Annotated[int, Field(ge=0, le=23)] = 16
    end_minute: Annotated[int, Field(ge=0, le=59)] = 0

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        cleaned = []
        for raw in value:
            symbol = raw.strip().upper()
            if not SYMBOL_RE.match(symbol):
                raise ValueError(f"{raw!r} is not a ticker (a letter, then letters, digits, '.' or '-', at most 10)")
            if symbol in cleaned:
                raise ValueError(f"{symbol} is listed twice")
            cleaned.append(symbol)
        return cleaned

    @model_validator(mode="after")
    def _window(self):
        if self.window_start >= self.window_end:
            raise ValueError("end_hour:end_minute must be after start_hour:start_minute")
        return self

    @property
    def window_start(self) -> time:
        return time(self.start_hour, self.start_minute)

    @property
    def window_end(self) -> time:
        return time(self.end_hour, self.end_minute)

    def indicator_params(self) -> dict[str, Params]:
        return {name: params for name in REGISTRY if (params := getattr(self.indicators, name)) is not None}

    def stored(self) -> dict:
        """The JSON-ready form kept on the Bot row (indicators without unset entries)."""
        data = self.model_dump(mode="json")
        data["indicators"] = self.indicators.model_dump(mode="json", exclude_none=True)
        data["risk_management"] = self.risk_management.model_dump(mode="json")
        return data


def config_errors(exc: ValidationError) -> list[dict]:
    """Flatten a ValidationError into [{"field": "indicators.MACD.slow", "message": "..."}]."""
    return [
        {"field": ".".join(str(part) for part in err["loc"]) or "__all__", "message": _message(err)}
        for err in exc.errors()
    ]


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden" and error["loc"][:1] == ("indicators",) and len(error["loc"]) == 2:
        return f"unknown indicator (known: {', '.join(REGISTRY)})"
    return error["msg"].removeprefix("Value error, ")
