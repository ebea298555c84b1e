"""Notifications through a real Celery worker on PostgreSQL and Redis: a local SMTP server (aiosmtpd)
and a local webhook receiver get exactly one message per event, however often the event is reported
and its task delivered, while the webhook's first attempt fails and its task is retried; a channel
that keeps failing is shown failed in the delivery log."""

import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from celery.app import routes
from django.test import override_settings

from accounts.notifications.events import Event
from accounts.notifications.models import Delivery
from accounts.notifications.services import channel_save, max_attempts, notify
from accounts.notifications.tasks import deliver
from tests.celery_worker import running_worker
from tests.web_process import free_port
from tests.webhook_receiver import WebhookReceiver
from tradebot.celery import app

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 90
PAUSES = "0.5,0.5,0.5"


class Inbox(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


@pytest.fixture
def smtp():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def worker(tmp_path, smtp, monkeypatch):
    """A worker that mails through the local SMTP server, with short retry pauses; this process's
    deliveries are routed to its queue."""
    log = tmp_path / "worker.log"
    env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp[1]}",
        "TRADEBOT_NOTIFY_ALLOWED_HOSTS": "127.0.0.1",
        "TRADEBOT_NOTIFY_RETRY_SECONDS": PAUSES,
    }
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    with running_worker(log, **env) as (process, queue):
        monkeypatch.setattr(app.amqp.router, "routes", routes.prepare({deliver.name: {"queue": queue}}))
        with override_settings(TRADEBOT_NOTIFY_ALLOWED_HOSTS=["127.0.0.1"], TRADEBOT_NOTIFY_BUNDLE_SECONDS=0.5):
            yield process, log


def wait_until_settled(worker) -> None:
    process, log = worker
    deadline = time.monotonic() + WAIT_SECONDS
    while Delivery.objects.filter(status__in=["pending", "sending"]).exists():
        assert process.poll() is None, f"the worker died:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"deliveries still pending:\n{log.read_text()}"
        time.sleep(0.2)


def test_one_message_per_event_under_retried_and_repeated_tasks(user, smtp, worker):
    inbox, _ = smtp
    with WebhookReceiver() as receiver:
        events = ["bot_error"]
        email = channel_save(owner=user, kind="email", name="mail", address="trader@example.com", events=events)
        hook = channel_save(owner=user, kind="webhook", name="hook", secret=f"{receiver.url}/hook", events=events)
        receiver.fail_next(1)  # the webhook's first attempt fails: its task is retried

        for _ in range(3):  # the same error reported three times (a tick retried, a second worker)
            notify(user_id=user.pk, event=Event.BOT_ERROR, key="bot:7:error:1", title="Momentum stopped in error")
        for channel in (email, hook):  # and each delivery task sent again (a worker that died before acking)
            deliver.apply_async(args=[channel.pk])
        wait_until_settled(worker)
        time.sleep(1)  # any duplicate would have arrived by now

        assert [body["title"] for _, body in receiver.received] == ["Momentum stopped in error"]
    assert [m["Subject"] for m in inbox.messages] == ["[Tradebot] Momentum stopped in error"]
    assert dict(Delivery.objects.values_list("channel__name", "status")) == {"mail": "sent", "hook": "sent"}
    assert Delivery.objects.get(channel=hook).attempts == 2


def test_a_channel_that_keeps_failing_is_retried_then_shown_failed(user, worker, client):
    with WebhookReceiver() as receiver, override_settings(TRADEBOT_NOTIFY_RETRY_SECONDS=[0.5, 0.5, 0.5]):
        hook = channel_save(owner=user, kind="slack", name="hook", secret=f"{receiver.url}/hook", events=["bot_error"])
        receiver.fail_next(max_attempts(), status=503)

        notify(user_id=user.pk, event=Event.BOT_ERROR, key="bot:7:error:2", title="Momentum stopped in error")
        wait_until_settled(worker)

        delivery = hook.deliveries.get()
        assert (delivery.status, delivery.attempts) == ("failed", max_attempts())
        assert receiver.received == []
    client.force_login(user)
    assert "the receiver answered HTTP 503" in client.get("/notifications/").content.decode()
