"""/api/bots, /api/broker-accounts and /api/summary."""

from decimal import Decimal

import pytest
from django.utils import timezone

from bots import services
from bots.models import Bot, BrokerAccount
from tests.api_client import api_client
from tests.factories import (
    DESIGN_CONFIG,
    BotFactory,
    BrokerAccountFactory,
    PositionFactory,
    TradeFactory,
    UserFactory,
    with_totp,
)
from trades.models import Trade

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user):
    return api_client(user)


def fields(response) -> set[str]:
    return {error["field"] for error in response.json()["detail"]}


def test_the_designs_configuration_is_accepted_verbatim(client, user):
    response = client.post("/bots", json=DESIGN_CONFIG)
    assert response.status_code == 201
    body = response.json()
    bot = Bot.objects.get(pk=body["id"])
    assert bot.owner == user and bot.config().symbols == ["AAPL", "MSFT", "GOOGL"]
    assert body["status"] == "stopped" and body["created_at"] and body["updated_at"]
    assert body["capital"] == "10000.00" == client.get(f"/bots/{bot.pk}").json()["capital"]
    assert body["indicators"]["MACD"] == {"fast": 12, "slow": 26, "signal": 9}
    assert body["risk_management"]["stop_loss"] == "0.02"  # fractions and money travel as decimal strings
    assert body["broker_account_id"] == BrokerAccount.objects.get(owner=user, is_default=True).pk


def test_a_bot_can_name_its_broker_account(client, user):
    account = BrokerAccountFactory(owner=user)
    response = client.post("/bots", json=dict(DESIGN_CONFIG, broker_account_id=account.pk))
    assert response.json()["broker_account_id"] == account.pk


def test_another_users_broker_account_is_a_field_error(client):
    stranger = BrokerAccountFactory()
    response = client.post("/bots", json=dict(DESIGN_CONFIG, broker_account_id=stranger.pk))
    assert response.status_code == 422 and fields(response) == {"broker_account_id"}


def test_every_invalid_field_is_named_with_its_path_and_nothing_is_created(client):
    bad = dict(
        DESIGN_CONFIG, capital=-1, symbols=["AAPL", "aapl"], indicators={"MACD": {"fast": 26, "slow": 12}, "FOO": {}}
    )
    bad["risk_management"] = {"stop_loss": 2}
    response = client.post("/bots", json=bad)
    assert response.status_code == 422
    assert fields(response) == {
        "capital",
        "symbols",
        "indicators.MACD.slow",
        "indicators.FOO",
        "risk_management.stop_loss",
    }
    assert all(error["message"] for error in response.json()["detail"])
    assert not Bot.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"name": 5}',
        '{"capital": 1e400}',
        '{"capital": "99999999999999999999999999999"}',
        '{"trading_frequency": 99999999999999999999999999}',
        '{"signal_mode": "sometimes"}',
    ],
)
def test_malformed_bodies_are_422_never_500(client, body):
    response = client.post("/bots", data=body, content_type="application/json")
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_nul_characters_are_field_errors_on_every_database(client):
    response = client.post("/bots", json=dict(DESIGN_CONFIG, name="Momentum\x00Bot"))
    assert response.status_code == 422 and fields(response) == {"name"}
    response = client.post("/broker-accounts", json={"name": "a\x00b", "api_key": "\x00"})
    assert response.status_code == 422 and fields(response) == {"name", "api_key"}


def test_a_duplicate_name_is_a_field_error(client, user):
    BotFactory(owner=user, name="Momentum Bot")
    response = client.post("/bots", json=DESIGN_CONFIG)
    assert response.status_code == 422 and fields(response) == {"name"}


def test_list_shows_only_the_callers_bots(client, user):
    mine = BotFactory(owner=user)
    BotFactory()
    response = client.get("/bots")
    assert response.status_code == 200
    assert [bot["id"] for bot in response.json()] == [mine.pk]


def test_a_superuser_sees_every_bot():
    bots = [BotFactory(), BotFactory()]
    admin = UserFactory(is_superuser=True)
    response = api_client(admin).get("/bots")
    assert {bot["id"] for bot in response.json()} == {bot.pk for bot in bots}
    assert api_client(admin).get(f"/bots/{bots[0].pk}").status_code == 200


def test_detail(client, user):
    bot = BotFactory(owner=user)
    body = client.get(f"/bots/{bot.pk}").json()
    assert body["name"] == bot.name and body["capital"] == "10000.00"


@pytest.mark.parametrize(
    "method,suffix",
    [("get", ""), ("put", ""), ("delete", ""), ("post", "/start"), ("post", "/stop"), ("post", "/pause")],
)
def test_another_users_bot_is_a_404(client, method, suffix):
    bot = BotFactory(status=Bot.Status.RUNNING)
    kwargs = {"json": DESIGN_CONFIG} if method == "put" else {}
    response = getattr(client, method)(f"/bots/{bot.pk}{suffix}", **kwargs)
    assert response.status_code == 404
    bot.refresh_from_db()
    assert bot.status == Bot.Status.RUNNING and bot.name != DESIGN_CONFIG["name"]


def test_unknown_ids_are_404(client):
    assert client.get("/bots/999999").status_code == 404


def test_put_replaces_the_configuration(client, user):
    bot = BotFactory(owner=user)
    response = client.put(f"/bots/{bot.pk}", json=dict(DESIGN_CONFIG, name="Renamed", symbols=["TSLA"]))
    assert response.status_code == 200
    bot.refresh_from_db()
    assert bot.name == "Renamed" and bot.symbols == ["TSLA"]


def test_put_validates_like_post_and_changes_nothing(client, user):
    bot = BotFactory(owner=user)
    for change, field in [
        ({"indicators": {}}, "indicators"),
        ({"end_hour": 8}, "__all__"),
        ({"symbols": []}, "symbols"),
    ]:
        response = client.put(f"/bots/{bot.pk}", json=dict(DESIGN_CONFIG, **change))
        assert response.status_code == 422 and fields(response) == {field}
    assert Bot.objects.get(pk=bot.pk).config_data() == bot.config_data()


def test_put_cannot_move_a_bot_with_open_positions_to_another_account(client, user):
    position = PositionFactory(bot=BotFactory(owner=user))
    other = BrokerAccountFactory(owner=user)
    response = client.put(f"/bots/{position.bot_id}", json=dict(DESIGN_CONFIG, broker_account_id=other.pk))
    assert response.status_code == 409 and "open positions" in response.json()["detail"]


def test_delete_keeps_the_trades(client, user):
    bot = BotFactory(owner=user)
    trade = TradeFactory(bot=bot)
    assert client.delete(f"/bots/{bot.pk}").status_code == 204
    assert not Bot.objects.filter(pk=bot.pk).exists()
    trade.refresh_from_db()
    assert trade.bot is None and trade.bot_name == bot.name


def test_delete_with_open_positions_is_409_and_keeps_everything(client, user):
    position = PositionFactory(bot=BotFactory(owner=user))
    TradeFactory(bot=position.bot)
    response = client.delete(f"/bots/{position.bot_id}")
    assert response.status_code == 409 and "open positions" in response.json()["detail"]
    assert Bot.objects.filter(pk=position.bot_id).exists() and Trade.objects.filter(bot=position.bot).exists()


def test_start_pause_stop(client, user):
    bot = BotFactory(owner=user)
    assert client.post(f"/bots/{bot.pk}/start").json()["status"] == "running"
    assert client.post(f"/bots/{bot.pk}/pause").json()["status"] == "paused"
    assert client.post(f"/bots/{bot.pk}/stop").json()["status"] == "stopped"


def test_pausing_a_stopped_bot_is_409(client, user):
    response = client.post(f"/bots/{BotFactory(owner=user).pk}/pause")
    assert response.status_code == 409 and "start it first" in response.json()["detail"]


def test_starting_a_bot_whose_stored_configuration_no_longer_validates_is_409(client, user):
    bot = BotFactory(owner=user)
    Bot.objects.filter(pk=bot.pk).update(indicators={"RSI": {"period": 0}})
    response = client.post(f"/bots/{bot.pk}/start")
    assert response.status_code == 409 and "indicators.RSI.period" in response.json()["detail"]
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.STOPPED


# Broker accounts


def test_listing_accounts_shows_the_default_paper_account(client, user):
    BrokerAccountFactory()  # someone else's
    body = client.get("/broker-accounts").json()
    assert [(a["kind"], a["paper"], a["is_default"]) for a in body] == [("sim", True, True)]


def test_creating_an_account_never_returns_its_secrets(client, user):
    payload = {"name": "Alpaca paper", "kind": "alpaca", "api_key": "AKSECRETKEY", "secret_key": "VERYSECRET"}
    response = client.post("/broker-accounts", json=payload)
    assert response.status_code == 201
    assert response.json()["has_credentials"] is True
    listed = client.get("/broker-accounts").content.decode()
    for text in (response.content.decode(), listed):
        assert "AKSECRETKEY" not in text and "VERYSECRET" not in text
    assert BrokerAccount.objects.get(pk=response.json()["id"]).credentials() == ("AKSECRETKEY", "VERYSECRET")


def test_a_live_account_needs_confirm_live(client, user):
    payload = {"name": "Live", "kind": "alpaca", "paper": False, "api_key": "k", "secret_key": "s"}
    response = client.post("/broker-accounts", json=payload)
    assert response.status_code == 422 and fields(response) == {"confirm_live"}
    assert not BrokerAccount.objects.filter(name="Live").exists()
    without_mfa = client.post("/broker-accounts", json=dict(payload, confirm_live=True))
    assert without_mfa.status_code == 422 and "two-factor" in without_mfa.json()["detail"][0]["message"]
    with_totp(user)
    assert client.post("/broker-accounts", json=dict(payload, confirm_live=True)).json()["paper"] is False


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": "x", "kind": "ibkr"}, "kind"),
        ({"name": "x", "kind": "sim", "paper": False, "confirm_live": True}, "paper"),
        ({"name": "x", "kind": "alpaca"}, "api_key"),
        ({"name": "x", "kind": "alpaca", "api_key": "k", "secret_key": "s", "base_url": "not a url"}, "base_url"),
        ({"name": ""}, "name"),
        ({"name": "x", "secret": "s"}, "secret"),
    ],
)
def test_invalid_accounts_are_field_errors(client, payload, field):
    response = client.post("/broker-accounts", json=payload)
    assert response.status_code == 422 and field in fields(response)


def test_an_account_in_use_cannot_be_deleted(client, user):
    bot = BotFactory(owner=user)
    response = client.delete(f"/broker-accounts/{bot.broker_account_id}")
    assert response.status_code == 409
    assert BrokerAccount.objects.filter(pk=bot.broker_account_id).exists()


def test_deleting_an_unused_account(client, user):
    account = BrokerAccountFactory(owner=user)
    assert client.delete(f"/broker-accounts/{account.pk}").status_code == 204
    assert not BrokerAccount.objects.filter(pk=account.pk).exists()


def test_another_users_account_is_a_404(client):
    account = BrokerAccountFactory()
    assert client.delete(f"/broker-accounts/{account.pk}").status_code == 404
    assert BrokerAccount.objects.filter(pk=account.pk).exists()


# Summary


def test_summary_counts_the_callers_numbers():
    user = UserFactory()
    bot = BotFactory(owner=user, status=Bot.Status.RUNNING)
    BotFactory(owner=user)
    PositionFactory(
        bot=bot, quantity=10, entry_price=Decimal("100"), current_price=Decimal("110"), unrealized_pnl=Decimal("100")
    )
    now = timezone.now()
    TradeFactory(bot=bot, type="sell", profit_loss=Decimal("40"), filled_at=now)
    TradeFactory(bot=bot, type="sell", profit_loss=Decimal("-10"), filled_at=now - timezone.timedelta(days=3))
    TradeFactory(bot=bot, type="buy", filled_at=now)
    TradeFactory(bot=bot, type="buy", timestamp=now - timezone.timedelta(days=2), filled_at=now)  # a slow fill
    PositionFactory()  # someone else's
    body = api_client(user).get("/summary").json()
    assert body["bots_by_status"] == {"stopped": 1, "running": 1, "paused": 0, "error": 0} and body["bots_total"] == 2
    assert body["open_positions"] == 1 and Decimal(body["open_positions_value"]) == 1100
    assert Decimal(body["unrealized_pnl"]) == 100
    assert Decimal(body["realized_pnl_today"]) == 40 and Decimal(body["realized_pnl_total"]) == 30
    assert Decimal(body["total_pnl"]) == 130
    assert body["trades_today"] == 3 and body["win_rate_pct"] == 50.0


def test_stopping_through_the_api_names_the_positions_and_takes_the_choice(client, user):
    bot = services.bot_start(bot=BotFactory(owner=user))
    PositionFactory(bot=bot, symbol="AAPL")

    undecided = client.post(f"/bots/{bot.pk}/stop")
    assert undecided.status_code == 409 and "choose to close them now or keep them" in undecided.json()["detail"]

    kept = client.post(f"/bots/{bot.pk}/stop?close_positions=false")
    assert kept.status_code == 200 and kept.json()["status"] == "stopped"
    assert bot.positions.get().is_open
