import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bots.models import Bot, BrokerAccount, BrokerStop
from tests import factories
from tests.factories import BotFactory, BrokerAccountFactory, PositionFactory, TradeFactory, UserFactory, with_totp

pytestmark = pytest.mark.django_db

BOTS_CHANGELIST = reverse("admin:bots_bot_changelist")
BOTS_ADD = reverse("admin:bots_bot_add")
ACCOUNTS_ADD = reverse("admin:bots_brokeraccount_add")


def staff_user(**kwargs):
    """A staff member (not a superuser) with every permission on bots and broker accounts."""
    user = UserFactory(is_staff=True, **kwargs)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="bots"))
    return user


@pytest.fixture
def staff(client):
    user = staff_user()
    client.force_login(user)
    return user


def bot_form_data(account, **changes) -> dict:
    """The shared bot form as the admin posts it."""
    return factories.bot_form_data(account, **{"name": "Admin bot", "_save": "Save", **changes})


def with_activity(bot):
    PositionFactory(bot=bot, symbol="AAPL", unrealized_pnl="12.50")
    TradeFactory(bot=bot, symbol="MSFT")


def test_bot_changelist_query_count_does_not_grow_with_the_number_of_bots(client, staff):
    with_activity(BotFactory(owner=staff))
    with CaptureQueriesContext(connection) as one_bot:
        assert client.get(BOTS_CHANGELIST).status_code == 200

    for _ in range(19):
        with_activity(BotFactory(owner=staff))
    with CaptureQueriesContext(connection) as twenty_bots:
        response = client.get(BOTS_CHANGELIST)

    assert response.context["cl"].result_count == 20
    assert len(twenty_bots) == len(one_bot)


def test_bot_changelist_stays_within_a_fixed_query_budget(client, staff, django_assert_max_num_queries):
    for _ in range(20):
        with_activity(BotFactory(owner=staff))
    with django_assert_max_num_queries(12):
        client.get(BOTS_CHANGELIST)


def test_bot_changelist_shows_open_positions_and_pnl_today(client, staff):
    bot = BotFactory(owner=staff, name="Visible")
    PositionFactory(bot=bot, unrealized_pnl="12.50")

    html = client.get(BOTS_CHANGELIST).content.decode()

    assert "Visible" in html
    assert '<td class="field-open_positions">1</td>' in html
    assert '<td class="field-pnl_today">12.50</td>' in html


def test_invalid_indicators_show_the_schema_error_on_the_field_and_save_nothing(client, staff):
    account = BrokerAccountFactory(owner=staff)
    data = bot_form_data(account, indicators='{"MACD": {"fast": 12, "slow": 10, "signal": 9}}')

    response = client.post(BOTS_ADD, data)

    form = response.context["adminform"].form
    assert response.status_code == 200
    assert form.errors["indicators"] == ["indicators.MACD.slow: must be greater than fast (12)"]
    assert form.errors.keys() == {"indicators"}
    html = response.content.decode()
    indicators_row = html[html.index("field-indicators") :]
    indicators_row = indicators_row[: indicators_row.index("field-risk_management")]
    assert "indicators.MACD.slow: must be greater than fast (12)" in indicators_row
    assert not Bot.objects.exists()


def test_adding_a_bot_goes_through_the_service_and_belongs_to_the_user(client, staff):
    account = BrokerAccountFactory(owner=staff)

    response = client.post(BOTS_ADD, bot_form_data(account))

    bot = Bot.objects.get()
    assert response.status_code == 302
    assert bot.owner == staff and bot.broker_account == account
    assert bot.symbols == ["AAPL", "MSFT"]
    assert bot.risk_management["max_position_size"] == "0.1"  # the schema's default filled in


def test_changing_a_bot_keeps_it_valid_through_the_schema(client, staff):
    bot = BotFactory(owner=staff)
    url = reverse("admin:bots_bot_change", args=[bot.pk])

    response = client.post(url, bot_form_data(bot.broker_account, name=bot.name, risk_management='{"stop_loss": 2}'))

    assert "stop_loss" in response.context["adminform"].form.errors["risk_management"][0]
    response = client.post(url, bot_form_data(bot.broker_account, name="Renamed", symbols="TSLA"))
    bot.refresh_from_db()
    assert response.status_code == 302
    assert (bot.name, bot.symbols) == ("Renamed", ["TSLA"])


def test_the_change_form_shows_json_fields_indented(client, staff):
    bot = BotFactory(owner=staff)
    html = client.get(reverse("admin:bots_bot_change", args=[bot.pk])).content.decode()
    assert "&quot;RSI&quot;: {\n    &quot;period&quot;: 14" in html


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("start_bots", "stopped", "running"),
        ("pause_bots", "running", "paused"),
        ("stop_bots_keeping_positions", "running", "stopped"),
    ],
)
def test_actions_change_the_status_of_the_selected_bots(client, staff, action, before, after):
    bots = BotFactory.create_batch(2, owner=staff, status=before)

    response = client.post(BOTS_CHANGELIST, {"action": action, "_selected_action": [b.pk for b in bots]}, follow=True)

    assert response.status_code == 200
    assert [Bot.objects.get(pk=b.pk).status for b in bots] == [after, after]


def test_an_action_the_service_refuses_is_reported_as_an_error(client, staff):
    bot = BotFactory(owner=staff, status="stopped")

    response = client.post(BOTS_CHANGELIST, {"action": "pause_bots", "_selected_action": [bot.pk]}, follow=True)

    assert any("cannot be paused" in str(m) and m.level_tag == "error" for m in response.context["messages"])
    bot.refresh_from_db()
    assert bot.status == "stopped"


def test_a_user_does_not_see_or_open_another_users_bot(client, staff):
    theirs = BotFactory(name="Not yours")

    assert "Not yours" not in client.get(BOTS_CHANGELIST).content.decode()
    response = client.get(reverse("admin:bots_bot_change", args=[theirs.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    client.post(BOTS_CHANGELIST, {"action": "start_bots", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.status == "stopped"


def test_bot_form_offers_only_the_users_own_broker_accounts(client, staff):
    BrokerAccountFactory(owner=staff, name="My paper")
    BrokerAccountFactory(name="Their paper")

    html = client.get(BOTS_ADD).content.decode()

    assert "My paper" in html and "Their paper" not in html


def test_a_superuser_sees_every_bot(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    BotFactory(name="Anyone's")
    assert "Anyone&#x27;s" in client.get(BOTS_CHANGELIST).content.decode()


def test_deleting_a_bot_with_open_positions_is_refused_with_a_message(client, staff):
    bot = BotFactory(owner=staff)
    PositionFactory(bot=bot)

    response = client.post(reverse("admin:bots_bot_delete", args=[bot.pk]), {"post": "yes"}, follow=True)

    assert Bot.objects.filter(pk=bot.pk).exists()
    assert any("open positions" in str(m) for m in response.context["messages"])


def test_deleting_a_bot_without_positions_goes_through(client, staff):
    bot = BotFactory(owner=staff)
    client.post(reverse("admin:bots_bot_delete", args=[bot.pk]), {"post": "yes"})
    assert not Bot.objects.filter(pk=bot.pk).exists()


def test_the_bot_page_lists_recent_ticks_newest_first(client, staff):
    bot = BotFactory(owner=staff)
    bot.tick_logs.create(started_at="2024-07-01T14:00:00Z", outcome="idle", message="older tick")
    bot.tick_logs.create(
        started_at="2024-07-01T14:01:00Z",
        outcome="traded",
        decisions=[{"symbol": "AAPL", "action": "buy", "quantity": 3, "reason": "RSI 25 below 30"}],
    )

    html = client.get(reverse("admin:bots_bot_change", args=[bot.pk])).content.decode()

    assert "RSI 25 below 30" in html
    assert html.index("RSI 25 below 30") < html.index("older tick")


def test_broker_secrets_never_appear_in_the_change_form(client, staff):
    account = BrokerAccountFactory(owner=staff, kind="alpaca")
    account.set_credentials("AKIDPLAINTEXT123", "SECRETPLAINTEXT456")
    account.save()

    html = client.get(reverse("admin:bots_brokeraccount_change", args=[account.pk])).content.decode()

    assert "AKIDPLAINTEXT123" not in html and "SECRETPLAINTEXT456" not in html
    assert account.api_key_encrypted not in html and account.secret_key_encrypted not in html
    assert 'type="password"' in html
    assert "saved" in html


def test_blank_secrets_on_edit_keep_the_stored_ones(client, staff):
    account = BrokerAccountFactory(owner=staff, kind="alpaca", name="Alpaca paper")
    account.set_credentials("AKID", "SECRET")
    account.save()
    url = reverse("admin:bots_brokeraccount_change", args=[account.pk])
    data = {
        "name": "Renamed",
        "kind": "alpaca",
        "paper": "on",
        "api_key": "",
        "secret_key": "",
        "base_url": "",
        "data_url": "",
        "data_feed": "iex",
        "sim_slippage": "0",
        "sim_commission": "0",
        "_save": "Save",
    }

    response = client.post(url, data)

    account.refresh_from_db()
    assert response.status_code == 302
    assert account.name == "Renamed"
    assert account.credentials() == ("AKID", "SECRET")


def alpaca_account_data(**changes) -> dict:
    data = {
        "name": "Alpaca live",
        "kind": "alpaca",
        "api_key": "AKID",
        "secret_key": "SECRET",
        "base_url": "",
        "data_url": "",
        "data_feed": "iex",
        "sim_slippage": "0",
        "sim_commission": "0",
        "_save": "Save",
    }
    data.update(changes)
    return data


def test_a_live_account_without_the_real_money_confirmation_is_refused(client, staff):
    response = client.post(ACCOUNTS_ADD, alpaca_account_data())  # "paper" unchecked: live

    assert response.status_code == 200
    assert "real money" in response.context["adminform"].form.errors["confirm_live"][0]
    assert not BrokerAccount.objects.filter(name="Alpaca live").exists()


def test_a_confirmed_live_account_is_created_for_the_user(client, staff):
    with_totp(staff)
    response = client.post(ACCOUNTS_ADD, alpaca_account_data(confirm_live="on"))

    account = BrokerAccount.objects.get(name="Alpaca live")
    assert response.status_code == 302
    assert account.owner == staff and not account.paper
    assert account.credentials() == ("AKID", "SECRET")


def test_switching_an_account_to_live_needs_the_confirmation_too(client, staff):
    account = BrokerAccountFactory(owner=staff, kind="alpaca")
    account.set_credentials("AKID", "SECRET")
    account.save()
    data = {
        "name": account.name,
        "kind": "alpaca",
        "api_key": "",
        "secret_key": "",
        "base_url": "",
        "data_url": "",
        "data_feed": "iex",
        "sim_slippage": "0",
        "sim_commission": "0",
        "_save": "Save",
    }

    response = client.post(reverse("admin:bots_brokeraccount_change", args=[account.pk]), data)

    account.refresh_from_db()
    assert "confirm_live" in response.context["adminform"].form.errors
    assert account.paper


def field_errors(response, name: str) -> list[str]:
    return response.context["adminform"].form.errors.get(name, [])


def test_a_duplicate_bot_name_is_an_error_on_the_name_field_with_the_input_kept(client, staff):
    account = BrokerAccountFactory(owner=staff)
    BotFactory(owner=staff, name="Admin bot", broker_account=account)

    response = client.post(BOTS_ADD, bot_form_data(account, capital="7777", symbols="TSLA, NVDA"))

    assert response.status_code == 200
    assert field_errors(response, "name") == ["you already have a bot named 'Admin bot'"]
    html = response.content.decode()
    assert 'value="7777"' in html and "TSLA, NVDA" in html
    assert not response.context["messages"]
    assert Bot.objects.filter(owner=staff).count() == 1


def test_renaming_a_bot_to_a_taken_name_is_an_error_on_the_name_field(client, staff):
    BotFactory(owner=staff, name="Taken")
    bot = BotFactory(owner=staff, name="Mine")

    response = client.post(
        reverse("admin:bots_bot_change", args=[bot.pk]), bot_form_data(bot.broker_account, name="Taken")
    )

    assert "already have a bot named" in field_errors(response, "name")[0]
    bot.refresh_from_db()
    assert bot.name == "Mine"


def test_moving_a_bot_that_holds_positions_is_an_error_on_the_broker_account_field(client, staff):
    bot = BotFactory(owner=staff)
    PositionFactory(bot=bot)
    other = BrokerAccountFactory(owner=staff, name="Other paper")

    response = client.post(
        reverse("admin:bots_bot_change", args=[bot.pk]), bot_form_data(other, name=bot.name, capital="4321")
    )

    assert "close the bot's open positions" in field_errors(response, "broker_account")[0]
    assert 'value="4321"' in response.content.decode()
    bot.refresh_from_db()
    assert bot.broker_account_id != other.pk and bot.capital != 4321


def test_a_new_account_with_only_one_key_is_an_error_on_the_missing_one(client, staff):
    response = client.post(ACCOUNTS_ADD, alpaca_account_data(secret_key="", paper="on"))

    assert field_errors(response, "secret_key") == ["enter both the API key and the secret key"]
    assert not BrokerAccount.objects.filter(name="Alpaca live").exists()


def test_a_new_account_takes_its_simulated_costs(client, staff):
    data = {
        "name": "Costly sim",
        "kind": "sim",
        "paper": "on",
        "base_url": "",
        "data_url": "",
        "data_feed": "iex",
        "sim_slippage": "0.001",
        "sim_commission": "1.5",
        "_save": "Save",
    }

    assert client.post(ACCOUNTS_ADD, data).status_code == 302

    account = BrokerAccount.objects.get(name="Costly sim")
    assert (account.owner, str(account.sim_slippage), str(account.sim_commission)) == (staff, "0.001000", "1.5000")


def account_change_data(account, **changes) -> dict:
    data = {
        "name": account.name,
        "paper": "on",
        "api_key": "",
        "secret_key": "",
        "base_url": "",
        "data_url": "",
        "data_feed": "iex",
        "sim_slippage": "0",
        "sim_commission": "0",
        "_save": "Save",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_renaming_an_account_to_a_taken_name_is_an_error_on_the_name_field(client, staff):
    BrokerAccountFactory(owner=staff, name="Taken")
    account = BrokerAccountFactory(owner=staff, name="Mine")

    response = client.post(
        reverse("admin:bots_brokeraccount_change", args=[account.pk]),
        account_change_data(account, name="Taken", sim_commission="2"),
    )

    assert "already have a broker account named" in field_errors(response, "name")[0]
    assert 'value="2"' in response.content.decode()
    account.refresh_from_db()
    assert account.name == "Mine"


def test_switching_an_account_whose_bots_hold_positions_to_live_is_an_error_on_paper(client, staff):
    account = BrokerAccountFactory(owner=staff, kind="alpaca")
    account.set_credentials("AKID", "SECRET")
    account.save()
    PositionFactory(bot=BotFactory(owner=staff, broker_account=account))

    response = client.post(
        reverse("admin:bots_brokeraccount_change", args=[account.pk]),
        account_change_data(account, paper=None, confirm_live="on"),
    )

    assert "close the open positions" in field_errors(response, "paper")[0]
    account.refresh_from_db()
    assert account.paper


def test_an_accounts_kind_cannot_change(client, staff):
    account = BrokerAccountFactory(owner=staff, kind="sim")

    response = client.post(
        reverse("admin:bots_brokeraccount_change", args=[account.pk]), account_change_data(account, kind="alpaca")
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.kind == "sim"


def test_a_stop_at_the_broker_needs_a_stop_loss_and_an_alpaca_account(client, staff):
    alpaca = BrokerAccountFactory(owner=staff, kind="alpaca", name="Alpaca paper")

    response = client.post(BOTS_ADD, bot_form_data(alpaca, risk_management='{"stop_at_broker": true}'))

    assert response.context["adminform"].form.errors["risk_management"] == [
        "risk_management.stop_at_broker: needs a stop_loss: there is no stop to rest at the broker"
    ]
    response = client.post(
        BOTS_ADD, bot_form_data(alpaca, risk_management='{"stop_loss": 0.02, "stop_at_broker": true}')
    )
    assert response.status_code == 302
    assert Bot.objects.get().risk_management["stop_at_broker"] is True


def test_resting_stops_are_listed_to_their_owner_only(client, staff):
    mine = BrokerStop.objects.create(
        position=PositionFactory(bot=BotFactory(owner=staff)), number=1, client_order_id="tb-stop-mine-1",
        quantity=3, stop_price="9.80", status="working",
    )  # fmt: skip
    BrokerStop.objects.create(
        position=PositionFactory(), number=1, client_order_id="tb-stop-theirs-1", quantity=3, stop_price="9.80"
    )

    html = client.get(reverse("admin:bots_brokerstop_changelist")).content.decode()

    assert mine.client_order_id in html and "tb-stop-theirs-1" not in html
    assert client.get(reverse("admin:bots_brokerstop_add")).status_code == 403
