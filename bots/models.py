from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from engine.config import BotConfig, RiskConfig
from engine.market_time import TIMEFRAMES
from tradebot import crypto
from tradebot.errors import BrokerKeysUnreadable

TIMEFRAME_CHOICES = [(name, name) for name in TIMEFRAMES]


class DataFeed(models.TextChoices):
    IEX = "iex", "IEX"
    SIP = "sip", "SIP"


class BrokerAccount(models.Model):
    class Kind(models.TextChoices):
        SIM = "sim", "Simulated paper broker"
        ALPACA = "alpaca", "Alpaca"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="broker_accounts")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SIM)
    paper = models.BooleanField(default=True, help_text="Live (non-paper) accounts trade real money.")
    base_url = models.URLField(blank=True, help_text="Alpaca trading API; empty uses ALPACA_BASE_URL.")
    data_url = models.URLField(blank=True, help_text="Alpaca market data API; empty uses ALPACA_DATA_URL.")
    data_feed = models.CharField(
        max_length=4,
        choices=DataFeed.choices,
        default=DataFeed.IEX,
        help_text="Alpaca's data feed: IEX (every plan) or SIP (all US exchanges; a paid plan).",
    )
    api_key_encrypted = models.TextField(blank=True, editable=False)
    secret_key_encrypted = models.TextField(blank=True, editable=False)
    sim_slippage = models.DecimalField(
        max_digits=8, decimal_places=6, default=Decimal("0.0005"), help_text="Simulated fills: fraction of price."
    )
    sim_commission = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("0"), help_text="Simulated fills: dollars per order."
    )
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["owner", "name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="broker_account_unique_name"),
            models.UniqueConstraint(fields=["owner"], condition=Q(is_default=True), name="broker_account_one_default"),
            models.CheckConstraint(condition=Q(kind="alpaca") | Q(paper=True), name="broker_account_sim_is_paper"),
            models.CheckConstraint(
                condition=Q(sim_slippage__gte=0, sim_commission__gte=0), name="broker_account_costs_not_negative"
            ),
        ]

    def __str__(self) -> str:
        mode = "paper" if self.paper else "LIVE"
        return f"{self.name} ({self.get_kind_display()}, {mode})"

    def set_credentials(self, api_key: str, secret_key: str) -> None:
        self.api_key_encrypted = crypto.encrypt(api_key) if api_key else ""
        self.secret_key_encrypted = crypto.encrypt(secret_key) if secret_key else ""

    def credentials(self) -> tuple[str, str]:
        """The decrypted (api_key, secret_key), or the ALPACA_* defaults where none were saved.
        Keys saved but no longer decryptable raise BrokerKeysUnreadable: never the defaults instead."""
        try:
            key = crypto.decrypt(self.api_key_encrypted) if self.api_key_encrypted else settings.ALPACA_API_KEY
            secret = (
                crypto.decrypt(self.secret_key_encrypted) if self.secret_key_encrypted else settings.ALPACA_SECRET_KEY
            )
        except crypto.Undecryptable:
            raise BrokerKeysUnreadable(
                f"the keys of broker account {self.name!r} can no longer be decrypted (the server's encryption "
                "key changed): enter the API key and secret again"
            ) from None
        return key, secret

    @property
    def keys_readable(self) -> bool:
        """False when keys were saved but no configured encryption key decrypts them."""
        try:
            self.credentials()
        except BrokerKeysUnreadable:
            return False
        return True

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key_encrypted and self.secret_key_encrypted)

    @property
    def trading_url(self) -> str:
        return self.base_url or (settings.ALPACA_BASE_URL if self.paper else settings.ALPACA_LIVE_BASE_URL)

    @property
    def market_data_url(self) -> str:
        return self.data_url or settings.ALPACA_DATA_URL


class BotQuerySet(models.QuerySet):
    def for_user(self, user):
        return self if user.is_superuser else self.filter(owner=user)


class Bot(models.Model):
    class Status(models.TextChoices):
        STOPPED = "stopped"
        RUNNING = "running"
        PAUSED = "paused"
        ERROR = "error"

    class SignalMode(models.TextChoices):
        ALL = "all"
        ANY = "any"
        MAJORITY = "majority"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bots")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STOPPED, db_index=True)
    status_reason = models.CharField(max_length=500, blank=True)
    # Set when a daily rule (loss limit, target) paused the bot: the daily reset resumes it.
    paused_until_reset = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    capital = models.DecimalField(max_digits=16, decimal_places=2)
    trading_frequency = models.PositiveIntegerField(default=60, help_text="Seconds between ticks")
    symbols = models.JSONField(default=list)
    indicators = models.JSONField(default=dict)
    risk_management = models.JSONField(default=dict)
    signal_mode = models.CharField(max_length=10, choices=SignalMode.choices, default=SignalMode.MAJORITY)
    timeframe = models.CharField(max_length=6, choices=TIMEFRAME_CHOICES, default="1Min")
    start_hour = models.PositiveSmallIntegerField(default=9)
    start_minute = models.PositiveSmallIntegerField(default=30)
    end_hour = models.PositiveSmallIntegerField(default=16)
    end_minute = models.PositiveSmallIntegerField(default=0)
    broker_account = models.ForeignKey(BrokerAccount, on_delete=models.PROTECT, related_name="bots")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A tick claims the bot by moving this forward; a second tick finding it in the future skips.
    tick_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveSmallIntegerField(default=0, editable=False)
    last_tick_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BotQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="bot_unique_name_per_owner"),
            models.CheckConstraint(condition=Q(capital__gt=0), name="bot_capital_positive"),
            models.CheckConstraint(condition=Q(trading_frequency__gte=5), name="bot_frequency_at_least_5s"),
            models.CheckConstraint(
                condition=Q(status__in=["stopped", "running", "paused", "error"]), name="bot_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(start_hour__lte=23, end_hour__lte=23, start_minute__lte=59, end_minute__lte=59),
                name="bot_window_in_day",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    CONFIG_FIELDS = (
        "name",
        "capital",
        "trading_frequency",
        "symbols",
        "indicators",
        "risk_management",
        "signal_mode",
        "timeframe",
        "start_hour",
        "start_minute",
        "end_hour",
        "end_minute",
    )

    @property
    def ticks_disabled(self) -> bool:
        """Running or paused, yet its beat schedule is off or gone (someone changed it by hand): no tick comes."""
        if self.status not in (self.Status.RUNNING, self.Status.PAUSED):
            return False
        return self.periodic_task is None or not self.periodic_task.enabled

    def config_data(self) -> dict:
        return {name: getattr(self, name) for name in self.CONFIG_FIELDS}

    def config(self) -> BotConfig:
        """The validated configuration; raises pydantic.ValidationError if it no longer validates."""
        return BotConfig.model_validate(self.config_data())

    def apply_config(self, config: BotConfig) -> None:
        for name, value in config.stored().items():
            setattr(self, name, value)
        self.capital = config.capital

    def risk(self) -> RiskConfig:
        return RiskConfig.model_validate(self.risk_management or {})


class BookMismatch(models.Model):
    """A difference between the books and the broker's, found by reconciliation: the shares the bots
    on an account hold of a symbol against the shares the broker holds, or an order the broker works on
    that the books do not have as pending. Open until a fix or a later reconciliation finding them agree."""

    class Kind(models.TextChoices):
        POSITION = "position"
        ORDER = "order"

    account = models.ForeignKey(BrokerAccount, on_delete=models.CASCADE, related_name="mismatches")
    symbol = models.CharField(max_length=16)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.POSITION)
    ours = models.IntegerField(help_text="Shares the bots' books hold")
    theirs = models.IntegerField(help_text="Shares the broker holds")
    detail = models.CharField(max_length=500)
    detected_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(help_text="The last reconciliation that found it")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "symbol", "kind"], condition=Q(resolved_at__isnull=True), name="mismatch_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.symbol}: {self.detail}"


class BotHold(models.Model):
    """Orders a bot must not send for a symbol until the hold is released: the broker refused one and
    would refuse it again (insufficient funds or shares, forbidden, not tradable, account blocked).
    Resending every bar would change nothing but the broker's patience. A person releases it, or the
    next session's open does (a new day, one more try)."""

    class Side(models.TextChoices):
        BUY = "buy", "entries"
        SELL = "sell", "exits"

    class Kind(models.TextChoices):
        REFUSAL = "refusal", "refused by the broker"
        MISMATCH = "mismatch", "the books differ from the broker's"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="holds")
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=Side.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REFUSAL)
    reason = models.CharField(max_length=500)
    # The refused order: one hold per refusal, however often its result is looked at again.
    trade = models.OneToOneField("trades.Trade", null=True, blank=True, on_delete=models.SET_NULL, related_name="hold")
    mismatch = models.ForeignKey(BookMismatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="holds")
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_why = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "symbol", "side"], condition=Q(released_at__isnull=True), name="bot_hold_one_open"
            ),
            models.CheckConstraint(condition=Q(side__in=["buy", "sell"]), name="bot_hold_side_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.bot_id} {self.symbol} {self.get_side_display()} held: {self.reason}"

    @property
    def explanation(self) -> str:
        """Why the orders are held, in words for the bot's page and its tick record."""
        if self.kind == self.Kind.MISMATCH:
            return f"{self.get_side_display()} held until the books match the broker's: {self.reason}"
        return f"{self.get_side_display()} held since the broker refused: {self.reason}"


class TickLog(models.Model):
    """What one tick decided and why; the newest few hundred per bot are kept."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="tick_logs")
    started_at = models.DateTimeField(db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=20)
    message = models.CharField(max_length=500, blank=True)
    decisions = models.JSONField(default=list)

    KEEP_PER_BOT = 200

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["bot", "-started_at"], name="ticklog_bot_recent")]

    def __str__(self) -> str:
        return f"{self.bot_id} {self.started_at:%Y-%m-%d %H:%M:%S} {self.outcome}"


class BrokerStop(models.Model):
    """A stop (market) sell order resting at the broker for an open position, so the position's stop
    holds while every Tradebot process is down (a bot's `risk_management.stop_at_broker`). One at a
    time per position: a bigger position replaces it (cancel, then a new one under the next number),
    an exit cancels it before its sell goes out. Changed under its bot's row lock only (bots.broker_stops)."""

    class Status(models.TextChoices):
        SENDING = "sending", "sending (written ahead, not yet confirmed by the broker)"
        WORKING = "working", "resting at the broker"
        CANCELLED = "cancelled"
        FILLED = "filled", "filled at the broker"
        REFUSED = "refused", "refused by the broker"

    ACTIVE = (Status.SENDING, Status.WORKING)

    position = models.ForeignKey("positions.Position", on_delete=models.CASCADE, related_name="broker_stops")
    number = models.PositiveSmallIntegerField(help_text="1 for the first stop of the position, +1 per replacement")
    client_order_id = models.CharField(max_length=64, unique=True)
    order_id = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField()
    stop_price = models.DecimalField(max_digits=16, decimal_places=6)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["position", "number"], name="broker_stop_number_per_position"),
            models.UniqueConstraint(
                fields=["position"], condition=Q(status__in=["sending", "working"]), name="broker_stop_one_active"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0, stop_price__gt=0), name="broker_stop_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.client_order_id}: sell {self.quantity} at stop {self.stop_price} ({self.status})"

    @staticmethod
    def client_order_id_for(position_id: int, number: int) -> str:
        return f"tb-stop-{position_id}-{number}"
