"""Django's own error pages, answered in the API's JSON shape under /api/ (an unknown path, a request
Django refuses before the API sees it, a failure outside the API's handlers) and as pages elsewhere."""

from django.http import JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def _api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request, exception):
    if _api(request):
        return JsonResponse({"detail": "bad request"}, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request, exception):
    if _api(request):
        return JsonResponse({"detail": "Not Found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _api(request):
        return JsonResponse({"detail": "internal error: it has been logged"}, status=500)
    return defaults.server_error(request)
