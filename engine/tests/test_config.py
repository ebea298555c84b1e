"""The bot configuration schema: the design's JSON verbatim, and every error as a dotted path with a reason."""

import copy
import json
from datetime import time
from decimal import Decimal

import pytest
from pydantic import ValidationError

from engine.config import BotConfig, config_errors
from engine.indicators import REGISTRY
from engine.risk import RiskRules

# Copied verbatim from DESIGN.md, "Strategy rules".
DESIGN_EXAMPLE = """
{"name": "Momentum Bot", "capital": 10000, "trading_frequency": 60,
 "symbols": ["AAPL", "MSFT", "GOOGL"],
 "indicators": {"RSI": {"period": 14, "oversold": 30, "overbought": 70},
                "MACD": {"fast": 12, "slow": 26, "signal": 9},
                "SMA": {"period": 50}},
 "risk_management": {"stop_loss": 0.02, "take_profit": 0.05,
                     "max_position_size": 0.1, "max_daily_loss": 0.1},
 "start_hour": 9, "start_minute": 30, "end_hour": 12, "end_minute": 0}
"""


def example(**changes) -> dict:
    data = copy.deepcopy(json.loads(DESIGN_EXAMPLE))
    data.update(changes)
    return data


def errors(data: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        BotConfig.model_validate(data)
    return {error["field"]: error["message"] for error in config_errors(caught.value)}


def test_the_design_example_is_accepted_verbatim():
    config = BotConfig.model_validate_json(DESIGN_EXAMPLE)
    assert config.name == "Momentum Bot"
    assert config.capital == Decimal(10000)
    assert config.symbols == ["AAPL", "MSFT", "GOOGL"]
    assert config.signal_mode == "majority"
    assert (config.window_start, config.window_end) == (time(9, 30), time(12, 0))
    params = config.indicator_params()
    assert list(params) == ["RSI", "MACD", "SMA"]
    assert (params["RSI"].period, params["RSI"].oversold, params["RSI"].overbought) == (14, 30, 70)
    assert (params["MACD"].fast, params["MACD"].slow, params["MACD"].signal) == (12, 26, 9)
    assert params["SMA"].period == 50
    assert config.risk_management.rules() == RiskRules(
        stop_loss=Decimal("0.02"),
        take_profit=Decimal("0.05"),
        max_position_size=Decimal("0.1"),
        max_daily_loss=Decimal("0.1"),
    )


def test_the_stored_form_reads_back_as_the_same_configuration():
    config = BotConfig.model_validate_json(DESIGN_EXAMPLE)
    stored = json.loads(json.dumps(config.stored()))
    assert stored["indicators"] == json.loads(DESIGN_EXAMPLE)["indicators"]
    assert BotConfig.model_validate(stored) == config


def test_symbols_are_upper_cased_and_stripped():
    assert BotConfig.model_validate(example(symbols=[" aapl", "brk.b"])).symbols == ["AAPL", "BRK.B"]


def test_a_symbol_listed_twice_is_rejected_whatever_its_case():
    assert errors(example(symbols=["AAPL", "msft", "aapl"])) == {"symbols": "AAPL is listed twice"}


@pytest.mark.parametrize("symbol", ["", "1ABC", "AAPL MSFT", "TOOLONGSYMBOL"])
def test_a_symbol_that_is_not_a_ticker_is_rejected(symbol):
    assert "symbols" in errors(example(symbols=[symbol]))


def test_no_symbols_is_rejected():
    assert "symbols" in errors(example(symbols=[]))


def test_an_unknown_indicator_is_rejected_with_the_known_list():
    data = example()
    data["indicators"]["ADX"] = {"period": 14}
    message = errors(data)["indicators.ADX"]
    assert message.startswith("unknown indicator")
    for name in REGISTRY:
        assert name in message


@pytest.mark.parametrize("slow", [12, 6])
def test_macd_fast_not_below_slow_is_reported_at_indicators_macd_slow(slow):
    data = example()
    data["indicators"]["MACD"] = {"fast": 12, "slow": slow, "signal": 9}
    assert errors(data) == {"indicators.MACD.slow": "must be greater than fast (12)"}


def test_rsi_oversold_not_below_overbought_is_reported_at_its_path():
    data = example()
    data["indicators"]["RSI"] = {"period": 14, "oversold": 70, "overbought": 30}
    assert list(errors(data)) == ["indicators.RSI.overbought"]


def test_a_crossover_average_takes_fast_and_slow_together():
    data = example()
    data["indicators"]["SMA"] = {"fast": 10, "slow": 50}
    assert BotConfig.model_validate(data).indicator_params()["SMA"].fast == 10
    data["indicators"]["SMA"] = {"fast": 10}
    assert "indicators.SMA" in errors(data)


def test_a_one_bar_look_back_is_rejected_at_its_path():
    data = example()
    data["indicators"]["SMA"] = {"fast": 1, "slow": 20}
    assert list(errors(data)) == ["indicators.SMA.fast"]


@pytest.mark.parametrize(("end_hour", "end_minute"), [(9, 0), (9, 30)])
def test_a_window_ending_at_or_before_its_start_is_rejected(end_hour, end_minute):
    found = errors(example(end_hour=end_hour, end_minute=end_minute))
    assert list(found) == ["__all__"]
    assert "after" in found["__all__"]


@pytest.mark.parametrize("hour", [-1, 24])
def test_an_hour_outside_the_day_is_rejected(hour):
    assert "start_hour" in errors(example(start_hour=hour))


@pytest.mark.parametrize("capital", [-100, 0])
def test_capital_must_be_positive(capital):
    assert list(errors(example(capital=capital))) == ["capital"]


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ("stop_loss", 1.5),
        ("stop_loss", 0),
        ("max_position_size", 0),
        ("max_position_size", 1.01),
        ("max_daily_loss", -0.1),
        ("take_profit", -0.05),
        ("daily_target", 0),
    ],
)
def test_a_risk_fraction_out_of_range_is_rejected_at_its_path(rule, value):
    data = example()
    data["risk_management"][rule] = value
    assert list(errors(data)) == [f"risk_management.{rule}"]


def test_null_risk_rules_are_off():
    data = example(risk_management={"stop_loss": None, "max_position_size": None})
    assert BotConfig.model_validate(data).risk_management.rules() == RiskRules()


def test_risk_management_defaults_to_a_tenth_of_capital_per_position_and_nothing_else():
    data = example()
    del data["risk_management"]
    assert BotConfig.model_validate(data).risk_management.rules() == RiskRules(max_position_size=Decimal("0.1"))


def test_volume_sma_alone_is_rejected_because_it_only_confirms():
    found = errors(example(indicators={"VOLUME_SMA": {"period": 20, "multiplier": 1.5}}))
    assert list(found) == ["indicators"]
    assert "VOLUME_SMA" in found["indicators"]


def test_volume_sma_with_a_voting_indicator_is_accepted():
    config = BotConfig.model_validate(example(indicators={"RSI": {}, "VOLUME_SMA": {}}))
    assert list(config.indicator_params()) == ["RSI", "VOLUME_SMA"]


def test_no_indicator_is_rejected():
    assert "indicators" in errors(example(indicators={}))


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (lambda d: d.update(leverage=2), "leverage"),
        (lambda d: d["risk_management"].update(trailing_stop=0.01), "risk_management.trailing_stop"),
        (lambda d: d["indicators"]["RSI"].update(length=14), "indicators.RSI.length"),
    ],
)
def test_extra_keys_are_rejected_at_their_path(where, path):
    data = example()
    where(data)
    assert list(errors(data)) == [path]


def test_an_unknown_signal_mode_is_rejected():
    assert list(errors(example(signal_mode="most"))) == ["signal_mode"]


def test_a_name_with_a_nul_character_is_a_field_error():
    with pytest.raises(ValidationError) as caught:
        BotConfig.model_validate(dict(json.loads(DESIGN_EXAMPLE), name="bad\x00name"))
    assert [e["loc"] for e in caught.value.errors()] == [("name",)]
