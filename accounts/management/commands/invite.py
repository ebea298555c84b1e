from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.invites import invite_link


class Command(BaseCommand):
    help = "Print a sign-up link for EMAIL (TRADEBOT_SIGNUP=invite); it expires after TRADEBOT_INVITE_DAYS days."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, email, **options):
        if settings.TRADEBOT_SIGNUP != "invite":
            self.stderr.write(f"Note: TRADEBOT_SIGNUP is {settings.TRADEBOT_SIGNUP!r}; the link works with 'invite'.")
        self.stdout.write(invite_link(email))
