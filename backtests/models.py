from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from bots.models import TIMEFRAME_CHOICES


class BacktestQuerySet(models.QuerySet):
    # The result columns: up to a few MB a row, read only on one backtest's page.
    RESULTS = ("trades", "equity_curve", "prices", "open_positions")

    def for_user(self, user):
        return self if user.is_superuser else self.filter(owner=user)

    def summaries(self):
        """Without the result columns: for lists, which show the statistics only."""
        return self.defer(*self.RESULTS)


class Backtest(models.Model):
    """One run of a configuration over history, queued as a Celery job, and its stored results.

    Results are JSON documents, not child tables: they are written once, when the run ends, and only
    ever read whole (a page or an API answer shows all of them), never filtered or joined. Each is
    bounded: trades up to backtests.services.MAX_STORED_TRADES fills (a few MB at most; the statistics
    always count every trade), the equity curve and each symbol's prices downsampled to a fixed
    number of points.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests")
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.SET_NULL, related_name="backtests")
    # The configuration run (BotConfig's stored form), with the symbols, timeframe and capital as run.
    config = models.JSONField()
    symbols = models.JSONField(default=list)
    timeframe = models.CharField(max_length=6, choices=TIMEFRAME_CHOICES)
    start = models.DateField(help_text="First session day (New York)")
    end = models.DateField(help_text="Last session day (New York)")
    capital = models.DecimalField(max_digits=16, decimal_places=2)
    slippage = models.DecimalField(max_digits=8, decimal_places=6, help_text="Fraction of the price")
    commission = models.DecimalField(max_digits=10, decimal_places=4, help_text="Dollars per order")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    error = models.TextField(blank=True)
    stats = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    trades = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    trade_count = models.PositiveIntegerField(
        default=0, help_text="Fills in the run; at most MAX_STORED_TRADES are stored"
    )
    equity_curve = models.JSONField(default=dict, help_text="Downsampled: time (epoch s), equity, drawdown (fraction)")
    prices = models.JSONField(default=dict, help_text="Per symbol, downsampled closes with the fills marked")
    open_positions = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved forward while it runs (with its progress): a running backtest whose worker died stops moving.
    alive_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = BacktestQuerySet.as_manager()

    class Meta:
        db_table = "bots_backtest"  # made by the bots app, before backtests were an app of their own
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="backtest_owner_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(start__lte=F("end")), name="backtest_start_not_after_end"),
            models.CheckConstraint(condition=Q(capital__gt=0), name="backtest_capital_positive"),
            models.CheckConstraint(
                condition=Q(slippage__gte=0, slippage__lt=1, commission__gte=0), name="backtest_costs_valid"
            ),
            models.CheckConstraint(condition=Q(progress__gte=0, progress__lte=1), name="backtest_progress_fraction"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]), name="backtest_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {', '.join(self.symbols)} {self.timeframe} {self.start}..{self.end}"

    def get_absolute_url(self) -> str:
        return reverse("backtests:detail", args=[self.pk])

    @property
    def name(self) -> str:
        return self.config.get("name", "")

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
