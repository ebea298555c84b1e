"""The forms for bots and broker accounts, shared by the dashboard and the admin.

A bot's configuration is validated by the one schema (engine.config.BotConfig, through
services.parse_config); the form only turns its dotted error paths into errors on its own fields.
"""

import json
import re

from django import forms

from bots import services
from bots.models import Bot, BrokerAccount
from engine.config import BotConfig
from engine.market_time import TIMEFRAMES
from tradebot.errors import Invalid


class PrettyJSONField(forms.JSONField):
    """JSON shown indented in a monospace textarea, so a person can read and edit it."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", forms.Textarea(attrs={"rows": 10, "cols": 60, "class": "json", "spellcheck": "false"})
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class SymbolsField(forms.CharField):
    """Tickers typed as 'AAPL, MSFT GOOGL'; the schema checks each one."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        return [symbol for symbol in re.split(r"[\s,]+", super().to_python(value)) if symbol]


class ServiceModelForm(forms.ModelForm):
    """A form for a model that only the services change: it parses input, the service validates and saves,
    and what the service refuses lands on the form's fields."""

    # A refusal the service already gave for this same input: the admin validates the input again with it
    # (see OwnedAdmin.changeform_view), as it only re-renders a form that is invalid.
    service_errors: list[dict] | tuple = ()

    def _post_clean(self):
        # ModelForm would copy the values onto the instance here; a service handed that instance could not
        # see what changed (moving a bot to another broker account, switching an account between paper and
        # live: both refused while positions are open).
        self.add_service_errors(self.service_errors)

    def add_service_errors(self, errors: list[dict]) -> None:
        """Put each {field, message} from the schema or a service on the form field it is about.

        A nested path keeps its full name in the message (`indicators.MACD.slow: must be greater
        than fast (12)`). A field that could not even be parsed keeps that error alone (the schema
        would only add "field required").
        """
        unparsed = set(self.errors)
        for error in errors:
            path = error["field"].removesuffix("_id")
            name = path.split(".")[0]
            if name in unparsed:
                continue
            message = error["message"] if path in (name, "__all__") else f"{path}: {error['message']}"
            self.add_error(name if name in self.fields else None, message)


class BotForm(ServiceModelForm):
    symbols = SymbolsField(help_text="Tickers separated by commas or spaces, e.g. AAPL, MSFT")
    indicators = PrettyJSONField(help_text='e.g. {"RSI": {"period": 14, "oversold": 30, "overbought": 70}}')
    risk_management = PrettyJSONField(
        required=False,
        help_text='Fractions, e.g. {"stop_loss": 0.02, "take_profit": 0.05}; null disables a rule. '
        '"stop_at_broker": true also rests the stop at Alpaca (Alpaca accounts, with a stop_loss).',
    )
    timeframe = forms.ChoiceField(choices=[(timeframe, timeframe) for timeframe in TIMEFRAMES], initial="1Min")
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

    class Meta:
        model = Bot
        fields = [
            "name",
            "capital",
            "broker_account",
            "symbols",
            "timeframe",
            "trading_frequency",
            "signal_mode",
            "indicators",
            "risk_management",
            "start_hour",
            "start_minute",
            "end_hour",
            "end_minute",
        ]

    default_owner = None  # the owner of a new bot when none is passed (the admin sets it per request)

    def __init__(self, *args, owner=None, **kwargs):
        super().__init__(*args, **kwargs)
        # A bot keeps its owner: a superuser editing someone's bot picks among that person's accounts.
        self.owner = self.instance.owner if self.instance.pk else owner or self.default_owner
        self.fields["broker_account"].queryset = BrokerAccount.objects.filter(owner=self.owner)
        self.config: BotConfig | None = None

    def clean(self):
        cleaned = super().clean()
        data = {name: cleaned[name] for name in Bot.CONFIG_FIELDS if name in cleaned}
        if data.get("risk_management") is None:
            data.pop("risk_management", None)
        try:
            self.config = services.parse_config(data)
        except Invalid as exc:
            self.add_service_errors(exc.errors)
        return cleaned


# What the broker-account services take from the account form (the pages and the admin alike).
ACCOUNT_FIELDS = [
    "name",
    "paper",
    "api_key",
    "secret_key",
    "base_url",
    "data_url",
    "data_feed",
    "sim_slippage",
    "sim_commission",
    "confirm_live",
]


class BrokerAccountForm(ServiceModelForm):
    """Secrets are write-only: never sent back to the browser; left blank on edit, the saved ones stay."""

    api_key = forms.CharField(required=False, strip=True, widget=forms.PasswordInput(render_value=False))
    secret_key = forms.CharField(required=False, strip=True, widget=forms.PasswordInput(render_value=False))
    confirm_live = forms.BooleanField(
        required=False,
        label="I understand this trades real money",
        help_text="Needed to save a live (non-paper) account.",
    )

    class Meta:
        model = BrokerAccount
        fields = ["name", "kind", "paper", "base_url", "data_url", "data_feed", "sim_slippage", "sim_commission"]
