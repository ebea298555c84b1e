"""Issuing, revoking and checking API tokens (the admin, the command, the API and the WebSocket all call these)."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.audit.models import AuditEntry
from accounts.audit.services import audit_record
from accounts.models import ApiToken
from tradebot.events import close_sockets

TOKEN_PREFIX = "tb_"
# last_used_at is for people ("is this token still in use?"): a write per request would cost more than it tells.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_issue(*, token: ApiToken) -> str:
    """Give an unsaved token a fresh secret and save it; returns the secret, which is never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token.token_hash = hash_secret(secret)
    token.prefix = secret[: len(TOKEN_PREFIX) + 6]
    token.save()
    audit_record(action=AuditEntry.Action.TOKEN_ADDED, target=token, owner_id=token.user_id)
    return secret


def api_token_create(*, user, name: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    token = ApiToken(user=user, name=name, expires_at=expires_at)
    return token, api_token_issue(token=token)


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke the token; sockets opened with it close at once (they would otherwise keep receiving)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(action=AuditEntry.Action.TOKEN_REVOKED, target=token, owner_id=token.user_id)
        close_sockets(token.user_id, token_id=token.pk)
    return token


def api_token_lookup(secret: str) -> ApiToken | None:
    """The active token a secret is, with its active user, or None (unknown, revoked, expired, or an
    inactive user)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.active().select_related("user").filter(token_hash=hash_secret(secret)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def api_token_user(secret: str):
    """The active user a token secret belongs to, or None."""
    token = api_token_lookup(secret)
    return token.user if token else None
