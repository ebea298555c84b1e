"""Sign-up by invitation (TRADEBOT_SIGNUP=invite): a signed, expiring link naming the email it is for.

Nothing is stored: the link's signature is the invitation. It works once in effect, as an email
address belongs to one account (ACCOUNT_UNIQUE_EMAIL).
"""

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "tradebot.accounts.invite"
SESSION_KEY = "tradebot_invite"


def invite_link(email: str) -> str:
    token = signing.TimestampSigner(salt=SALT).sign(email.strip().lower())
    return f"{reverse('account_signup')}?{urlencode({'invite': token})}"


def invited_email(token: str) -> str | None:
    try:
        return signing.TimestampSigner(salt=SALT).unsign(token, max_age=settings.TRADEBOT_INVITE_DAYS * 86400)
    except signing.BadSignature:
        return None


def request_invited_email(request) -> str | None:
    """The email the request's invitation is for, or None. The link's token is kept in the session, as
    the sign-up form posts to the bare URL."""
    token = request.GET.get("invite")
    if token:
        request.session[SESSION_KEY] = token
    else:
        token = request.session.get(SESSION_KEY)
    return invited_email(token) if token else None
