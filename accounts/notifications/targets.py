"""Where a channel may point. A webhook URL is a request the server makes for a user: it must be
https on a public address, unless the operator lists its host in TRADEBOT_NOTIFY_ALLOWED_HOSTS (a
local receiver, an internal chat server), so no user can make the server post into its own network."""

import re
from urllib.parse import urlsplit

from django.conf import settings

from brokers.endpoints import EndpointUnresolved, is_internal, resolved_addresses


class TargetRefused(ValueError):
    """The message says why, for the channel's owner."""


TELEGRAM_TOKEN = re.compile(r"\d{3,15}:[A-Za-z0-9_-]{20,}")
TELEGRAM_CHAT = re.compile(r"-?\d{1,20}|@[A-Za-z0-9_]{5,32}")


def check_webhook_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        raise TargetRefused("is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise TargetRefused("must be an https URL")
    if host in {entry.strip().lower() for entry in settings.TRADEBOT_NOTIFY_ALLOWED_HOSTS}:
        return
    if parts.scheme != "https":
        raise TargetRefused("must be an https URL")
    try:
        addresses = resolved_addresses(host)
    except EndpointUnresolved:
        raise TargetRefused(f"{host} does not resolve") from None
    if any(is_internal(address) for address in addresses):
        raise TargetRefused(f"{host} resolves to an internal address; the operator must list it to allow it")


def check_telegram(token: str, chat_id: str) -> list[dict]:
    errors = []
    if not TELEGRAM_TOKEN.fullmatch(token):
        errors.append(
            {"field": "secret", "message": "a Telegram bot token looks like 123456:ABC-def... (from @BotFather)"}
        )
    if not TELEGRAM_CHAT.fullmatch(chat_id):
        errors.append({"field": "address", "message": "a Telegram chat id is a number (or @channelname)"})
    return errors
