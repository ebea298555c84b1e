"""The audit trail: who did what to a bot, a position, a broker account or a token, and from where
(page, API, admin, the system); append-only; shown per bot and per user."""

import pytest
from django.contrib.admin.sites import site

from accounts.audit.models import AppendOnly, AuditEntry
from accounts.services import api_token_create, api_token_revoke
from bots import services
from bots.tests.test_ticks import RSI_ONLY
from tests.factories import BotFactory, PositionFactory, UserFactory

pytestmark = pytest.mark.django_db


def trail(**filters) -> list[tuple]:
    return list(AuditEntry.objects.filter(**filters).order_by("id").values_list("action", "actor_name", "via", "ip"))


def test_a_person_starting_pausing_and_stopping_a_bot_on_its_page(client):
    bot = BotFactory(config=RSI_ONLY)
    client.force_login(bot.owner)
    for action in ("start", "pause", "stop"):
        client.post(f"/bots/{bot.pk}/{action}/", REMOTE_ADDR="203.0.113.9")

    name = bot.owner.get_username()
    assert trail(bot_id=bot.pk) == [
        ("bot_started", name, "page", "203.0.113.9"),
        ("bot_paused", name, "page", "203.0.113.9"),
        ("bot_stopped", name, "page", "203.0.113.9"),
    ]
    assert AuditEntry.objects.filter(action="bot_paused").get().details == {"reason": "paused by hand"}


def test_the_api_and_the_system_are_told_apart(client):
    user = UserFactory()
    _, token = api_token_create(user=user, name="script")
    response = client.post(
        "/api/bots",
        data={"name": "From a script", **{k: v for k, v in RSI_ONLY.items() if k != "name"}},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 201, response.content
    bot_id = response.json()["id"]
    services.bot_fail(bot=services.Bot.objects.get(pk=bot_id), message="3 ticks failed in a row")

    assert trail(bot_id=bot_id) == [
        ("bot_created", user.get_username(), "api", "198.51.100.4"),
        ("bot_errored", "", "system", None),
    ]


def test_broker_accounts_and_tokens_are_recorded_without_their_secrets(client):
    user = UserFactory()
    token, secret = api_token_create(user=user, name="laptop")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    created = client.post(
        "/api/broker-accounts", data={"name": "Sim two", "kind": "sim"}, content_type="application/json", **headers
    )
    client.delete(f"/api/broker-accounts/{created.json()['id']}", **headers)
    api_token_revoke(token=token)

    actions = [action for action, *_ in trail(owner=user)]
    assert actions == ["token_added", "account_added", "account_removed", "token_revoked"]
    assert secret not in str(list(AuditEntry.objects.values()))


def test_closing_a_position_by_hand_is_recorded(client):
    bot = BotFactory(config=RSI_ONLY)
    position = PositionFactory(bot=bot, owner=bot.owner, symbol="TEST")
    client.force_login(bot.owner)
    client.post(f"/positions/{position.pk}/close/", REMOTE_ADDR="192.0.2.1")
    entry = AuditEntry.objects.get(action="position_closed")
    assert (entry.bot_id, entry.via, entry.ip, entry.details["symbol"]) == (bot.pk, "page", "192.0.2.1", "TEST")


def test_entries_are_never_changed_or_deleted():
    bot = BotFactory(config=RSI_ONLY)
    services.bot_start(bot=bot)
    entry = AuditEntry.objects.get()
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.update(via="page")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    admin = site._registry[AuditEntry]
    assert not admin.has_change_permission(None, entry) and not admin.has_delete_permission(None, entry)


def test_each_owner_sees_the_trail_of_their_own_bots(client):
    mine, theirs = BotFactory(config=RSI_ONLY), BotFactory(config=RSI_ONLY)
    services.bot_start(bot=mine)
    services.bot_start(bot=theirs)
    client.force_login(mine.owner)

    page = client.get("/audit/").content.decode()
    assert mine.name in page and theirs.name not in page
    assert "started a bot" in client.get(f"/audit/bots/{mine.pk}/").content.decode()
    assert "started a bot" not in client.get(f"/audit/bots/{theirs.pk}/").content.decode()
    assert f'hx-get="/audit/bots/{mine.pk}/"' in client.get(f"/bots/{mine.pk}/").content.decode()
