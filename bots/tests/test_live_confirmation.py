"""Real money is confirmed at the bot too: creating a bot on a live account, moving one to it and
starting it each need an explicit confirmation, and two-factor authentication on, in the API, the
pages and the admin."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from bots import services
from bots.models import Bot
from tests import factories
from tests.api_client import api_client
from tests.factories import DESIGN_CONFIG, BotFactory, BrokerAccountFactory, UserFactory, with_totp

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def live(owner):
    return BrokerAccountFactory(owner=owner, name="Real money", kind="alpaca", paper=False)


def messages_of(response) -> list[str]:
    return [error["message"] for error in response.json()["detail"]]


def test_the_api_creates_a_live_bot_only_confirmed_and_with_two_factor(owner, live):
    client = api_client(owner)
    payload = {**DESIGN_CONFIG, "broker_account_id": live.pk}

    unconfirmed = client.post("/bots", json=payload)
    assert unconfirmed.status_code == 422 and "trade real money" in messages_of(unconfirmed)[0]
    without_mfa = client.post("/bots", json={**payload, "confirm_live": True})
    assert without_mfa.status_code == 422 and "two-factor" in messages_of(without_mfa)[0]
    assert not Bot.objects.exists()

    with_totp(owner)
    created = client.post("/bots", json={**payload, "confirm_live": True})
    assert created.status_code == 201 and created.json()["broker_account_id"] == live.pk


def test_the_api_moves_a_bot_to_a_live_account_only_confirmed(owner, live):
    bot = BotFactory(owner=owner)
    client = api_client(owner)
    payload = {**DESIGN_CONFIG, "name": bot.name, "broker_account_id": live.pk}

    assert client.put(f"/bots/{bot.pk}", json=payload).status_code == 422
    assert client.put(f"/bots/{bot.pk}", json={**payload, "confirm_live": True}).status_code == 422  # no 2FA
    bot.refresh_from_db()
    assert bot.broker_account_id != live.pk

    with_totp(owner)
    assert client.put(f"/bots/{bot.pk}", json={**payload, "confirm_live": True}).status_code == 200
    bot.refresh_from_db()
    assert bot.broker_account_id == live.pk


def test_the_api_starts_a_live_bot_only_confirmed_and_with_two_factor(owner, live):
    bot = BotFactory(owner=owner, broker_account=live)
    client = api_client(owner)

    unconfirmed = client.post(f"/bots/{bot.pk}/start")
    assert unconfirmed.status_code == 409 and "real money" in unconfirmed.json()["detail"]
    without_mfa = client.post(f"/bots/{bot.pk}/start?confirm_live=true")
    assert without_mfa.status_code == 409 and "two-factor" in without_mfa.json()["detail"]
    bot.refresh_from_db()
    assert bot.status == "stopped" and bot.periodic_task_id is None

    with_totp(owner)
    assert client.post(f"/bots/{bot.pk}/start?confirm_live=true").json()["status"] == "running"


def test_a_paper_bot_needs_no_confirmation(owner):
    bot = BotFactory(owner=owner)
    assert api_client(owner).post(f"/bots/{bot.pk}/start").json()["status"] == "running"


def test_the_pages_ask_for_the_confirmation(owner, live):
    client = Client()
    client.force_login(owner)
    form = factories.bot_page_form_data(live, name="Live one")

    refused = client.post("/bots/new/", form)
    assert refused.status_code == 200 and refused.context["form"].errors["confirm_live"]
    with_totp(owner)
    created = client.post("/bots/new/", {**form, "confirm_live": "on"})
    assert created.status_code == 302
    bot = Bot.objects.get(name="Live one")

    client.post(f"/bots/{bot.pk}/start/")
    bot.refresh_from_db()
    assert bot.status == "stopped"
    client.post(f"/bots/{bot.pk}/start/", {"confirm_live": "yes"})
    bot.refresh_from_db()
    assert bot.status == "running"


def test_the_bot_pages_start_button_asks_before_real_money(owner, live):
    bot = BotFactory(owner=owner, broker_account=live)
    client = Client()
    client.force_login(owner)
    page = client.get(f"/bots/{bot.pk}/").content.decode()
    assert "trades REAL MONEY on Real money" in page and '"confirm_live": "yes"' in page


def test_the_admin_asks_for_the_confirmation(owner, live):
    owner.is_staff = True
    owner.save()
    owner.user_permissions.set(Permission.objects.filter(content_type__app_label="bots"))
    client = Client()
    client.force_login(owner)
    form = factories.bot_form_data(live, name="Admin live", _save="Save")

    refused = client.post("/admin/bots/bot/add/", form)
    assert refused.status_code == 200 and "confirm_live" in refused.context["adminform"].form.errors
    with_totp(owner)
    assert client.post("/admin/bots/bot/add/", {**form, "confirm_live": "on"}).status_code == 302
    bot = Bot.objects.get(name="Admin live")

    client.post("/admin/bots/bot/", {"action": "start_bots", "_selected_action": [bot.pk]})
    bot.refresh_from_db()
    assert bot.status == "stopped"
    client.post("/admin/bots/bot/", {"action": "start_bots_confirming_live", "_selected_action": [bot.pk]})
    bot.refresh_from_db()
    assert bot.status == "running"


def test_moving_between_paper_accounts_needs_nothing(owner):
    bot = BotFactory(owner=owner)
    other = BrokerAccountFactory(owner=owner)
    services.bot_update(bot=bot, config=bot.config(), broker_account=other)
    assert Bot.objects.get(pk=bot.pk).broker_account == other
