"""The bot form of the pages: every part of a bot's configuration as labelled inputs, generated from the
engine's registry (an indicator's parameter fields, its defaults and bounds) and validated by the one
schema (engine.config.BotConfig, through services.parse_config), whose errors land on the input they
are about, in words. The raw JSON stays available as an advanced view."""

import json
import re
import typing
from dataclasses import dataclass
from datetime import time
from decimal import Decimal, InvalidOperation

from annotated_types import Ge, Gt, Le, Lt
from django import forms
from pydantic.fields import FieldInfo

from bots import services
from bots.models import BrokerAccount
from engine.config import EXAMPLE_CONFIG, SYMBOL_RE, BotConfig, RiskConfig
from engine.indicators import REGISTRY
from engine.market_time import TIMEFRAMES
from tradebot.errors import Invalid

NAME_MAX = BotConfig.model_fields["name"].metadata[-1].max_length
SIGNAL_MODES = [
    ("majority", "Majority: more indicators say buy than sell"),
    ("any", "Any: one indicator saying buy is enough"),
    ("all", "All: every indicator must agree"),
]
RISK_WORDS = {
    "stop_loss": ("Stop-loss", "% below the entry price at which a position is sold"),
    "take_profit": ("Take-profit", "% above the entry price at which a position is sold"),
    "max_position_size": ("Position size", "% of capital put into one position"),
    "max_daily_loss": ("Daily loss limit", "% of capital lost in a day that pauses the bot until the next day"),
    "max_positions": ("Open positions at most", "positions held at once"),
    "max_daily_trades": ("Entries per day at most", "new positions opened in a day"),
    "daily_target": ("Daily profit target", "% of capital gained in a day that pauses the bot until the next day"),
    "stop_at_broker": (
        "Rest the stop at Alpaca",
        "Alpaca accounts, with a stop-loss: the stop also rests at Alpaca, so it holds while Tradebot is down",
    ),
}
INDICATOR_HELP = {
    "RSI": "Relative Strength Index: buys below oversold, sells above overbought.",
    "MACD": "Moving average convergence/divergence: buys when MACD crosses above its signal line.",
    "SMA": "Simple moving average: give a period (price vs. average) or fast and slow (a crossover).",
    "EMA": "Exponential moving average: give a period (price vs. average) or fast and slow (a crossover).",
    "BBANDS": "Bollinger Bands: buys below the lower band, sells above the upper one.",
    "STOCH": "Stochastic oscillator: buys below oversold, sells above overbought.",
    "OBV": "On-balance volume against its average: rising buys, falling sells.",
    "VOLUME_SMA": "Confirms entries only: volume above its average times the multiplier. Needs a voting indicator.",
}
# Pydantic's wording, in the words of the form.
PHRASES = [
    (re.compile(r"^Input should be greater than or equal to (.+)$"), r"must be at least \1"),
    (re.compile(r"^Input should be greater than (.+)$"), r"must be more than \1"),
    (re.compile(r"^Input should be less than or equal to (.+)$"), r"must be at most \1"),
    (re.compile(r"^Input should be less than (.+)$"), r"must be less than \1"),
    (re.compile(r"^Input should be a valid integer.*$"), "must be a whole number"),
    (re.compile(r"^Input should be a valid number.*$"), "must be a number"),
    (re.compile(r"^Field required$"), "is required"),
    (re.compile(r"^String should have at most (\d+) characters?$"), r"must be at most \1 characters"),
    (re.compile(r"^List should have at most (\d+) items.*$"), r"at most \1 symbols"),
    (re.compile(r"^List should have at least 1 item.*$"), "give at least one symbol"),
]


def in_words(message: str) -> str:
    for pattern, replacement in PHRASES:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return message


@dataclass(frozen=True)
class Bounds:
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True


def _constraints(info: FieldInfo) -> list:
    """The field's constraints, also those inside an optional type (`Length | None`)."""
    found = list(info.metadata)
    pending = [info.annotation]
    while pending:
        annotation = pending.pop()
        found.extend(getattr(annotation, "__metadata__", ()))
        pending.extend(typing.get_args(annotation))
    flat = []
    for item in found:
        flat.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return flat


def _bounds(info: FieldInfo) -> Bounds:
    low = high = None
    low_inclusive = high_inclusive = True
    for constraint in _constraints(info):
        if isinstance(constraint, Ge):
            low = constraint.ge
        elif isinstance(constraint, Gt):
            low, low_inclusive = constraint.gt, False
        elif isinstance(constraint, Le):
            high = constraint.le
        elif isinstance(constraint, Lt):
            high, high_inclusive = constraint.lt, False
    return Bounds(low, low_inclusive, high, high_inclusive)


def _is_integer(info: FieldInfo) -> bool:
    return "int" in repr(info.annotation).lower()


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float | Decimal) else str(value)


@dataclass(frozen=True)
class ParamField:
    """One parameter of one indicator, as the registry declares it."""

    indicator: str
    name: str
    info: FieldInfo

    @property
    def form_name(self) -> str:
        return f"ind_{self.indicator}_{self.name}"

    def form_field(self) -> forms.Field:
        bounds = _bounds(self.info)
        attrs = {"step": "1" if _is_integer(self.info) else "any", "inputmode": "decimal"}
        if bounds.low is not None:
            attrs["min"] = _number(bounds.low)
        if bounds.high is not None:
            attrs["max"] = _number(bounds.high)
        default = self.info.default
        help_parts = [f"default {_number(default)}" if default is not None else "optional"]
        if bounds.low is not None:
            help_parts.append(f"{'at least' if bounds.low_inclusive else 'more than'} {_number(bounds.low)}")
        if bounds.high is not None:
            help_parts.append(f"{'at most' if bounds.high_inclusive else 'less than'} {_number(bounds.high)}")
        field_class = forms.IntegerField if _is_integer(self.info) else forms.FloatField
        return field_class(
            required=False,
            label=self.name.replace("_", " "),
            initial=default,
            help_text="; ".join(help_parts),
            widget=forms.NumberInput(attrs=attrs),
        )


PARAMS = {
    name: [ParamField(name, param, info) for param, info in indicator.params.model_fields.items()]
    for name, indicator in REGISTRY.items()
}
SWITCH_RISK = [name for name, info in RiskConfig.model_fields.items() if info.annotation is bool]
PERCENT_RISK = [
    name for name, info in RiskConfig.model_fields.items() if not _is_integer(info) and name not in SWITCH_RISK
]


class BotSetupForm(forms.Form):
    name = forms.CharField(strip=True, help_text=f"At most {NAME_MAX} characters.")
    capital = forms.DecimalField(help_text="Dollars the bot may trade with.")
    broker_account = forms.ModelChoiceField(
        queryset=BrokerAccount.objects.none(),
        required=False,
        empty_label="Default paper account",
        help_text="Moving a bot needs its positions closed first.",
    )
    confirm_live = forms.BooleanField(
        required=False,
        label="I understand this bot trades real money",
        help_text="Needed to put the bot on a live (non-paper) account.",
    )
    symbols = forms.CharField(
        help_text="Tickers, e.g. AAPL MSFT BRK.B: type one and press Enter, comma or space.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )
    timeframe = forms.ChoiceField(choices=[(tf, tf) for tf in TIMEFRAMES], initial="1Min", help_text="Bar size.")
    trading_frequency = forms.IntegerField(
        label="Tick every (seconds)", initial=60, help_text="How often the bot decides; at least 5."
    )
    signal_mode = forms.ChoiceField(choices=SIGNAL_MODES, initial="majority", label="Indicators vote by")
    start_time = forms.TimeField(
        label="Trades from", initial=time(9, 30), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end_time = forms.TimeField(
        label="until", initial=time(16, 0), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    use_json = forms.BooleanField(required=False, label="Save the JSON below instead of the fields above")
    config_json = forms.CharField(
        required=False,
        label="Configuration as JSON",
        widget=forms.Textarea(attrs={"rows": 16, "class": "json", "spellcheck": "false"}),
        help_text="The whole configuration, as the API takes it. Fractions here: 0.02 is 2 %.",
    )

    def __init__(self, data=None, *, owner, bot=None, config: dict | None = None):
        self.bot = bot
        self.owner = bot.owner if bot is not None else owner
        config = config or (bot.config_data() if bot is not None else EXAMPLE_CONFIG)
        super().__init__(data, initial=self._initial(config, bot))
        self.fields["broker_account"].queryset = BrokerAccount.objects.filter(owner=self.owner)
        self.fields["symbols"].widget.attrs["data-symbol-pattern"] = SYMBOL_RE.pattern.strip("^$")
        for name, params in PARAMS.items():
            self.fields[f"ind_{name}"] = forms.BooleanField(
                required=False, label=name, help_text=INDICATOR_HELP.get(name, "")
            )
            for param in params:
                self.fields[param.form_name] = param.form_field()
        for name, info in RiskConfig.model_fields.items():
            label, help_text = RISK_WORDS.get(name, (name.replace("_", " ").capitalize(), ""))
            if name in SWITCH_RISK:
                self.fields[f"risk_{name}"] = forms.BooleanField(required=False, label=label, help_text=help_text)
            elif name in PERCENT_RISK:
                bounds = _bounds(info)
                self.fields[f"risk_{name}"] = forms.DecimalField(
                    required=False,
                    label=f"{label} (%)",
                    help_text=f"{help_text}; blank: no limit; at most {_number(Decimal(str(bounds.high)) * 100)} %",
                    widget=forms.NumberInput(attrs={"step": "any", "min": "0", "inputmode": "decimal"}),
                )
            else:
                self.fields[f"risk_{name}"] = forms.IntegerField(
                    required=False, label=label, help_text=f"{help_text}; blank: no limit", min_value=1
                )
        self.config: BotConfig | None = None

    @staticmethod
    def _initial(config: dict, bot) -> dict:
        initial = {
            key: config.get(key, BotConfig.model_fields[key].default)
            for key in ("name", "capital", "timeframe", "trading_frequency", "signal_mode")
        }
        initial["symbols"] = " ".join(config.get("symbols", []))
        initial["start_time"] = time(config.get("start_hour", 9), config.get("start_minute", 30))
        initial["end_time"] = time(config.get("end_hour", 16), config.get("end_minute", 0))
        initial["broker_account"] = bot.broker_account_id if bot is not None else None
        for name, params in (config.get("indicators") or {}).items():
            initial[f"ind_{name}"] = True
            for param, value in (params or {}).items():
                initial[f"ind_{name}_{param}"] = value
        for name, value in (config.get("risk_management") or {}).items():
            if value is not None and name in PERCENT_RISK:
                value = (Decimal(str(value)) * 100).normalize()
                value = value.quantize(Decimal(1)) if value == value.to_integral() else value
            initial[f"risk_{name}"] = value
        initial["config_json"] = json.dumps(config, indent=2, default=str)
        return initial

    # The parts of the form, for the template.
    def indicator_groups(self):
        return [
            {
                "name": name,
                "toggle": self[f"ind_{name}"],
                "params": [self[param.form_name] for param in params],
                "confirmation": REGISTRY[name].confirmation,
            }
            for name, params in PARAMS.items()
        ]

    def risk_fields(self):
        return [self[f"risk_{name}"] for name in RiskConfig.model_fields]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if len(name) > NAME_MAX:
            raise forms.ValidationError(f"must be at most {NAME_MAX} characters (this one has {len(name):,})")
        return name

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("use_json"):
            data = self._json_config()
        else:
            data = self._fields_config(cleaned)
        if data is None or self.errors:
            return cleaned
        try:
            self.config = services.parse_config(data)
        except Invalid as exc:
            self.add_service_errors(exc.errors)
        return cleaned

    def _json_config(self) -> dict | None:
        try:
            data = json.loads(self.cleaned_data.get("config_json") or "")
        except json.JSONDecodeError as exc:
            self.add_error("config_json", f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
            return None
        if not isinstance(data, dict):
            self.add_error("config_json", "must be a JSON object: {...}")
            return None
        return data

    def _fields_config(self, cleaned: dict) -> dict:
        data = {key: cleaned.get(key) for key in ("name", "capital", "timeframe", "trading_frequency", "signal_mode")}
        data["symbols"] = [symbol.upper() for symbol in re.split(r"[\s,;]+", cleaned.get("symbols") or "") if symbol]
        start, end = cleaned.get("start_time"), cleaned.get("end_time")
        if start and end:
            if end <= start:
                self.add_error("end_time", f"must end after it starts ({start:%H:%M})")
            data.update(start_hour=start.hour, start_minute=start.minute, end_hour=end.hour, end_minute=end.minute)
        data["indicators"] = {
            name: {param.name: cleaned[param.form_name] for param in params if cleaned.get(param.form_name) is not None}
            for name, params in PARAMS.items()
            if cleaned.get(f"ind_{name}")
        }
        if not data["indicators"]:
            self.add_error(None, "Choose at least one indicator.")
        risk = {}
        for name in RiskConfig.model_fields:
            value = cleaned.get(f"risk_{name}")
            if value is not None and name in PERCENT_RISK:
                try:
                    value = (value / 100).quantize(Decimal("0.000001"))
                except InvalidOperation:
                    self.add_error(f"risk_{name}", "is too large")
                    continue
                high = _bounds(RiskConfig.model_fields[name]).high
                if value <= 0:
                    self.add_error(f"risk_{name}", "must be more than 0 %; leave it blank for no limit")
                    continue
                if high is not None and value > high:
                    self.add_error(f"risk_{name}", f"must be at most {_number(Decimal(str(high)) * 100)} %")
                    continue
            risk[name] = value
        data["risk_management"] = risk
        return data

    def add_service_errors(self, errors: list[dict]) -> None:
        """Each {field, message} of the schema or a service on the input it is about, in words."""
        for error in errors:
            field, message = self._field_for(error["field"]), in_words(error["message"])
            if self.cleaned_data.get("use_json"):
                self.add_error("config_json", f"{error['field']}: {message}")
            elif field is not None and field in self.fields and field not in self.errors:
                self.add_error(field, message)
            elif field is None or field not in self.errors:
                self.add_error(None, message)

    def _field_for(self, path: str) -> str | None:
        parts = path.removesuffix("_id").split(".")
        if parts[0] == "indicators" and len(parts) >= 3:
            return f"ind_{parts[1]}_{parts[2]}"
        if parts[0] == "indicators" and len(parts) == 2:
            return f"ind_{parts[1]}"
        if parts[0] == "risk_management" and len(parts) >= 2:
            return f"risk_{parts[1]}"
        if parts[0] in ("start_hour", "start_minute"):
            return "start_time"
        if parts[0] in ("end_hour", "end_minute", "__all__"):
            return "end_time" if "end" in path or "start" in path else None
        if parts[0] == "symbols":
            return "symbols"
        return parts[0] if parts[0] in self.fields else None
