"""Encryption at rest for broker secrets (Fernet, keyed from TRADEBOT_ENCRYPTION_KEY).

The setting holds one or more comma-separated keys: the first encrypts, every one decrypts,
so keys can be rotated. Any passphrase works; it is stretched to a Fernet key with SHA-256.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


@cache
def _cipher(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(k.strip())) for k in keys.split(",") if k.strip()])


class Undecryptable(ValueError):
    """No configured key decrypts the token: TRADEBOT_ENCRYPTION_KEY changed without keeping the old key."""


def encrypt(plaintext: str) -> str:
    return _cipher(settings.TRADEBOT_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _cipher(settings.TRADEBOT_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise Undecryptable("Stored secret cannot be decrypted: TRADEBOT_ENCRYPTION_KEY has changed") from exc
