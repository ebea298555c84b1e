from django.urls import path

from trades import views

app_name = "trades"

urlpatterns = [
    path("trades/", views.trade_list, name="list"),
]
