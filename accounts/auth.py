"""Who is calling the JSON API: a bearer token, or the browser's session.

The token comes first. A browser never attaches an Authorization header by itself, so a token
request cannot be forged cross-site and needs no CSRF check. A session cookie is attached
automatically, so a session request that changes something must carry the CSRF token
(X-CSRFToken header), exactly like a Django form post.
"""

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from accounts.services import api_token_user
from tradebot.logs import bind_user


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        user = api_token_user(token)
        if user is not None:
            # Code that reads request.user (the throttle, logging) sees the token's user too.
            request.user = user
            bind_user(user.pk, via="api")
        return user


class Session(APIKeyCookie):
    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest):
        # Unlike ninja's SessionAuth, the CSRF check runs only for a logged-in session: an anonymous
        # request is a 401, not a misleading CSRF 403.
        user = request.user
        if not user.is_authenticated:
            return None
        if check_csrf(request):
            raise HttpError(403, "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header")
        return user

    def authenticate(self, request: HttpRequest, key: str | None):  # required by the base; __call__ decides
        return None


API_AUTH = [BearerToken(), Session()]


def authenticated_user(request: HttpRequest):
    """The caller of a plain Django view (the API docs) by the API's rules, or None."""
    for auth in API_AUTH:
        try:
            user = auth(request)
        except HttpError:
            return None
        if user:
            return user
    return None
