"""TRADEBOT_ENCRYPTION_KEY changed without keeping the old key: the accounts whose keys no longer
decrypt are named (start-up checks, /health, the admin), the API says to enter the keys again with a
JSON 409, and their bots hold their entries instead of failing into `error`."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from bots import services
from bots.checks import broker_keys_readable
from bots.models import Bot
from bots.ticks import MAX_CONSECUTIVE_FAILURES, bot_tick
from tests.api_client import api_client
from tests.factories import BotFactory, UserFactory
from tests.test_alpaca_ticks import AFTER_FALL, CONFIG, START, falling_bars
from tradebot.tests.test_health import heartbeats_fresh

pytestmark = pytest.mark.django_db

ROTATED = override_settings(TRADEBOT_ENCRYPTION_KEY="a-new-key-without-the-old-one")


@pytest.fixture
def bot(alpaca_stub, alpaca_account):
    alpaca_stub.set_clock(is_open=True, next_open=START + timedelta(days=1), next_close=START + timedelta(hours=7))
    alpaca_stub.load_bars("TEST", "1Min", falling_bars())
    alpaca_stub.set_price("TEST", "80")
    alpaca_account.name = "My Alpaca"
    alpaca_account.save()
    return services.bot_start(bot=BotFactory(config=CONFIG, owner=alpaca_account.owner, broker_account=alpaca_account))


def test_the_api_answers_a_json_409_that_says_to_enter_the_keys_again(bot):
    client = api_client(bot.owner)
    with ROTATED:
        for response in (
            client.get(f"/market-data/TEST?broker_account_id={bot.broker_account_id}"),
            client.get(f"/market-status?broker_account_id={bot.broker_account_id}"),
            client.post(f"/bots/{bot.pk}/start"),
        ):
            assert response.status_code == 409
            assert response["Content-Type"] == "application/json; charset=utf-8"
            assert "keys of broker account 'My Alpaca' can no longer be decrypted" in response.json()["detail"]
            assert "enter the API key and secret again" in response.json()["detail"]


def test_its_bots_hold_their_entries_and_never_fall_into_error(bot, alpaca_stub):
    with ROTATED:
        reports = [
            bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=i)) for i in range(MAX_CONSECUTIVE_FAILURES + 1)
        ]

    assert {report.outcome for report in reports} == {"held"}
    assert "can no longer be decrypted" in reports[0].message and "Entries held" in reports[0].message
    bot.refresh_from_db()
    assert (bot.status, bot.consecutive_failures) == (Bot.Status.RUNNING, 0)
    assert alpaca_stub.orders == []
    # The keys entered again, the bot trades on its next tick without anyone restarting it.
    with ROTATED:
        services.broker_account_update(
            account=bot.broker_account, api_key=alpaca_stub.api_key, secret_key=alpaca_stub.secret_key
        )
        assert bot_tick(bot_id=bot.pk, now=AFTER_FALL).outcome == "traded"


def test_a_bot_holding_a_position_says_it_cannot_manage_it(bot):
    bot_tick(bot_id=bot.pk, now=AFTER_FALL)
    with ROTATED:
        report = bot_tick(bot_id=bot.pk, now=AFTER_FALL + timedelta(minutes=1))
    assert report.outcome == "held" and "its open positions cannot be managed until then" in report.message


def test_the_start_up_checks_name_the_accounts(bot, capsys):
    assert broker_keys_readable(databases=["default"]) == []
    with ROTATED:
        [warning] = broker_keys_readable(databases=["default"])
        call_command("check", "--database", "default")
    assert f"#{bot.broker_account_id} 'My Alpaca'" in warning.msg and warning.id == "bots.W001"
    assert "'My Alpaca'" in capsys.readouterr().err


def test_health_fails_and_names_them_to_staff_only(bot, client):
    heartbeats_fresh()
    with ROTATED:
        assert client.get("/health").json()["checks"]["broker_keys"] == {"ok": False}
        client.force_login(UserFactory(is_staff=True))
        details = client.get("/health").json()["checks"]["broker_keys"]
    assert details["accounts"] == [{"id": bot.broker_account_id, "name": "My Alpaca", "owner": str(bot.owner)}]


def test_the_admin_says_which_accounts_need_their_keys_again(bot, client):
    bot.owner.is_superuser = bot.owner.is_staff = True
    bot.owner.save()
    client.force_login(bot.owner)
    with ROTATED:
        page = client.get(reverse("admin:bots_brokeraccount_changelist")).content.decode()
    assert "cannot be decrypted: enter the keys again" in page
