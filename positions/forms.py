"""The positions page's filters: bot, symbol, open or closed, and the order of the rows."""

from django import forms

from bots.models import Bot
from trades.forms import ticker

SORTS = {
    "newest": ("Newest first", ("-opened_at", "-id")),
    "oldest": ("Oldest first", ("opened_at", "id")),
    "symbol": ("Symbol", ("symbol", "-opened_at", "-id")),
    "pnl": ("Best P&L first", ("-unrealized_pnl", "-realized_pnl", "-id")),
    "-pnl": ("Worst P&L first", ("unrealized_pnl", "realized_pnl", "id")),
    "value": ("Largest first", ("-value", "-id")),
}


class PositionFilterForm(forms.Form):
    state = forms.ChoiceField(
        choices=[("open", "Open"), ("closed", "Closed")], required=False, widget=forms.HiddenInput
    )
    bot = forms.ModelChoiceField(queryset=Bot.objects.none(), required=False, empty_label="All bots")
    symbol = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 8, "placeholder": "AAPL"}))
    sort = forms.ChoiceField(choices=[(key, label) for key, (label, _) in SORTS.items()], required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bot"].queryset = Bot.objects.for_user(user)

    def clean_symbol(self) -> str:
        return ticker(self.cleaned_data["symbol"])

    @property
    def state_value(self) -> str:
        return "closed" if self.data.get("state") == "closed" else "open"

    def error_list(self) -> list[str]:
        return [f"{self[name].label}: {message}" for name, messages in self.errors.items() for message in messages]
