"""/api/market-status and /api/market-data/{symbol} on the caller's default (simulated) feed."""

import json
from decimal import Decimal

import pytest

from tests.api_client import api_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_market_status_reports_the_clock():
    client = api_client(UserFactory())
    body = client.get("/market-status").json()
    assert set(body) == {"is_open", "next_open", "next_close", "source", "timestamp"}
    assert body["source"] in ("nyse", "always_open") and body["timestamp"].endswith("Z")


def test_market_data_bars_and_indicators():
    client = api_client(UserFactory())
    response = client.get("/market-data/aapl?limit=30&indicators=RSI,MACD")
    assert response.status_code == 200
    body = response.json()
    assert body["symbol"] == "AAPL" and body["timeframe"] == "1Min" and Decimal(body["price"]) > 0
    assert len(body["bars"]) == 30 and body["bars"][0]["time"] < body["bars"][-1]["time"]
    assert set(body["indicators"]) == {"RSI", "MACD"}
    for outputs in body["indicators"].values():
        assert all(len(values) == 30 for values in outputs.values())
        assert all(v is not None for values in outputs.values() for v in values)  # the look-back was fetched
    assert set(body["signal"]["votes"]) == {"RSI", "MACD"}


def test_market_data_takes_the_configurations_indicator_form():
    client = api_client(UserFactory())
    indicators = json.dumps({"SMA": {"fast": 5, "slow": 20}, "VOLUME_SMA": {"period": 10}})
    body = client.get(
        "/market-data/MSFT", query_params={"limit": 10, "timeframe": "5Min", "indicators": indicators}
    ).json()
    assert set(body["indicators"]) == {"SMA", "VOLUME_SMA"} and len(body["bars"]) == 10
    assert client.get("/market-data/MSFT").json()["indicators"] == {}


@pytest.mark.parametrize(
    "url,field",
    [
        ("/market-data/1BAD", "symbol"),
        ("/market-data/AAPL?timeframe=2Min", "timeframe"),
        ("/market-data/AAPL?limit=0", "limit"),
        ("/market-data/AAPL?indicators=FOO", "indicators"),
        ('/market-data/AAPL?indicators={"SMA": {}}', "indicators"),
        ('/market-data/AAPL?indicators={"RSI": {"period": -1}}', "indicators"),
        ("/market-data/AAPL?indicators={broken", "indicators"),
        ("/market-data/AAPL?indicators=[1]", "indicators"),
        ('/market-data/AAPL?indicators={"a":' + "[" * 1990, "indicators"),
    ],
)
def test_market_data_rejects_bad_input(url, field):
    response = api_client(UserFactory()).get(url)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == [field]
