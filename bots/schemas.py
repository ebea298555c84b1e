"""The JSON API's shapes for bots and broker accounts. Inputs and outputs are separate classes:
an output never accepts a field by accident, an input never leaks one."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import ModelSchema, Schema
from pydantic import AfterValidator, ConfigDict, Field

from bots.models import BookMismatch, Bot, BrokerAccount
from engine.config import EXAMPLE_CONFIG, BotConfig
from tradebot.api_types import Id, Text


class BotIn(BotConfig):
    """The design's bot configuration, accepted verbatim, plus the broker account to trade through
    (your default simulated paper account when left out)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_CONFIG]})

    broker_account_id: Id | None = None
    confirm_live: bool = Field(
        False, description="Required to put the bot on a live account (creating or moving it): it trades real money."
    )

    def config(self) -> BotConfig:
        return BotConfig.model_validate(self.model_dump(exclude={"broker_account_id", "confirm_live"}))


class HoldOut(Schema):
    id: int
    symbol: str
    side: Literal["buy", "sell"] = Field(description="buy: entries held; sell: exits held")
    reason: str = Field(description="The broker's refusal")
    created_at: datetime


class BotOut(ModelSchema):
    id: int
    broker_account_id: int
    # As stored (cents), also straight after a create, before the row is read back.
    capital: Annotated[Decimal, AfterValidator(lambda value: value.quantize(Decimal("0.01")))]
    # JSON columns, typed as what BotConfig stores in them.
    symbols: list[str]
    indicators: dict[str, dict[str, Any]]
    risk_management: dict[str, Any]

    holds: list[HoldOut] = Field(description="Orders held since the broker refused one; release to send again")

    @staticmethod
    def resolve_holds(bot) -> list:
        held = getattr(bot, "open_holds", None)
        return held if held is not None else list(bot.holds.filter(released_at__isnull=True))

    class Meta:
        model = Bot
        fields = [
            "name", "status", "status_reason", "paused_until_reset", "paused_at",
            "trading_frequency", "signal_mode", "timeframe",
            "start_hour", "start_minute", "end_hour", "end_minute",
            "last_tick_at", "created_at", "updated_at",
        ]  # fmt: skip


class BrokerAccountIn(Schema):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[Text, Field(min_length=1, max_length=100)]
    kind: Literal["sim", "alpaca"] = "sim"
    paper: bool = True
    api_key: Annotated[Text, Field(max_length=200)] = ""
    secret_key: Annotated[Text, Field(max_length=200)] = ""
    base_url: Annotated[Text, Field(max_length=200)] = ""
    data_url: Annotated[Text, Field(max_length=200)] = ""
    data_feed: Literal["iex", "sip"] = Field(
        "iex", description="Alpaca's data feed: IEX (every plan) or SIP (a paid plan)"
    )
    confirm_live: bool = Field(False, description="Required for a live (non-paper) account: it trades real money.")


class BrokerAccountOut(ModelSchema):
    """The secrets are write-only: the API says whether they are set, never what they are."""

    id: int
    has_credentials: bool
    created_at: datetime

    class Meta:
        model = BrokerAccount
        fields = [
            "name", "kind", "paper", "base_url", "data_url", "data_feed",
            "sim_slippage", "sim_commission", "is_default",
        ]  # fmt: skip


class MismatchOut(ModelSchema):
    """The books against the broker's for one symbol of an account: both pictures, and how it ended."""

    id: int
    account_id: int
    ours: int = Field(description="Shares the bots' books hold")
    theirs: int = Field(description="Shares the broker holds")

    class Meta:
        model = BookMismatch
        fields = ["symbol", "kind", "detail", "detected_at", "seen_at", "resolved_at", "resolution"]


class MismatchFixIn(Schema):
    fix: Literal["adopt", "close", "resolve"] = Field(
        description="adopt: the bot takes the broker's quantity; close: sell at the broker what it holds beyond the "
        "books (or cancel its order); resolve: mark it dealt with"
    )
