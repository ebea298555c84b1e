from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("bots.urls")),
    path("", include("trades.urls")),
    path("", include("positions.urls")),
]
