from django.conf import settings
from django.db import models
from django.db.models import F, Q


class TradeQuerySet(models.QuerySet):
    def for_user(self, user):
        return self if user.is_superuser else self.filter(owner=user)

    def pending(self):
        """Orders not yet settled with the broker."""
        return self.filter(status=Trade.Status.PENDING)

    def delete(self):
        raise PermissionError("Trades are financial records: they are never deleted.")


class Trade(models.Model):
    """One order and its fill. Append-only: status moves forward, nothing is deleted."""

    class Type(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    class Status(models.TextChoices):
        PENDING = "pending"
        FILLED = "filled"
        CANCELLED = "cancelled"
        FAILED = "failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="trades")
    # Trades outlive their bot: deleting a bot keeps its trades, with the bot's name.
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="trades")
    bot_name = models.CharField(max_length=100)
    position = models.ForeignKey(
        "positions.Position", null=True, blank=True, on_delete=models.SET_NULL, related_name="trades"
    )
    symbol = models.CharField(max_length=16)
    type = models.CharField(max_length=4, choices=Type.choices)
    quantity = models.PositiveIntegerField(help_text="Shares ordered; once the order is done, the shares filled")
    filled_quantity = models.PositiveIntegerField(
        default=0, help_text="Shares filled so far: a partly filled order is recorded as it stands"
    )
    price = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True, help_text="Average fill price (so far)"
    )
    timestamp = models.DateTimeField(help_text="When the order was placed (UTC)")
    filled_at = models.DateTimeField(null=True, blank=True)
    bar_time = models.DateTimeField(null=True, blank=True, help_text="The bar the decision was made on")
    indicators_snapshot = models.JSONField(default=dict, blank=True)
    profit_loss = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    order_id = models.CharField(max_length=64, blank=True, help_text="The broker's order id")
    client_order_id = models.CharField(max_length=128, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    commission = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    slippage = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    reason = models.TextField(blank=True)
    message = models.CharField(max_length=500, blank=True, help_text="The broker's message on failure")

    objects = TradeQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["owner", "-timestamp"], name="trade_owner_time"),
            models.Index(fields=["bot", "-timestamp"], name="trade_bot_time"),
            models.Index(fields=["symbol", "-timestamp"], name="trade_symbol_time"),
            models.Index(fields=["status", "-timestamp"], name="trade_status_time"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive"),
            models.CheckConstraint(condition=Q(filled_quantity__lte=F("quantity")), name="trade_filled_within_ordered"),
            models.CheckConstraint(condition=Q(price__isnull=True) | Q(price__gt=0), name="trade_price_positive"),
            models.CheckConstraint(condition=Q(type__in=["buy", "sell"]), name="trade_type_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "filled", "cancelled", "failed"]), name="trade_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(type="sell") | Q(profit_loss__isnull=True), name="trade_pnl_only_on_sells"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.quantity} {self.symbol} @ {self.price} ({self.status})"

    @property
    def broker_refusal(self) -> str:
        """Why the broker did not fill this order, in words; '' while pending or once filled."""
        if self.status == self.Status.FAILED:
            return f"the broker refused it: {self.message or 'no reason given'}"
        if self.status == self.Status.CANCELLED:
            return f"it was cancelled: {self.message or 'no reason given'}"
        return ""

    def delete(self, *args, **kwargs):
        raise PermissionError("Trades are financial records: they are never deleted.")
