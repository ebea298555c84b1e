"""Accounts that existed before sign-in moved to allauth keep signing in: the email an operator gave
each of them counts as verified (allauth requires a verified address of everyone who has one)."""

from django.conf import settings
from django.db import migrations


def mark_verified(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    EmailAddress = apps.get_model("account", "EmailAddress")
    taken = set()
    for user in User.objects.exclude(email="").order_by("pk"):
        email = user.email.lower()
        if email in taken or EmailAddress.objects.filter(email__iexact=email).exists():
            continue  # two accounts with one address: only the first keeps it
        taken.add(email)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_token_expiry"),
        ("account", "0009_emailaddress_unique_primary_email"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(mark_verified, migrations.RunPython.noop)]
