"""The bot form of the pages: indicators from the registry, risk as percentages, symbols, the window as
times, templates, the JSON view; every error in words on its input, nothing cut."""

from decimal import Decimal

import pytest
from django.urls import reverse

from bots.models import Bot
from bots.setup_form import PARAMS, BotSetupForm
from engine.config import BotConfig
from engine.indicators import REGISTRY
from engine.presets import PRESETS
from tests.factories import BotFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def as_post(form: BotSetupForm) -> dict:
    """What a browser submits for a form shown unchanged."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value.strftime("%H:%M") if hasattr(value, "strftime") else str(value)
    return data


def base_data(**overrides) -> dict:
    data = {
        "name": "Form bot",
        "capital": "10000",
        "symbols": "AAPL msft",
        "timeframe": "1Min",
        "trading_frequency": "60",
        "signal_mode": "majority",
        "start_time": "09:30",
        "end_time": "16:00",
        "ind_RSI": "on",
        "ind_RSI_period": "14",
        "risk_stop_loss": "2",
        "risk_max_position_size": "10",
    }
    data.update(overrides)
    return data


def test_a_new_bot_is_saved_from_the_fields_with_percentages_as_fractions(signed_in, user):
    response = signed_in.post(reverse("bots:new"), base_data())
    bot = Bot.objects.get(owner=user)
    assert response.status_code == 302
    assert bot.symbols == ["AAPL", "MSFT"] and (bot.start_hour, bot.start_minute, bot.end_hour) == (9, 30, 16)
    assert bot.indicators == {"RSI": {"period": 14, "oversold": 30.0, "overbought": 70.0}}
    assert Decimal(bot.risk_management["stop_loss"]) == Decimal("0.02")
    assert Decimal(bot.risk_management["max_position_size"]) == Decimal("0.1")
    assert bot.risk_management["take_profit"] is None


@pytest.mark.parametrize("name", REGISTRY)
def test_every_indicator_of_the_registry_round_trips_through_the_form(signed_in, user, name):
    values = {param.name: param.info.default for param in PARAMS[name]}
    if name in ("SMA", "EMA"):
        values = {"fast": 5, "slow": 20}
    data = base_data(**{f"ind_{name}": "on"})
    data.update({f"ind_{name}_{key}": str(value) for key, value in values.items() if value is not None})
    if name != "RSI":
        data.pop("ind_RSI")  # a confirmation alone is refused: RSI stays for VOLUME_SMA
        data.pop("ind_RSI_period")
    if REGISTRY[name].confirmation:
        data.update({"ind_RSI": "on"})

    assert signed_in.post(reverse("bots:new"), data).status_code == 302
    bot = Bot.objects.get(owner=user)
    stored = dict(bot.indicators)
    assert stored[name] == {key: value for key, value in values.items() if value is not None}

    edit = signed_in.get(reverse("bots:edit", args=[bot.pk]))
    resubmitted = as_post(edit.context["form"])
    assert signed_in.post(reverse("bots:edit", args=[bot.pk]), resubmitted).status_code == 302
    bot.refresh_from_db()
    assert bot.indicators == stored and Decimal(bot.risk_management["stop_loss"]) == Decimal("0.02")


@pytest.mark.parametrize(
    "overrides,field,said",
    [
        ({"end_time": "09:00"}, "end_time", "must end after it starts (09:30)"),
        ({"name": "x" * 10_000}, "name", "must be at most 100 characters (this one has 10,000)"),
        ({"ind_RSI_period": "1"}, "ind_RSI_period", "must be at least 2"),
        ({"ind_RSI_oversold": "80", "ind_RSI_overbought": "70"}, "ind_RSI_overbought", "must be greater than oversold"),
        ({"risk_stop_loss": "150"}, "risk_stop_loss", "must be at most 100 %"),
        ({"risk_stop_loss": "-1"}, "risk_stop_loss", "must be more than 0 %"),
        ({"symbols": "AAPL 1BAD"}, "symbols", "'1BAD' is not a ticker"),
        ({"symbols": ""}, "symbols", "This field is required."),
    ],
)
def test_an_error_is_said_in_words_on_its_field_and_nothing_is_saved(signed_in, user, overrides, field, said):
    response = signed_in.post(reverse("bots:new"), base_data(**overrides))
    assert response.status_code == 200 and not Bot.objects.filter(owner=user).exists()
    errors = response.context["form"].errors
    assert any(said in message for message in errors[field]), errors


def test_no_indicator_and_a_confirmation_alone_are_refused(signed_in, user):
    none = base_data()
    none.pop("ind_RSI")
    alone = base_data(ind_VOLUME_SMA="on")
    alone.pop("ind_RSI")
    assert "Choose at least one indicator." in signed_in.post(reverse("bots:new"), none).content.decode()
    assert "at least one voting indicator" in signed_in.post(reverse("bots:new"), alone).content.decode()


def test_the_name_input_is_not_capped_by_the_browser(signed_in):
    html = signed_in.get(reverse("bots:new")).content.decode()
    name_input = html[html.index('name="name"') - 200 : html.index('name="name"') + 200]
    assert "maxlength" not in name_input


@pytest.mark.parametrize("key", PRESETS)
def test_a_template_fills_the_form_and_saves_as_it_is(signed_in, user, key):
    form = signed_in.get(reverse("bots:new"), {"template": key}).context["form"]
    response = signed_in.post(reverse("bots:new"), as_post(form))
    assert response.status_code == 302, response.context["form"].errors
    bot = Bot.objects.get(owner=user)
    assert bot.config() == BotConfig.model_validate(PRESETS[key].config)


def test_the_json_view_saves_the_configuration_and_its_errors_name_their_path(signed_in, user):
    bad = base_data(use_json="on", config_json='{"name": "J", "capital": 1, "symbols": ["AAPL"], '
                    '"indicators": {"MACD": {"fast": 30, "slow": 10}}}')  # fmt: skip
    broken = base_data(use_json="on", config_json="{nope")
    good = base_data(use_json="on", config_json='{"name": "J", "capital": 1, "symbols": ["AAPL"], '
                     '"indicators": {"OBV": {"period": 5}}}')  # fmt: skip

    bad_errors = signed_in.post(reverse("bots:new"), bad).context["form"].errors["config_json"]
    broken_errors = signed_in.post(reverse("bots:new"), broken).context["form"].errors["config_json"]
    assert "indicators.MACD.slow: must be greater than fast (30)" in bad_errors
    assert broken_errors[0].startswith("is not valid JSON")
    assert signed_in.post(reverse("bots:new"), good).status_code == 302
    assert Bot.objects.get(owner=user).indicators == {"OBV": {"period": 5}}


def test_another_users_bot_cannot_be_edited(signed_in):
    stranger = BotFactory(owner=UserFactory())
    assert signed_in.get(reverse("bots:edit", args=[stranger.pk])).status_code == 404
