"""The stand-in's own wire behaviour where AlpacaBroker and AlpacaMarketData do not reach it."""

import time

import pytest
import requests

from tests.alpaca_stub import AlpacaStub

AUTH = {"APCA-API-KEY-ID": "key", "APCA-API-SECRET-KEY": "secret"}


def test_requests_without_keys_get_alpacas_401(alpaca_stub):
    response = requests.get(f"{alpaca_stub.url}/v2/account", timeout=5)

    assert response.status_code == 401
    assert response.json() == {"code": 40110000, "message": "request is not authorized"}


def test_a_missing_position_is_alpacas_404(alpaca_stub):
    response = requests.get(f"{alpaca_stub.url}/v2/positions/AAPL", headers=AUTH, timeout=5)

    assert response.status_code == 404
    assert response.json() == {"code": 40410000, "message": "position does not exist"}


def test_no_bars_is_an_empty_object_never_null(alpaca_stub):
    response = requests.get(
        f"{alpaca_stub.url}/v2/stocks/bars", params={"symbols": "AAPL", "timeframe": "1Min"}, headers=AUTH, timeout=5
    )

    assert response.json() == {"bars": {}, "next_page_token": None}


def test_open_and_closed_orders_are_listed_apart(alpaca_stub):
    alpaca_stub.set_price("AAPL", "100")
    order = {"symbol": "AAPL", "qty": 1.0, "side": "buy", "type": "market", "time_in_force": "day"}
    requests.post(f"{alpaca_stub.url}/v2/orders", json=order, headers=AUTH, timeout=5)
    alpaca_stub.accept_without_fill = True
    requests.post(f"{alpaca_stub.url}/v2/orders", json=order, headers=AUTH, timeout=5)

    def listed(status):
        response = requests.get(f"{alpaca_stub.url}/v2/orders", params={"status": status}, headers=AUTH, timeout=5)
        return [o["status"] for o in response.json()]

    assert listed("open") == ["accepted"]
    assert listed("closed") == ["filled"]
    assert sorted(listed("all")) == ["accepted", "filled"]


def test_the_calendar_gives_hh_mm_sessions_for_weekdays(alpaca_stub):
    response = requests.get(
        f"{alpaca_stub.url}/v2/calendar", params={"start": "2024-01-05", "end": "2024-01-08"}, headers=AUTH, timeout=5
    )

    assert response.json() == [
        {"date": "2024-01-05", "open": "09:30", "close": "16:00"},
        {"date": "2024-01-08", "open": "09:30", "close": "16:00"},
    ]


def test_stopping_ends_a_hanging_request_and_the_server_promptly():
    stub = AlpacaStub().start()
    stub.hang_next("/v2/account", seconds=60)
    url = stub.url
    with pytest.raises(requests.Timeout):
        requests.get(f"{url}/v2/account", headers=AUTH, timeout=0.2)

    started = time.monotonic()
    stub.stop()

    assert time.monotonic() - started < 2
    assert not stub.running
