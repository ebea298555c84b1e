from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"

    def ready(self):
        from bots import checks, feeds, metrics
        from market import callers
        from tradebot.health import register_check
        from tradebot.metrics import register_collector

        register_check("broker_keys", checks.broker_keys_health)
        callers.serve_feeds(feeds.caller_market)
        register_collector(metrics.bots_by_status)
