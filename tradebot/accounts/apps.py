from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tradebot.accounts"
    label = "accounts"
    verbose_name = "API access"
