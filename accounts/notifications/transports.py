"""How a message reaches each kind of channel: one function per kind, in one registry. A failure is
TransportFailed with a reason safe to show and log: never the URL or the token, which are secrets."""

from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.mail import send_mail

from accounts.notifications.models import Notification, NotificationChannel
from accounts.notifications.targets import TargetRefused, check_webhook_url

TIMEOUT_SECONDS = 10
DISCORD_LIMIT = 2000
TELEGRAM_LIMIT = 4096


class TransportFailed(Exception):
    pass


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    notifications: list[Notification]

    @classmethod
    def of(cls, notifications: list[Notification]) -> "Message":
        """One notification as it is; several arriving together as one message listing them."""
        if len(notifications) == 1:
            only = notifications[0]
            return cls(only.title, only.body, notifications)
        lines = [f"- {n.title}" + (f": {n.body}" if n.body else "") for n in notifications]
        return cls(f"{len(notifications)} Tradebot notifications", "\n".join(lines), notifications)

    def text(self) -> str:
        return f"{self.title}\n{self.body}" if self.body else self.title


def _post(url: str, payload: dict) -> None:
    try:
        response = requests.post(url, json=payload, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise TransportFailed(f"could not reach the receiver ({type(exc).__name__})") from None
    if not 200 <= response.status_code < 300:
        raise TransportFailed(f"the receiver answered HTTP {response.status_code}")


def _webhook_url(channel: NotificationChannel) -> str:
    url = channel.secret
    try:
        check_webhook_url(url)  # again at sending: a name may resolve elsewhere since it was saved
    except TargetRefused as exc:
        raise TransportFailed(f"the webhook URL {exc}") from None
    return url


def send_email(channel: NotificationChannel, message: Message) -> None:
    try:
        send_mail(f"[Tradebot] {message.title}", message.body or message.title, None, [channel.address])
    except OSError as exc:  # smtplib's errors are OSErrors
        raise TransportFailed(f"the mail server refused or failed ({type(exc).__name__})") from None


def send_slack(channel: NotificationChannel, message: Message) -> None:
    _post(_webhook_url(channel), {"text": f"*{message.title}*\n{message.body}".strip()})


def send_discord(channel: NotificationChannel, message: Message) -> None:
    _post(_webhook_url(channel), {"content": f"**{message.title}**\n{message.body}".strip()[:DISCORD_LIMIT]})


def send_webhook(channel: NotificationChannel, message: Message) -> None:
    events = [
        {
            "event": n.event,
            "key": n.key,
            "title": n.title,
            "body": n.body,
            "bot_id": n.bot_id,
            "at": n.created_at.isoformat(),
        }
        for n in message.notifications
    ]
    # "text" and "content" too, so Slack- and Discord-compatible receivers show it as it is.
    text = message.text()
    _post(
        _webhook_url(channel), {"title": message.title, "text": text, "content": text[:DISCORD_LIMIT], "events": events}
    )


def send_telegram(channel: NotificationChannel, message: Message) -> None:
    url = f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot{channel.secret}/sendMessage"
    _post(url, {"chat_id": channel.address, "text": message.text()[:TELEGRAM_LIMIT]})


TRANSPORTS: dict[str, Callable[[NotificationChannel, Message], None]] = {
    NotificationChannel.Kind.EMAIL: send_email,
    NotificationChannel.Kind.SLACK: send_slack,
    NotificationChannel.Kind.DISCORD: send_discord,
    NotificationChannel.Kind.WEBHOOK: send_webhook,
    NotificationChannel.Kind.TELEGRAM: send_telegram,
}
