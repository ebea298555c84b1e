"""Strategy templates a new bot starts from (the bot form's "Start from") and the demo's bots.

Each is a whole configuration for the one schema (engine.config.BotConfig); the trading window is the
regular session, New York time. Sizes and limits are fractions, as the schema takes them.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    summary: str
    config: dict


REGULAR_SESSION = {"start_hour": 9, "start_minute": 30, "end_hour": 16, "end_minute": 0}

PRESETS: dict[str, Preset] = {
    preset.key: preset
    for preset in (
        Preset(
            "momentum",
            "Momentum (RSI + MACD + SMA)",
            "Buys when momentum turns up: RSI out of oversold, MACD over its signal, price over its 50-bar average.",
            {
                "name": "Momentum (RSI + MACD + SMA)",
                "capital": 10000,
                "symbols": ["AAPL", "MSFT", "GOOGL"],
                "indicators": {
                    "RSI": {"period": 14, "oversold": 30, "overbought": 70},
                    "MACD": {"fast": 12, "slow": 26, "signal": 9},
                    "SMA": {"period": 50},
                },
                "risk_management": {
                    "stop_loss": 0.02,
                    "take_profit": 0.05,
                    "max_position_size": 0.1,
                    "max_daily_loss": 0.05,
                },
                "signal_mode": "any",
                **REGULAR_SESSION,
            },
        ),
        Preset(
            "mean_reversion",
            "Mean reversion (Bollinger + Stochastic)",
            "Buys stretched-down prices back toward their mean: below the lower band, stochastic oversold.",
            {
                "name": "Mean reversion (Bollinger + Stochastic)",
                "capital": 25000,
                "symbols": ["AMZN", "NVDA", "TSLA"],
                "indicators": {"BBANDS": {"period": 20, "std": 2}, "STOCH": {"k": 14, "d": 3, "smooth_k": 3}},
                "risk_management": {
                    "stop_loss": 0.03,
                    "take_profit": 0.04,
                    "max_position_size": 0.2,
                    "max_positions": 2,
                },
                "signal_mode": "any",
                **REGULAR_SESSION,
            },
        ),
        Preset(
            "trend",
            "Trend (EMA crossover, volume confirmed)",
            "Follows the trend on 5-minute bars: a 9/21 EMA crossover and rising OBV, entering on high volume.",
            {
                "name": "Trend (EMA crossover, volume confirmed)",
                "capital": 5000,
                "trading_frequency": 300,
                "symbols": ["SPY", "QQQ"],
                "indicators": {
                    "EMA": {"fast": 9, "slow": 21},
                    "OBV": {"period": 20},
                    "VOLUME_SMA": {"period": 20, "multiplier": 1.0},
                },
                "risk_management": {
                    "stop_loss": 0.015,
                    "take_profit": 0.03,
                    "max_position_size": 0.25,
                    "max_daily_trades": 10,
                },
                "signal_mode": "majority",
                "timeframe": "5Min",
                **REGULAR_SESSION,
            },
        ),
        Preset(
            "rsi_swing",
            "RSI swing (cautious)",
            "One indicator, small positions: buys RSI under 25, sells over 75; three positions at most, a loss limit.",
            {
                "name": "RSI swing",
                "capital": 10000,
                "trading_frequency": 300,
                "symbols": ["AAPL", "META", "NFLX"],
                "indicators": {"RSI": {"period": 14, "oversold": 25, "overbought": 75}},
                "risk_management": {
                    "stop_loss": 0.03,
                    "take_profit": 0.06,
                    "max_position_size": 0.05,
                    "max_daily_loss": 0.02,
                    "max_positions": 3,
                },  # fmt: skip
                "signal_mode": "all",
                "timeframe": "15Min",
                **REGULAR_SESSION,
            },
        ),
        Preset(
            "golden_cross",
            "Golden cross (SMA 20/50 + MACD)",
            "Slower trend following: the 20-bar average crossing the 50-bar one, MACD agreeing.",
            {
                "name": "Golden cross (SMA 20/50 + MACD)",
                "capital": 20000,
                "trading_frequency": 300,
                "symbols": ["SPY", "DIA", "IWM"],
                "indicators": {"SMA": {"fast": 20, "slow": 50}, "MACD": {"fast": 12, "slow": 26, "signal": 9}},
                "risk_management": {
                    "stop_loss": 0.04,
                    "take_profit": 0.08,
                    "max_position_size": 0.3,
                    "daily_target": 0.02,
                },
                "signal_mode": "all",
                "timeframe": "5Min",
                **REGULAR_SESSION,
            },
        ),
    )
}
