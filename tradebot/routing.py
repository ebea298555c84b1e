from django.urls import path

from tradebot.accounts.ws import TokenAuthMiddleware
from tradebot.consumers import EventsConsumer

websocket_urlpatterns = [
    path("ws/events/", TokenAuthMiddleware(EventsConsumer.as_asgi())),
]
