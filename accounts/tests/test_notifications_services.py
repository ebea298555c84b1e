"""Notifications on PostgreSQL and Redis: a local SMTP server (aiosmtpd) and a local webhook receiver
get exactly one message per event, however often the event is reported and the task runs, and a
failing channel is retried then shown failed in the delivery log."""

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from django.test import override_settings

from accounts.notifications.events import Event
from accounts.notifications.models import Delivery
from accounts.notifications.services import MAX_ATTEMPTS, channel_save, notify
from accounts.notifications.tasks import deliver
from tests.web_process import free_port
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


class Inbox(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            EMAIL_USE_TLS=False,
        ):
            yield inbox
    finally:
        controller.stop()


@pytest.fixture
def receiver():
    with WebhookReceiver() as receiver, override_settings(TRADEBOT_NOTIFY_ALLOWED_HOSTS=["127.0.0.1"]):
        yield receiver


def test_one_message_per_event_under_retries(user, smtp, receiver):
    events = ["bot_error"]
    email = channel_save(owner=user, kind="email", name="mail", address="trader@example.com", events=events)
    hook = channel_save(owner=user, kind="webhook", name="hook", secret=f"{receiver.url}/hook", events=events)
    receiver.fail_next(1)  # the webhook's first attempt fails: its task is retried

    for _ in range(3):  # the same error reported three times (a tick retried, a second worker)
        notify(user_id=user.pk, event=Event.BOT_ERROR, key="bot:7:error:1", title="Momentum stopped in error")
    for channel in (email, hook):  # and each task delivered twice (a worker that died before acking)
        deliver.apply(args=[channel.pk])

    assert [m["Subject"] for m in smtp.messages] == ["[Tradebot] Momentum stopped in error"]
    assert [body["title"] for _, body in receiver.received] == ["Momentum stopped in error"]
    assert dict(Delivery.objects.values_list("channel__name", "attempts")) == {"mail": 1, "hook": 2}


def test_a_channel_that_keeps_failing_is_shown_failed(user, receiver, client):
    hook = channel_save(owner=user, kind="slack", name="hook", secret=f"{receiver.url}/hook", events=["bot_error"])
    receiver.fail_next(MAX_ATTEMPTS, status=503)

    notify(user_id=user.pk, event=Event.BOT_ERROR, key="bot:7:error:2", title="Momentum stopped in error")

    delivery = hook.deliveries.get()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    client.force_login(user)
    assert "the receiver answered HTTP 503" in client.get("/notifications/").content.decode()
