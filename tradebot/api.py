"""The JSON API's root: authentication, rate limiting, the error format, and every app's router.

Errors are one of:
- 401 {"detail": "Unauthorized"}: no valid session or bearer token;
- 403 {"detail": ...}: a session request that changes something without its CSRF token;
- 404 {"detail": ...}: no such object, or another user's;
- 409 {"detail": reason}: a change impossible in the current state;
- 422 {"detail": [{"field": "indicators.MACD.slow", "message": ...}, ...]}: every failing field;
- 429 with Retry-After: over TRADEBOT_API_RATE;
- 413 {"detail": ...}: a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE;
- 429 {"detail": ...} also when a per-user cap is reached (backtests queued or running);
- 500 {"detail": ...}: an unexpected error (logged; nothing of it is shown);
- 502 {"detail": ...}: the broker or market data provider failed (try again later).
"""

import json
import logging
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, IntegrityError
from django.http import JsonResponse
from django.shortcuts import render
from ninja import NinjaAPI, Swagger
from ninja.errors import HttpError
from ninja.errors import ValidationError as RequestInvalid

from accounts.auth import API_AUTH, authenticated_user
from accounts.throttle import UserRateThrottle
from bots.api import router as bots_router
from brokers.base import BrokerError
from engine.config import config_errors
from market.api import router as market_router
from positions.api import router as positions_router
from tradebot.errors import Conflict, Invalid, LimitReached
from trades.api import router as trades_router

logger = logging.getLogger(__name__)


def _docs_need_auth(view):
    """The schema and the docs answer only to the API's own callers, like every endpoint."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if authenticated_user(request) is None:
            return JsonResponse({"detail": "Unauthorized"}, status=401)
        return view(request, *args, **kwargs)

    return guarded


class VendoredSwagger(Swagger):
    """Swagger UI served from static/vendor (npm swagger-ui-dist, pinned), never from a CDN: the docs
    work offline and behind a strict network."""

    def render_page(self, request, api, **kwargs):
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {"swagger_settings": json.dumps(self.settings), "api": api}
        return render(request, "api/docs.html", context)


ERROR = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
FIELD_ERRORS = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        }
    },
    "required": ["detail"],
}
# Operations that reach a broker or a market data provider, which may fail.
UPSTREAM = ("/market-status", "/market-data/{symbol}", "/positions/{id}/close", "/reconcile", "/mismatches/{id}/fix")


class TradebotAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs):
        """The error responses every client must handle, documented on each operation they can come from
        (ninja documents only the successes)."""
        schema = super().get_openapi_schema(**kwargs)
        schema["components"]["schemas"].update({"Error": ERROR, "FieldErrors": FIELD_ERRORS})
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                for status, description, body in _errors(path, method, operation):
                    ref = {"$ref": f"#/components/schemas/{body}"}
                    response = {"description": description, "content": {"application/json": {"schema": ref}}}
                    operation["responses"].setdefault(status, response)
        return schema


def _errors(path: str, method: str, operation: dict):
    params = {p["name"] for p in operation.get("parameters", ())}
    yield 401, "No valid session or bearer token", "Error"
    if "{" in path or "broker_account_id" in params:
        yield 404, "No such object, or another user's", "Error"
    if method in ("post", "put", "delete"):
        yield 403, "A session request without its CSRF token (X-CSRFToken)", "Error"
        yield 409, "Impossible in the current state", "Error"
    yield 422, "Invalid input: every failing field with its reason", "FieldErrors"
    yield 429, "Over the rate limit: retry after Retry-After seconds", "Error"
    if path.endswith(UPSTREAM):
        yield 502, "The broker or the market data provider failed", "Error"


api = TradebotAPI(
    title="Tradebot API",
    version="1",
    description=__doc__,
    auth=API_AUTH,
    throttle=[UserRateThrottle()],
    docs=VendoredSwagger(),
    docs_decorator=_docs_need_auth,
    urls_namespace="api",
)
for router in (bots_router, trades_router, positions_router, market_router):
    api.add_router("", router)
api.add_router("", "backtests.api.router")


@api.exception_handler(Conflict)
def conflict(request, exc: Conflict):
    return api.create_response(request, {"detail": str(exc)}, status=409)


@api.exception_handler(IntegrityError)
def integrity_error(request, exc: IntegrityError):
    # A concurrent request won a race the service's checks could not see (two bots created with one name).
    return api.create_response(request, {"detail": "conflicts with a concurrent change; retry"}, status=409)


@api.exception_handler(DataError)
def data_error(request, exc: DataError):
    # The last line of defence for a value the schemas let through but the database refuses (a number
    # out of its range, a character it cannot store): the client's input, so a 422, and logged.
    logger.warning("database refused the input of %s %s: %s", request.method, request.path, exc)
    detail = [{"field": "__all__", "message": "a value is out of range or contains characters that cannot be stored"}]
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(Invalid)
def invalid(request, exc: Invalid):
    return api.create_response(request, {"detail": exc.errors}, status=422)


class _Errors:
    """ninja's errors in the shape config_errors() reads, so the API and the forms word them alike."""

    def __init__(self, errors: list[dict]):
        self._errors = errors

    def errors(self) -> list[dict]:
        return self._errors


@api.exception_handler(RequestInvalid)
def request_invalid(request, exc: RequestInvalid):
    # ninja locates an error as (source, [body parameter name,] *path): the client knows only the path.
    errors = []
    for error in exc.errors:
        source, *path = error["loc"]
        if source == "body" and path:
            path = path[1:]
        errors.append({**error, "loc": tuple(path)})
    return api.create_response(request, {"detail": config_errors(_Errors(errors))}, status=422)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    if exc.status_code == 400:  # ninja's only 400: a body that is not JSON
        return api.create_response(request, {"detail": [{"field": "body", "message": "is not valid JSON"}]}, status=422)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(LimitReached)
def limit_reached(request, exc: LimitReached):
    return api.create_response(request, {"detail": str(exc)}, status=429)


@api.exception_handler(RequestDataTooBig)
def body_too_big(request, exc: RequestDataTooBig):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return api.create_response(request, {"detail": f"the request body is larger than {limit} bytes"}, status=413)


@api.exception_handler(Exception)
def unexpected(request, exc: Exception):
    # Logged with its traceback for the operator; the client learns only that it failed, in the API's shape.
    logger.exception("unexpected error in %s %s", request.method, request.path)
    return api.create_response(request, {"detail": "internal error: it has been logged"}, status=500)


@api.exception_handler(BrokerError)
def broker_error(request, exc: BrokerError):
    return api.create_response(request, {"detail": f"the broker or market data provider failed: {exc}"}, status=502)
