from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"
    label = "market"
    verbose_name = "Market data"
