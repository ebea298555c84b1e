"""Structured logs: one line per event, as JSON (LOG_FORMAT=json, the default with REDIS_URL) or
readable key=value text (console, the default on the embedded run), with the ids of what it is about.

Every logger goes through the same formatter: ours log with structlog (`structlog.get_logger`, keyword
fields), Django's, Celery's and the libraries' through the standard library. Each line carries the
context bound for the unit of work it belongs to (contextvars): a request's request_id, user_id, ip
and via (page, api, admin), set by RequestContextMiddleware; a Celery task's task_id and task; a
tick's bot_id. Fields whose names say secret (keys, passwords, tokens) are masked whatever logs them.
"""

import re
import uuid

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars

REDACTED = "[redacted]"
SECRET_FIELD = re.compile(r"secret|passw|token|api_?key|authorization|cookie|credential", re.IGNORECASE)
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
REQUEST_ID_HEADER = "X-Request-ID"


def redact_secrets(logger, method_name: str, event_dict: dict) -> dict:
    for key in event_dict:
        if SECRET_FIELD.search(key):
            event_dict[key] = REDACTED
    return event_dict


# Run on every record, ours and the standard library's, before it is rendered.
SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    redact_secrets,
]


def formatter(log_format: str) -> structlog.stdlib.ProcessorFormatter:
    # JSON carries a traceback as one string field; the console renderer prints it as it is.
    render = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if log_format == "json"
        else [structlog.dev.ConsoleRenderer(colors=False, sort_keys=False)]
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*SHARED_PROCESSORS, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
    )


def logging_config(log_format: str, level: str) -> dict:
    """Django's LOGGING; Celery's worker and beat keep it (tradebot.celery)."""
    if log_format not in ("json", "console"):
        raise ValueError(f"LOG_FORMAT must be json or console, not {log_format!r}")
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": formatter, "log_format": log_format}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "INFO"}},
    }


def _via(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    return "admin" if path.startswith("/admin/") else "page"


class RequestContextMiddleware:
    """Binds the request's ids for every line logged while it is served, and answers its request id in
    X-Request-ID: the caller's own (when it sent a plausible one) or a new one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        clear_contextvars()
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        bind_contextvars(request_id=request_id, ip=request.META.get("REMOTE_ADDR", ""), via=_via(request.path))
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            bind_contextvars(user_id=user.pk)
        try:
            response = self.get_response(request)
        finally:
            clear_contextvars()
        response[REQUEST_ID_HEADER] = request_id
        return response


def bind_user(user_id: int, *, via: str) -> None:
    """For callers known only after the middleware ran (an API token)."""
    bind_contextvars(user_id=user_id, via=via)


def task_started(task_id: str, task_name: str) -> None:
    clear_contextvars()
    bind_contextvars(task_id=task_id, task=task_name)


def task_finished() -> None:
    clear_contextvars()
