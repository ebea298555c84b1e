from django.conf import settings
from django.db import models
from django.db.models import Q


class PositionQuerySet(models.QuerySet):
    def for_user(self, user):
        return self if user.is_superuser else self.filter(owner=user)

    def open(self):
        return self.filter(is_open=True)


class Position(models.Model):
    """A bot's holding in one symbol. At most one open per bot and symbol, enforced by the database."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="positions")
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="positions")
    bot_name = models.CharField(max_length=100)
    symbol = models.CharField(max_length=16)
    quantity = models.PositiveIntegerField()
    entry_price = models.DecimalField(max_digits=18, decimal_places=6)
    entry_commission = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    current_price = models.DecimalField(max_digits=18, decimal_places=6)
    exit_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    stop_loss_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    take_profit_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    unrealized_pnl = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    realized_pnl = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    is_open = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PositionQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "is_open"], name="position_owner_open"),
            models.Index(fields=["bot", "is_open"], name="position_bot_open"),
            models.Index(fields=["symbol", "is_open"], name="position_symbol_open"),
            models.Index(fields=["-closed_at"], name="position_closed_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "symbol"], condition=Q(is_open=True), name="position_one_open_per_bot_symbol"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="position_quantity_positive"),
            models.CheckConstraint(condition=Q(entry_price__gt=0), name="position_entry_price_positive"),
            models.CheckConstraint(
                condition=Q(is_open=True, closed_at__isnull=True) | Q(is_open=False, closed_at__isnull=False),
                name="position_closed_at_iff_closed",
            ),
        ]

    def __str__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"{self.bot_name} {self.symbol} x{self.quantity} ({state})"

    @property
    def cost(self):
        return self.entry_price * self.quantity

    @property
    def market_value(self):
        return self.current_price * self.quantity
