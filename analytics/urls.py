from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("analytics/", views.overview, name="overview"),
    path("analytics/drift/<int:bot_pk>/", views.drift_backtest, name="drift_backtest"),
]
