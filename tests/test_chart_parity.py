"""What a bot's chart shows is what the bot computed: the values a tick decided on (the snapshot in its
tick record) are the chart's values at the last closed bar, drawn from the same feed at the same moment."""

from datetime import UTC, datetime

import pytest

from bots import services
from bots.charts import bot_chart
from bots.models import TickLog
from bots.ticks import bot_tick
from market.cache import clear_caches
from tests.factories import DESIGN_CONFIG, BotFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York, a Monday: the simulated market is deterministic
INDICATORS = {
    "RSI": {"period": 14, "oversold": 30, "overbought": 70},
    "SMA": {"fast": 5, "slow": 20},
    "EMA": {"period": 10},
    "BBANDS": {"period": 10, "std": 2},
    "STOCH": {"k": 14, "d": 3, "smooth_k": 3, "oversold": 20, "overbought": 80},
    "MACD": {"fast": 12, "slow": 26, "signal": 9},
    "OBV": {"period": 10},
    "VOLUME_SMA": {"period": 20, "multiplier": 1.0},
}


@pytest.mark.parametrize("timeframe", ["1Min", "15Min", "1Day"])
def test_the_chart_draws_the_values_the_tick_decided_on(user, timeframe):
    clear_caches()
    config = {**DESIGN_CONFIG, "symbols": ["AAPL"], "indicators": INDICATORS, "timeframe": timeframe}
    bot = services.bot_start(bot=BotFactory(owner=user, config=config))

    bot_tick(bot_id=bot.pk, force=True, now=NOW)

    (decision,) = TickLog.objects.get(bot=bot).decisions
    snapshot = dict(decision["snapshot"])
    chart = bot_chart(bot=bot, symbol="AAPL", now=NOW)
    last = chart["candles"][-1]["time"]
    drawn = {
        f"{indicator['name']}.{line['key']}": {point["time"]: point["value"] for point in line["data"]}
        for indicator in chart["indicators"]
        for line in indicator["series"]
    }
    assert chart["candles"][-1]["close"] == snapshot.pop("close")
    snapshot.pop("VOLUME_SMA.volume")  # the volume histogram's last bar
    assert set(snapshot) == set(drawn) and len(snapshot) == 15
    # OBV is a running sum from the first bar fetched, and the chart fetches 200 bars more than the tick:
    # its level differs by a constant; what the bot decides on, OBV against its average, does not.
    obv, obv_sma = snapshot.pop("OBV.obv"), snapshot.pop("OBV.obv_sma")
    assert drawn["OBV.obv"][last] - drawn["OBV.obv_sma"][last] == pytest.approx(obv - obv_sma, abs=1e-6)
    for key, value in snapshot.items():
        assert drawn[key][last] == pytest.approx(value, rel=1e-6, abs=1e-6), key
