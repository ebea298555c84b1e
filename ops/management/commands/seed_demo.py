"""Demo data: a paper account and three bots on the simulated market. Safe to run again."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from bots import services
from bots.models import Bot
from engine.config import EXAMPLE_CONFIG

DEMO_BOTS = [
    # The design's example, trading around the clock on the simulated market.
    dict(
        EXAMPLE_CONFIG, name="Momentum (RSI + MACD + SMA)", signal_mode="any", start_hour=0, end_hour=23, end_minute=59
    ),
    {
        "name": "Mean reversion (Bollinger + Stochastic)",
        "capital": 25000,
        "trading_frequency": 60,
        "symbols": ["AMZN", "NVDA", "TSLA"],
        "indicators": {"BBANDS": {"period": 20, "std": 2}, "STOCH": {"k": 14, "d": 3, "smooth_k": 3}},
        "risk_management": {"stop_loss": 0.03, "take_profit": 0.04, "max_position_size": 0.2, "max_positions": 2},
        "signal_mode": "any",
        "start_hour": 0,
        "start_minute": 0,
        "end_hour": 23,
        "end_minute": 59,
    },
    {
        "name": "Trend (EMA crossover, volume confirmed)",
        "capital": 5000,
        "trading_frequency": 300,
        "symbols": ["SPY", "QQQ"],
        "indicators": {
            "EMA": {"fast": 9, "slow": 21},
            "OBV": {"period": 20},
            "VOLUME_SMA": {"period": 20, "multiplier": 1.0},
        },
        "risk_management": {"stop_loss": 0.015, "take_profit": 0.03, "max_position_size": 0.25, "max_daily_trades": 10},
        "signal_mode": "majority",
        "timeframe": "5Min",
        "start_hour": 9,
        "start_minute": 30,
        "end_hour": 16,
        "end_minute": 0,
    },
]


class Command(BaseCommand):
    help = "Create demo bots on the simulated paper broker for a user (default: the first superuser)."

    def add_arguments(self, parser):
        parser.add_argument("--username", help="owner of the demo bots")
        parser.add_argument("--no-start", action="store_true", help="leave the demo bots stopped")

    def handle(self, *args, username: str | None, no_start: bool, **options):
        users = get_user_model().objects
        owner = (
            users.filter(username=username).first()
            if username
            else users.filter(is_superuser=True).order_by("pk").first()
        )
        if owner is None:
            raise CommandError("no such user: create one first (make run creates an admin)")
        account = services.default_broker_account(owner)
        for data in DEMO_BOTS:
            bot = Bot.objects.filter(owner=owner, name=data["name"]).first()
            if bot is not None:
                self.stdout.write(f"exists: {bot.name}")
                continue
            bot = services.bot_create(owner=owner, config=services.parse_config(data), broker_account=account)
            if not no_start:
                services.bot_start(bot=bot)
            self.stdout.write(f"created: {bot.name} ({bot.status})")
