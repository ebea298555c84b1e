"""Notifications end to end in one process: each channel kind against a local receiver (the real HTTP
requests Slack, Discord, a webhook and Telegram's Bot API get), email through Django's backend, one
message per event however often it is reported, bundling, retries, the delivery log and the page."""

import pytest
from django.core import mail
from django.db import transaction
from django.test import override_settings

from accounts.notifications.events import Event
from accounts.notifications.models import Delivery, Notification, NotificationChannel
from accounts.notifications.services import channel_save, channel_test, max_attempts, notify
from accounts.notifications.tasks import deliver
from tests.webhook_receiver import WebhookReceiver

# Committed for real: the sending is queued when the event's transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)

TELEGRAM_TOKEN = "123456789:AAEexampleTOKENexampleTOKEN"


@pytest.fixture
def receiver():
    with (
        WebhookReceiver() as receiver,
        override_settings(TRADEBOT_NOTIFY_ALLOWED_HOSTS=["127.0.0.1"], TELEGRAM_API_URL=receiver.url),
    ):
        yield receiver


def channel(user, kind, receiver=None, **fields):
    secret = {"telegram": TELEGRAM_TOKEN}.get(kind, f"{receiver.url}/hook/{kind}" if receiver else "")
    address = {"email": "trader@example.com", "telegram": "4242"}.get(kind, "")
    return channel_save(
        owner=user, kind=kind, name=kind, address=address, secret=secret, events=fields.get("events", ["order_filled"])
    )


def fill(user, key="order:tb-1-AAPL-buy-1:filled", title="Momentum: buy 10 AAPL filled at 187.20"):
    notify(user_id=user.pk, event=Event.ORDER_FILLED, key=key, title=title, body="buy signal")


def test_slack_discord_webhook_and_telegram_get_their_own_payloads(user, receiver):
    for kind in ("slack", "discord", "webhook", "telegram"):
        channel(user, kind, receiver)

    fill(user)

    payloads = dict(receiver.received)
    assert payloads["/hook/slack"] == {"text": "*Momentum: buy 10 AAPL filled at 187.20*\nbuy signal"}
    assert payloads["/hook/discord"] == {"content": "**Momentum: buy 10 AAPL filled at 187.20**\nbuy signal"}
    webhook = payloads["/hook/webhook"]
    assert webhook["text"] == webhook["content"] == "Momentum: buy 10 AAPL filled at 187.20\nbuy signal"
    assert [e["event"] for e in webhook["events"]] == ["order_filled"]
    assert payloads[f"/bot{TELEGRAM_TOKEN}/sendMessage"] == {
        "chat_id": "4242",
        "text": "Momentum: buy 10 AAPL filled at 187.20\nbuy signal",
    }
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_email_goes_through_djangos_backend(user):
    channel(user, "email")
    fill(user)
    [message] = mail.outbox
    assert message.to == ["trader@example.com"]
    assert message.subject == "[Tradebot] Momentum: buy 10 AAPL filled at 187.20"


def test_an_event_reported_twice_and_a_task_run_twice_send_one_message(user, receiver):
    hook = channel(user, "slack", receiver)
    fill(user)
    fill(user)
    deliver.apply(args=[hook.pk])

    assert len(receiver.received) == 1
    assert Notification.objects.count() == 1


def test_events_arriving_together_are_bundled_into_one_message(user, receiver):
    channel(user, "slack", receiver)
    with transaction.atomic():
        for n in range(3):
            fill(user, key=f"order:{n}:filled", title=f"order {n} filled")

    [(_, payload)] = receiver.received
    assert payload["text"].startswith("*3 Tradebot notifications*")
    assert all(f"order {n} filled" in payload["text"] for n in range(3))


def test_a_channel_that_does_not_want_the_event_gets_nothing(user, receiver):
    channel(user, "slack", receiver, events=["bot_error"])
    fill(user)
    assert receiver.received == []
    assert not Notification.objects.exists()


def test_a_failing_channel_is_retried_then_shown_failed(user, receiver, client):
    channel(user, "slack", receiver)
    receiver.fail_next(max_attempts())

    fill(user)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.error) == (
        "failed",
        max_attempts(),
        "the receiver answered HTTP 500",
    )
    assert receiver.received == []
    client.force_login(user)
    page = client.get("/notifications/").content.decode()
    assert "the receiver answered HTTP 500" in page and ">failed<" in page


def test_a_channel_that_recovers_within_its_retries_sends_once(user, receiver):
    channel(user, "slack", receiver)
    receiver.fail_next(2)
    fill(user)
    assert len(receiver.received) == 1
    assert Delivery.objects.values_list("status", "attempts").get() == ("sent", 3)


def test_the_settings_page_adds_a_channel_and_sends_a_test(user, receiver, client):
    client.force_login(user)
    url = f"{receiver.url}/hook/secret-path-T0KEN"
    response = client.post(
        "/notifications/", {"kind": "slack", "name": "desk", "secret": url, "events": ["order_failed", "bot_error"]}
    )
    assert response.status_code == 302
    hook = NotificationChannel.objects.get(owner=user)
    assert (hook.kind, hook.events, hook.secret) == ("slack", ["bot_error", "order_failed"], url)
    assert url not in hook.secret_encrypted

    client.post(f"/notifications/{hook.pk}/test/")

    [(path, payload)] = receiver.received
    assert path == "/hook/secret-path-T0KEN" and payload["text"].startswith("*Test message from Tradebot*")
    page = client.get("/notifications/").content.decode()
    assert "secret-path-T0KEN" not in page  # the URL is a secret: never shown again
    assert "Test message from Tradebot" in page


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "slack", "name": "x", "secret": "http://example.com/hook"}, "secret"),
        ({"kind": "webhook", "name": "x", "secret": "https://127.0.0.1/hook"}, "secret"),
        ({"kind": "email", "name": "x", "address": "not-an-address"}, "address"),
        ({"kind": "telegram", "name": "x", "secret": "nope", "address": "4242"}, "secret"),
        ({"kind": "email", "name": "", "address": "a@b.c"}, "name"),
    ],
)
def test_bad_input_is_refused_on_its_field_and_nothing_saved(user, client, fields, field):
    client.force_login(user)
    response = client.post("/notifications/", fields)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not NotificationChannel.objects.exists()


def test_only_the_owner_can_test_or_delete_a_channel(user, client, receiver):
    hook = channel(user, "slack", receiver)
    other = NotificationChannel.objects.model._meta.get_field("owner").related_model.objects.create(username="other")
    client.force_login(other)
    assert client.post(f"/notifications/{hook.pk}/delete/").status_code == 404
    assert client.post(f"/notifications/{hook.pk}/test/").status_code == 404
    assert NotificationChannel.objects.filter(pk=hook.pk).exists()


def test_a_test_message_goes_to_its_channel_only(user, receiver):
    first, second = channel(user, "slack", receiver), channel(user, "discord", receiver)
    channel_test(channel=first)
    assert [path for path, _ in receiver.received] == ["/hook/slack"]
    assert not second.deliveries.exists()
