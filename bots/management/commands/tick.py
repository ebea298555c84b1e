from django.core.management.base import BaseCommand, CommandError

from bots.models import Bot
from bots.ticks import bot_tick


class Command(BaseCommand):
    help = "Run one tick of a bot now and print what it decided and why."

    def add_arguments(self, parser):
        parser.add_argument("bot_id", type=int)
        parser.add_argument(
            "--force", action="store_true", help="ignore the trading window and market hours (never the risk rules)"
        )

    def handle(self, *args, bot_id: int, force: bool, **options):
        if not Bot.objects.filter(pk=bot_id).exists():
            raise CommandError(f"no bot with id {bot_id}")
        report = bot_tick(bot_id=bot_id, force=force)
        for line in report.lines():
            self.stdout.write(line)
        if report.outcome == "failed":
            raise CommandError(report.message)
