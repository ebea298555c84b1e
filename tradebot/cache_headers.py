"""Answers about a person's money are never stored by a browser or a proxy: every authenticated page and
every API answer is no-store (a shared computer's back button, a caching proxy)."""

from django.utils.cache import add_never_cache_headers

from tradebot.http_errors import API_PREFIX


class NoStoreWhenAuthenticated:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.path.startswith(API_PREFIX) or (user is not None and user.is_authenticated):
            add_never_cache_headers(response)
        return response
