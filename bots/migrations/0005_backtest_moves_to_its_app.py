# The Backtest model moves to the backtests app with its table (bots_backtest): only Django's picture
# of the models changes here; backtests.0001_initial takes it over.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("bots", "0004_timeframe_choices_from_market_time"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Backtest")]),
    ]
