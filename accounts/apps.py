from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    label = "accounts"
    verbose_name = "API access"

    def ready(self):
        from accounts import signals  # noqa: F401  (connects the receivers)
