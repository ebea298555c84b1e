"""One day rule for every trade filter: a date means a New York trading day, on the trades page, in
GET /api/trades, its statistics and the CSV export alike."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from tests.api_client import api_client
from tests.factories import BotFactory, TradeFactory
from trades.tests.test_api import export

pytestmark = pytest.mark.django_db

# 02:00 UTC on March 5th is 21:00 on March 4th in New York: the hours where UTC and New York days differ.
EVENING = datetime(2024, 3, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
def evening_trade(user):
    return TradeFactory(bot=BotFactory(owner=user), timestamp=EVENING, symbol="EVE")


@pytest.mark.parametrize("day,included", [("2024-03-04", True), ("2024-03-05", False)])
def test_the_page_the_api_and_the_export_agree_on_which_day_a_trade_belongs_to(
    client, user, evening_trade, day, included
):
    client.force_login(user)
    page = client.get(reverse("trades:list"), {"since": day, "until": day}).content.decode()
    api = api_client(user)
    listed = api.get(f"/trades?start={day}&end={day}").json()["count"]
    _, exported = export(Client(), user, f"?start={day}&end={day}")

    assert ("EVE" in page, listed == 1, "EVE" in exported) == (included, included, included)


def test_a_bad_date_range_on_the_page_says_so_and_shows_no_rows(client, user, evening_trade):
    client.force_login(user)
    response = client.get(reverse("trades:list"), {"since": "2024-03-05", "until": "2024-03-04"})
    assert "must not be before From" in response.content.decode()
    assert "EVE" not in response.content.decode()
