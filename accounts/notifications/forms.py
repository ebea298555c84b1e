from django import forms

from accounts.notifications.events import CHOOSABLE, DEFAULT_EVENTS
from accounts.notifications.models import NotificationChannel


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(choices=NotificationChannel.Kind.choices)
    name = forms.CharField(max_length=80)
    address = forms.CharField(
        max_length=254, required=False, help_text="Email: the address. Telegram: the chat id (a number)."
    )
    secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="Webhook URL or bot token",
        help_text="Slack, Discord or webhook: the URL. Telegram: the bot token from @BotFather. Stored encrypted.",
    )
    events = forms.MultipleChoiceField(
        choices=CHOOSABLE, initial=DEFAULT_EVENTS, required=False, widget=forms.CheckboxSelectMultiple
    )

    def add_service_errors(self, errors: list[dict]) -> None:
        for error in errors:
            field = error["field"]
            self.add_error(field if field in self.fields else None, error["message"])
