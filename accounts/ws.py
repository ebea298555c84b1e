"""Token authentication for WebSockets: `/ws/events/?token=<api token>`.

Browsers connect with their session (AuthMiddlewareStack in asgi.py); API clients cannot set
headers on a WebSocket from every library, so they pass their token in the query string. A token
that is present decides alone: an invalid one is anonymous even with a session cookie.
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from accounts.services import api_token_user


@database_sync_to_async
def _token_user(secret: str):
    return api_token_user(secret) or AnonymousUser()


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        tokens = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if tokens:
            scope = dict(scope, user=await _token_user(tokens[-1]))
        return await super().__call__(scope, receive, send)
