from django.urls import path

from bots.consumers import DashboardConsumer

websocket_urlpatterns: list = []
websocket_urlpatterns.append(path("ws/dashboard/", DashboardConsumer.as_asgi()))
