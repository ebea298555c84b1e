"""Token authentication for WebSockets: `/ws/events/?token=<api token>`.

Browsers connect with their session (AuthMiddlewareStack in asgi.py); API clients cannot set
headers on a WebSocket from every library, so they pass their token in the query string. A token
that is present decides alone: an invalid one is anonymous even with a session cookie.
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from accounts.services import api_token_lookup


@database_sync_to_async
def _token(secret: str):
    return api_token_lookup(secret)


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        tokens = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if tokens:
            token = await _token(tokens[-1])
            # The token's id lets a revocation close exactly the sockets opened with it.
            user = token.user if token else AnonymousUser()
            scope = dict(scope, user=user, api_token_id=token.pk if token else None)
        return await super().__call__(scope, receive, send)
