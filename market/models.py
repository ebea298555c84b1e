from django.db import models


class Bar(models.Model):
    """An OHLCV bar imported from CSV; used in place of a live feed when present."""

    symbol = models.CharField(max_length=16)
    timeframe = models.CharField(max_length=8)
    time = models.DateTimeField(help_text="Bar open time, UTC")
    open = models.DecimalField(max_digits=18, decimal_places=6)
    high = models.DecimalField(max_digits=18, decimal_places=6)
    low = models.DecimalField(max_digits=18, decimal_places=6)
    close = models.DecimalField(max_digits=18, decimal_places=6)
    volume = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        ordering = ["symbol", "timeframe", "time"]
        constraints = [
            models.UniqueConstraint(fields=["symbol", "timeframe", "time"], name="bar_unique_symbol_timeframe_time"),
            models.CheckConstraint(condition=models.Q(low__lte=models.F("high")), name="bar_low_not_above_high"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.timeframe} {self.time:%Y-%m-%d %H:%M}"
