from django.urls import path

from accounts.ws import TokenAuthMiddleware
from bots.consumers import DashboardConsumer
from tradebot.consumers import EventsConsumer

websocket_urlpatterns = [
    path("ws/events/", TokenAuthMiddleware(EventsConsumer.as_asgi())),
]
websocket_urlpatterns.append(path("ws/dashboard/", DashboardConsumer.as_asgi()))
