"""Broker accounts whose saved keys no longer decrypt (TRADEBOT_ENCRYPTION_KEY changed without keeping
the old key), named wherever an operator looks: `migrate` and `check --database default`, the Celery
worker's start-up log, and /health."""

import logging

from celery.signals import worker_ready
from django.core import checks
from django.core.cache import cache
from django.db import DatabaseError

from bots.models import BrokerAccount

logger = logging.getLogger(__name__)


def broker_accounts_unreadable() -> list[BrokerAccount]:
    """Accounts with saved keys that no configured encryption key decrypts."""
    saved = BrokerAccount.objects.exclude(api_key_encrypted="").select_related("owner").order_by("pk")
    return [account for account in saved.iterator(chunk_size=500) if not account.keys_readable]


def _names(accounts) -> str:
    return ", ".join(f"#{account.pk} {account.name!r} of {account.owner}" for account in accounts)


@checks.register(checks.Tags.database)
def broker_keys_readable(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    if not databases:
        return []
    try:
        unreadable = broker_accounts_unreadable()
    except DatabaseError:
        return []  # not migrated yet: nothing stored to decrypt
    if not unreadable:
        return []
    return [
        checks.Warning(
            f"the keys of {len(unreadable)} broker account(s) no longer decrypt: {_names(unreadable)}",
            hint="Put the old key back in TRADEBOT_ENCRYPTION_KEY (comma-separated after the new one), "
            "or have the owners enter their keys again. Their bots hold their entries meanwhile.",
            id="bots.W001",
        )
    ]


@worker_ready.connect
def log_unreadable_keys(**kwargs) -> None:
    for warning in broker_keys_readable(databases=["default"]):
        logger.warning("%s. %s", warning.msg, warning.hint)


# /health is polled; decrypting every account's keys each time would grow with the accounts.
HEALTH_KEY = "tradebot:health:broker_keys"
HEALTH_TTL_SECONDS = 60


def broker_keys_health() -> dict:
    state = cache.get(HEALTH_KEY)
    if state is None:
        unreadable = broker_accounts_unreadable()
        state = {"ok": not unreadable}
        if unreadable:
            state["error"] = f"the keys of {len(unreadable)} broker account(s) no longer decrypt"
            state["accounts"] = [{"id": a.pk, "name": a.name, "owner": str(a.owner)} for a in unreadable]
        cache.set(HEALTH_KEY, state, timeout=HEALTH_TTL_SECONDS)
    return state


def forget_broker_keys_health() -> None:
    """New keys were saved: the next /health looks again."""
    cache.delete(HEALTH_KEY)
