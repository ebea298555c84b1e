"""Writing the trail. The services that change things call `audit_record`; who acted and from where
come from the context the request (tradebot.logs.RequestContextMiddleware, the API's token check) bound:
no caller passes a request through."""

import logging

from django.contrib.auth import get_user_model
from structlog.contextvars import get_contextvars

from accounts.audit.models import AuditEntry

logger = logging.getLogger(__name__)


def audit_record(
    *, action: str, target, owner_id: int | None, bot_id: int | None = None, details: dict | None = None
) -> AuditEntry | None:
    """One entry for `action` on `target` (a model instance). Never raises into the change it records."""
    context = get_contextvars()
    actor_id = context.get("user_id")
    try:
        actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
        return AuditEntry.objects.create(
            actor=actor,
            actor_name=actor.get_username() if actor else "",
            owner_id=owner_id,
            action=action,
            target_type=target._meta.model_name,
            target_id=target.pk,
            target_name=str(getattr(target, "name", "") or target)[:200],
            bot_id=bot_id,
            via=context.get("via", AuditEntry.Via.SYSTEM),
            ip=context.get("ip") or None,
            request_id=context.get("request_id", ""),
            details=details or {},
        )
    except Exception:
        logger.exception("could not record %s in the audit trail", action)
        return None
