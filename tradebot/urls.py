from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from tradebot import health, metrics
from tradebot.api import api

# The admin signs in through the site's login: its rate limits, lockout and second factor apply there too.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("health", health.health, name="health"),
    path("metrics", metrics.metrics, name="metrics"),
    path("api/", api.urls),
    path("notifications/", include("accounts.notifications.urls")),
    path("audit/", include("accounts.audit.urls")),
    path("", include("bots.urls")),
    path("", include("trades.urls")),
    path("", include("positions.urls")),
    path("", include("backtests.urls")),
    path("", include("analytics.urls")),
]

handler400 = "tradebot.http_errors.bad_request"
handler404 = "tradebot.http_errors.page_not_found"
handler500 = "tradebot.http_errors.server_error"
