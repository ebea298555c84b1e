import pytest

from engine.config import BotConfig
from engine.indicators import REGISTRY
from engine.presets import PRESETS


@pytest.mark.parametrize("key", PRESETS)
def test_every_preset_is_a_valid_configuration(key):
    config = BotConfig.model_validate(PRESETS[key].config)
    assert config.window_start < config.window_end


def test_at_least_five_presets_use_every_voting_indicator_between_them():
    used = {name for preset in PRESETS.values() for name in preset.config["indicators"]}
    assert len(PRESETS) >= 5 and used == set(REGISTRY)
