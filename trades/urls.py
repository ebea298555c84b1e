from django.urls import path

from trades import views

app_name = "trades"

urlpatterns = [
    path("trades/", views.trade_list, name="list"),
    path("trades/export.csv", views.trade_export, name="export"),
    path("trades/<int:pk>/", views.trade_detail, name="detail"),
]
