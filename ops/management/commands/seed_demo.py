"""Demo data: a paper account and a bot per strategy template on the simulated market. Safe to run again."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from bots import services
from bots.models import Bot
from engine.presets import PRESETS

# Every strategy template of the bot form, trading around the clock on the simulated market.
AROUND_THE_CLOCK = {"start_hour": 0, "start_minute": 0, "end_hour": 23, "end_minute": 59}
DEMO_BOTS = [{**preset.config, **AROUND_THE_CLOCK} for preset in PRESETS.values()]


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
