from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"

    def ready(self):
        from bots import checks, feeds
        from market import callers
        from tradebot.health import register_check

        register_check("broker_keys", checks.broker_keys_health)
        callers.serve_feeds(feeds.caller_market)
