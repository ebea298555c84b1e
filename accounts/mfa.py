"""Two-factor authentication as the rest of the app asks about it: real money needs it."""

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled

from tradebot.errors import Conflict

MFA_REQUIRED = (
    "trading real money needs two-factor authentication: turn it on first (Settings, Two-factor authentication)"
)


def has_mfa(user) -> bool:
    return is_mfa_enabled(user, types=[Authenticator.Type.TOTP])


def require_mfa(user) -> None:
    if not has_mfa(user):
        raise Conflict(MFA_REQUIRED)
