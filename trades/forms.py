"""The trades page's filters: the one form behind the table, its statistics and its CSV export."""

from django import forms

from bots.models import Bot
from trades.models import Trade
from trades.selectors import ORDERINGS

DEFAULT_SORT = "-timestamp"

SYMBOL_MAX = 16  # the longest symbol the trades and positions tables store


def ticker(typed: str) -> str:
    """A symbol typed into a filter, upper-cased; a wrong one is a form error in words (trades, positions)."""
    symbol = typed.strip().upper()
    if len(symbol) > SYMBOL_MAX:
        raise forms.ValidationError(f"must be at most {SYMBOL_MAX} characters (this one has {len(symbol):,})")
    if symbol and not symbol.replace(".", "").isalnum():
        raise forms.ValidationError("must be a ticker: letters and digits, e.g. AAPL or BRK.B")
    return symbol


class TradeFilterForm(forms.Form):
    """The page's filters and sort, handed to the same selector as the API's and the export's."""

    bot = forms.ModelChoiceField(queryset=Bot.objects.none(), required=False, empty_label="All bots")
    # No max_length: its maxlength attribute would have the browser cut a longer ticker without a word.
    symbol = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 8, "placeholder": "AAPL"}))
    type = forms.ChoiceField(choices=[("", "Buy and sell"), *Trade.Type.choices], required=False, label="Side")
    status = forms.ChoiceField(choices=[("", "Any status"), *Trade.Status.choices], required=False)
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        choices=[(ordering, ordering) for ordering in ORDERINGS], required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bot"].queryset = Bot.objects.for_user(user)

    def clean_symbol(self) -> str:
        return ticker(self.cleaned_data["symbol"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] > cleaned["until"]:
            self.add_error("until", "must not be before From")
        return cleaned

    @property
    def sort_value(self) -> str:
        return (self.cleaned_data.get("sort") if self.is_bound and self.is_valid() else None) or DEFAULT_SORT

    def selector_filters(self) -> dict:
        """The valid filters as trades.selectors.trade_list takes them (dates are New York trading days)."""
        data = self.cleaned_data
        return {
            "bot_id": data["bot"].pk if data.get("bot") else None,
            "symbol": data.get("symbol") or None,
            "type": data.get("type") or None,
            "status": data.get("status") or None,
            "start": data.get("since"),
            "end": data.get("until"),
            "ordering": data.get("sort") or DEFAULT_SORT,
        }

    def error_list(self) -> list[str]:
        """Each error with the field it is about, in words: "To: must not be before From"."""
        return [
            f"{self[name].label}: {message}" if name in self.fields else message
            for name, messages in self.errors.items()
            for message in messages
        ]
