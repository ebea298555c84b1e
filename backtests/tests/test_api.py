"""/api/backtests: create (422 with field paths), list (the caller's, paginated), detail (404 for another user's)."""

import pytest

from backtests.models import Backtest
from tests.api_client import api_client
from tests.factories import DESIGN_CONFIG, BotFactory, UserFactory

pytestmark = pytest.mark.django_db

ALL_DAY = {"start_hour": 0, "start_minute": 0, "end_hour": 23, "end_minute": 59}
CONFIG = {**DESIGN_CONFIG, **ALL_DAY, "signal_mode": "any", "symbols": ["AAPL"]}
RANGE = {"start": "2024-03-04", "end": "2024-03-05"}


@pytest.fixture
def client(user):
    return api_client(user)


def errors(response) -> dict[str, str]:
    assert response.status_code == 422, response.content
    return {error["field"]: error["message"] for error in response.json()["detail"]}


def test_a_configuration_is_queued_and_runs_once_committed(client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/backtests", json={"config": CONFIG, **RANGE, "capital": "25000", "commission": "1"})

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued" and body["progress"] == 0 and body["stats"] is None
    assert (body["name"], body["symbols"], body["capital"], body["commission"]) == (
        "Momentum Bot",
        ["AAPL"],
        "25000.00",
        "1.0000",
    )
    assert Backtest.objects.get(pk=body["id"]).owner == user

    detail = client.get(f"/backtests/{body['id']}").json()
    assert detail["status"] == "done" and detail["progress"] == 1
    assert detail["stats"]["bars"] == 2 * 1440 and detail["stats"]["final_equity"]
    assert detail["config"]["capital"] == "25000"
    assert detail["trades"] and set(detail["trades"][0]) == {
        "symbol", "side", "quantity", "price", "commission", "timestamp", "bar_time", "profit_loss", "reason"
    }  # fmt: skip
    assert detail["trades"][0]["commission"] == "1.0000"
    curve = detail["equity_curve"]
    assert 0 < len(curve["time"]) == len(curve["equity"]) == len(curve["drawdown"]) <= 2000


def test_a_bots_saved_configuration_is_run_when_no_config_is_given(client, user):
    bot = BotFactory(owner=user, config={**CONFIG, "symbols": ["MSFT", "TSLA"], "timeframe": "1Hour"})
    body = client.post("/backtests", json={"bot_id": bot.pk, **RANGE}).json()
    assert body["bot_id"] == bot.pk and body["symbols"] == ["MSFT", "TSLA"] and body["timeframe"] == "1Hour"


def test_another_users_bot_is_a_field_error(client):
    assert errors(client.post("/backtests", json={"bot_id": BotFactory().pk, **RANGE})) == {"bot_id": "no such bot"}


def test_invalid_input_reports_every_field_by_its_path(client):
    bad_config = {**CONFIG, "indicators": {"MACD": {"fast": 26, "slow": 12, "signal": 9}}}
    found = errors(client.post("/backtests", json={"config": bad_config, **RANGE, "slippage": "1.5", "surprise": 1}))
    assert set(found) == {"config.indicators.MACD.slow", "slippage", "surprise"}

    found = errors(client.post("/backtests", json={"config": CONFIG, "start": "2024-03-05", "end": "2024-03-04"}))
    assert found == {"end": "must not be before start"}

    assert set(errors(client.post("/backtests", json={"config": CONFIG}))) == {"start", "end"}
    assert errors(client.post("/backtests", json=RANGE)) == {"config": "give a bot or a configuration"}
    assert set(errors(client.post("/backtests", json={"config": CONFIG, **RANGE, "symbols": ["$$$"]}))) == {"symbols"}


def test_the_list_holds_the_callers_backtests_newest_first_without_results(client, user):
    mine = [client.post("/backtests", json={"config": CONFIG, **RANGE}).json()["id"] for _ in range(3)]
    api_client(UserFactory()).post("/backtests", json={"config": CONFIG, **RANGE})

    page = client.get("/backtests?limit=2").json()
    assert page["count"] == 3
    assert [item["id"] for item in page["items"]] == mine[::-1][:2]
    assert "trades" not in page["items"][0] and "equity_curve" not in page["items"][0]


def test_another_users_backtest_is_not_found(client):
    theirs = api_client(UserFactory()).post("/backtests", json={"config": CONFIG, **RANGE}).json()["id"]
    assert client.get(f"/backtests/{theirs}").status_code == 404
    assert client.get("/backtests/999999").status_code == 404


def test_a_queued_backtests_detail_has_empty_results(client):
    created = client.post("/backtests", json={"config": CONFIG, **RANGE}).json()
    detail = client.get(f"/backtests/{created['id']}").json()
    assert detail["status"] == "queued" and detail["stats"] is None and detail["trades"] == []
    assert detail["equity_curve"] == {"time": [], "equity": [], "drawdown": []}
