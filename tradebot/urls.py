from django.contrib import admin
from django.contrib.auth import views as auth
from django.urls import include, path

from tradebot import health, metrics
from tradebot.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth.LogoutView.as_view(next_page="login"), name="logout"),
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
