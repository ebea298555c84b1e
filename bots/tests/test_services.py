from decimal import Decimal

import pytest
from django.test import override_settings
from django_celery_beat.models import PeriodicTask

from accounts.mfa import MFA_REQUIRED
from bots import services
from bots.models import Bot, BrokerAccount
from tests.factories import DESIGN_CONFIG, BotFactory, PositionFactory, TradeFactory, UserFactory, with_totp
from tradebot.errors import Conflict, Invalid
from trades.models import Trade

pytestmark = pytest.mark.django_db


def test_a_new_bot_uses_the_owners_default_paper_account():
    owner = UserFactory()
    bot = services.bot_create(owner=owner, config=services.parse_config(DESIGN_CONFIG))
    assert bot.broker_account.kind == BrokerAccount.Kind.SIM
    assert bot.broker_account.is_default and bot.broker_account.paper
    assert bot.status == Bot.Status.STOPPED
    assert services.default_broker_account(owner) == bot.broker_account


def test_an_invalid_configuration_names_every_failing_field_and_creates_nothing():
    bad = dict(DESIGN_CONFIG, capital=-5, indicators={"MACD": {"fast": 26, "slow": 12}})
    with pytest.raises(Invalid) as caught:
        services.parse_config(bad)
    fields = {e["field"] for e in caught.value.errors}
    assert fields == {"capital", "indicators.MACD.slow"}
    assert not Bot.objects.exists()


def test_two_bots_of_one_owner_cannot_share_a_name():
    bot = BotFactory()
    with pytest.raises(Invalid) as caught:
        services.bot_create(owner=bot.owner, config=services.parse_config(dict(DESIGN_CONFIG, name=bot.name)))
    assert caught.value.errors[0]["field"] == "name"


def test_another_users_broker_account_is_refused():
    bot = BotFactory()
    stranger = UserFactory()
    with pytest.raises(Invalid):
        services.bot_create(
            owner=stranger, config=services.parse_config(DESIGN_CONFIG), broker_account=bot.broker_account
        )


def test_starting_schedules_ticks_every_trading_frequency_seconds():
    bot = services.bot_start(bot=BotFactory())
    task = PeriodicTask.objects.get(pk=bot.periodic_task_id)
    assert task.enabled and task.task == "bots.tick" and task.args == f"[{bot.pk}]"
    assert task.interval.every == 60 and task.interval.period == "seconds"
    assert bot.status == Bot.Status.RUNNING


def test_pausing_keeps_the_schedule_and_stopping_disables_it():
    bot = services.bot_start(bot=BotFactory())
    services.bot_pause(bot=bot)
    assert PeriodicTask.objects.get(pk=bot.periodic_task_id).enabled
    services.bot_stop(bot=bot)
    assert not PeriodicTask.objects.get(pk=bot.periodic_task_id).enabled
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.STOPPED


def test_changing_the_frequency_of_a_running_bot_reschedules_it():
    bot = services.bot_start(bot=BotFactory())
    services.bot_update(
        bot=bot, config=services.parse_config(dict(DESIGN_CONFIG, name=bot.name, trading_frequency=300))
    )
    assert PeriodicTask.objects.get(pk=bot.periodic_task_id).interval.every == 300


def test_a_stopped_bot_cannot_be_paused():
    with pytest.raises(Conflict):
        services.bot_pause(bot=BotFactory())


def test_a_bot_whose_stored_configuration_no_longer_validates_cannot_start():
    bot = BotFactory()
    Bot.objects.filter(pk=bot.pk).update(indicators={"RSI": {"period": 0}})
    bot.refresh_from_db()
    with pytest.raises(Conflict, match="indicators.RSI.period"):
        services.bot_start(bot=bot)
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.STOPPED


def test_deleting_a_bot_with_an_open_position_is_refused():
    position = PositionFactory()
    with pytest.raises(Conflict):
        services.bot_delete(bot=position.bot)
    assert Bot.objects.filter(pk=position.bot_id).exists()


def test_deleting_a_bot_keeps_its_trades_and_removes_its_schedule():
    bot = services.bot_start(bot=BotFactory())
    trade = TradeFactory(bot=bot, type=Trade.Type.SELL, profit_loss=Decimal("5"))
    task_id = bot.periodic_task_id
    services.bot_delete(bot=bot)
    trade.refresh_from_db()
    assert trade.bot is None and trade.bot_name == bot.name
    assert not PeriodicTask.objects.filter(pk=task_id).exists()


def test_a_live_broker_account_needs_an_explicit_confirmation():
    owner = UserFactory()
    with pytest.raises(Invalid) as caught:
        services.broker_account_create(
            owner=owner, name="Live", kind="alpaca", paper=False, api_key="k", secret_key="s"
        )
    assert {e["field"] for e in caught.value.errors} == {"confirm_live"}
    with pytest.raises(Invalid) as caught:  # confirmed, but without a second factor
        services.broker_account_create(
            owner=owner, name="Live", kind="alpaca", paper=False, api_key="k", secret_key="s", confirm_live=True
        )
    assert caught.value.errors == [{"field": "confirm_live", "message": MFA_REQUIRED}]
    with_totp(owner)
    account = services.broker_account_create(
        owner=owner, name="Live", kind="alpaca", paper=False, api_key="k", secret_key="s", confirm_live=True
    )
    assert not account.paper


def test_broker_secrets_are_encrypted_at_rest():
    account = services.broker_account_create(
        owner=UserFactory(), name="Alpaca paper", kind="alpaca", api_key="AKXYZ", secret_key="s3cret"
    )
    stored = BrokerAccount.objects.values("api_key_encrypted", "secret_key_encrypted").get(pk=account.pk)
    assert "AKXYZ" not in stored["api_key_encrypted"] and "s3cret" not in stored["secret_key_encrypted"]
    assert BrokerAccount.objects.get(pk=account.pk).credentials() == ("AKXYZ", "s3cret")


def test_a_broker_account_in_use_cannot_be_deleted():
    bot = BotFactory()
    with pytest.raises(Conflict):
        services.broker_account_delete(account=bot.broker_account)


def test_a_bad_broker_url_is_a_field_error():
    with pytest.raises(Invalid) as caught:
        services.broker_account_create(
            owner=UserFactory(), name="x", kind="alpaca", api_key="k", secret_key="s", base_url="not a url"
        )
    assert caught.value.errors[0]["field"] == "base_url"


def alpaca_account(owner=None, **changes) -> BrokerAccount:
    data = {"name": "Alpaca", "kind": "alpaca", "api_key": "AKID", "secret_key": "SECRET", **changes}
    return services.broker_account_create(owner=owner or UserFactory(), **data)


def test_a_new_account_takes_simulated_costs_or_the_defaults():
    owner = UserFactory()
    priced = services.broker_account_create(
        owner=owner, name="Costly", kind="sim", sim_slippage=Decimal("0.001"), sim_commission=Decimal("1.25")
    )
    plain = services.broker_account_create(owner=owner, name="Plain", kind="sim")

    assert (priced.sim_slippage, priced.sim_commission) == (Decimal("0.001"), Decimal("1.25"))
    assert (plain.sim_slippage, plain.sim_commission) == (Decimal("0.0005"), Decimal("0"))


def test_negative_simulated_costs_are_field_errors():
    with pytest.raises(Invalid) as caught:
        services.broker_account_create(
            owner=UserFactory(), name="x", kind="sim", sim_slippage=Decimal("-0.1"), sim_commission=Decimal("-1")
        )
    assert {e["field"] for e in caught.value.errors} == {"sim_slippage", "sim_commission"}


def test_every_problem_of_a_new_account_is_reported_at_once():
    owner = UserFactory()
    services.broker_account_create(owner=owner, name="Taken", kind="sim")
    with pytest.raises(Invalid) as caught:
        services.broker_account_create(owner=owner, name="Taken", kind="sim", paper=False, data_url="nope")
    assert {e["field"] for e in caught.value.errors} == {"name", "paper", "confirm_live", "data_url"}


@override_settings(TRADEBOT_ALPACA_ALLOWED_HOSTS=["proxy.example"])
def test_updating_with_blank_keys_keeps_the_stored_secrets():
    account = alpaca_account()
    services.broker_account_update(account=account, name="Renamed", base_url="https://proxy.example/v2")
    account.refresh_from_db()
    assert (account.name, account.base_url) == ("Renamed", "https://proxy.example/v2")
    assert account.credentials() == ("AKID", "SECRET")


def test_updating_with_new_keys_needs_both_and_replaces_them():
    account = alpaca_account()
    with pytest.raises(Invalid) as caught:
        services.broker_account_update(account=account, api_key="NEWKEY")
    assert caught.value.errors == [{"field": "secret_key", "message": "enter both the API key and the secret key"}]

    services.broker_account_update(account=account, api_key="NEWKEY", secret_key="NEWSECRET")
    assert BrokerAccount.objects.get(pk=account.pk).credentials() == ("NEWKEY", "NEWSECRET")


def test_switching_an_account_to_live_needs_the_confirmation():
    account = alpaca_account()
    with pytest.raises(Invalid) as caught:
        services.broker_account_update(account=account, paper=False)
    assert {e["field"] for e in caught.value.errors} == {"confirm_live"}
    assert BrokerAccount.objects.get(pk=account.pk).paper

    with_totp(account.owner)
    services.broker_account_update(account=account, paper=False, confirm_live=True)
    assert not BrokerAccount.objects.get(pk=account.pk).paper


def test_a_simulated_account_stays_on_paper():
    account = services.broker_account_create(owner=UserFactory(), name="Sim", kind="sim")
    with pytest.raises(Invalid) as caught:
        services.broker_account_update(account=account, paper=False, confirm_live=True)
    assert caught.value.errors == [{"field": "paper", "message": "the simulated broker only trades on paper"}]
    assert BrokerAccount.objects.get(pk=account.pk).paper


def test_an_account_name_is_unique_per_owner_on_update():
    owner = UserFactory()
    services.broker_account_create(owner=owner, name="First", kind="sim")
    second = services.broker_account_create(owner=owner, name="Second", kind="sim")
    services.broker_account_create(owner=UserFactory(), name="Someone's", kind="sim")

    with pytest.raises(Invalid) as caught:
        services.broker_account_update(account=second, name="First")
    assert caught.value.errors[0]["field"] == "name"
    services.broker_account_update(account=second, name="Second")  # its own name
    services.broker_account_update(account=second, name="Someone's")  # another owner's
    assert BrokerAccount.objects.get(pk=second.pk).name == "Someone's"


def test_a_bad_url_on_update_is_a_field_error_and_saves_nothing():
    account = alpaca_account()
    with pytest.raises(Invalid) as caught:
        services.broker_account_update(account=account, name="Renamed", base_url="not a url")
    assert [e["field"] for e in caught.value.errors] == ["base_url"]
    assert BrokerAccount.objects.get(pk=account.pk).name == "Alpaca"


def test_an_account_whose_bots_hold_positions_cannot_switch_between_paper_and_live():
    account = alpaca_account()
    PositionFactory(bot=BotFactory(owner=account.owner, broker_account=account))
    with pytest.raises(Conflict, match="close the open positions"):
        services.broker_account_update(account=account, paper=False, confirm_live=True)
    assert BrokerAccount.objects.get(pk=account.pk).paper
    services.broker_account_update(account=account, name="Still paper", sim_commission=Decimal("1"))


def test_a_bot_with_an_order_pending_at_its_broker_cannot_be_deleted_or_moved():
    bot = BotFactory()
    TradeFactory(bot=bot, status=Trade.Status.PENDING, price=None)
    other = alpaca_account(owner=bot.owner)

    with pytest.raises(Conflict, match="pending"):
        services.bot_delete(bot=bot)
    with pytest.raises(Conflict, match="pending"):
        services.bot_update(bot=bot, config=bot.config(), broker_account=other)

    bot = Bot.objects.get(pk=bot.pk)
    assert bot.broker_account_id != other.pk


def test_an_account_whose_bots_have_pending_orders_cannot_switch_between_paper_and_live():
    account = alpaca_account()
    TradeFactory(bot=BotFactory(owner=account.owner, broker_account=account), status=Trade.Status.PENDING, price=None)

    with pytest.raises(Conflict, match="pending"):
        services.broker_account_update(account=account, paper=False, confirm_live=True)

    assert BrokerAccount.objects.get(pk=account.pk).paper


def test_stopping_a_bot_that_holds_positions_asks_what_becomes_of_them():
    bot = services.bot_start(bot=BotFactory())
    PositionFactory(bot=bot, symbol="AAPL")

    with pytest.raises(Conflict, match=r"holds 1 open position\(s\) \(AAPL\): choose to close them now or keep them"):
        services.bot_stop(bot=bot)
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RUNNING

    services.bot_stop(bot=bot, close_positions=False)
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.STOPPED
    assert bot.positions.get().is_open  # kept: its stop and target stay watched


def test_stopping_a_bot_and_closing_its_positions_sells_them_now():
    bot = services.bot_start(bot=BotFactory(config=dict(DESIGN_CONFIG, symbols=["AAPL"])))
    PositionFactory(bot=bot, symbol="AAPL", quantity=5)

    services.bot_stop(bot=bot, close_positions=True)

    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.STOPPED
    sell = Trade.objects.get(bot=bot, type="sell")
    assert (sell.status, sell.quantity, sell.reason) == ("filled", 5, "closed when the bot was stopped")
    assert not bot.positions.get().is_open
