from django.urls import path

from backtests import views

app_name = "backtests"

urlpatterns = [
    path("backtests/", views.backtest_list, name="list"),
    path("backtests/new/", views.backtest_new, name="new"),
    path("backtests/compare/", views.backtest_compare, name="compare"),
    path("backtests/<int:pk>/", views.backtest_detail, name="detail"),
]
