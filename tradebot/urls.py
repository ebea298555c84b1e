from django.contrib import admin
from django.urls import include, path

from tradebot import health
from tradebot.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health.health, name="health"),
    path("api/", api.urls),
    path("", include("bots.urls")),
    path("", include("trades.urls")),
    path("", include("positions.urls")),
]
