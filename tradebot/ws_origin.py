"""Which pages may open a WebSocket: the site's own, judged by its whole origin (scheme, host and port).

Browsers always send Origin, so a socket from another site's page (or another port on the same host,
another app) is refused before it authenticates with the cookie it carries. API clients send no
Origin and authenticate with a token: they connect. The rule is Django's CSRF origin check: the
Origin's host and port are the Host the socket was opened on (itself an allowed host), or the origin
is listed in CSRF_TRUSTED_ORIGINS (a proxy that rewrites Host).
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def origin_allowed(origin: str | None, host: str | None) -> bool:
    if origin is None:
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not host:
        return False
    domain, _ = split_domain_port(host)
    return parts.netloc == host and validate_host(domain, settings.ALLOWED_HOSTS)


class SameOriginOnly:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", ()))
        origin, host = headers.get(b"origin"), headers.get(b"host")
        if origin_allowed(origin and origin.decode("latin-1"), host and host.decode("latin-1")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
