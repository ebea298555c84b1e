from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "tradebot.market"
    label = "market"
    verbose_name = "Market data"
