from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"

    def ready(self):
        from bots import checks, feeds
        from market import api as market_api
        from tradebot.health import register_check

        register_check("broker_keys", checks.broker_keys_health)
        market_api.serve_feeds(feeds.caller_market)
