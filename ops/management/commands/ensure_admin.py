"""Create a superuser `admin` with a generated password when there is no superuser; print the login once."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser `admin` with a random password if no superuser exists, and print the login."

    def handle(self, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        users.create_superuser(username="admin", email="", password=password)
        # Shown this once only: the database keeps just the hash.
        self.stdout.write(self.style.SUCCESS(f"Created the admin user. Log in as admin / {password}"))
        self.stdout.write("(shown once; change it with `manage.py changepassword admin`)")
