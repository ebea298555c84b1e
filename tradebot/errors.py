"""Domain errors raised by services; the API maps them to status codes, views to form errors."""


class Conflict(Exception):
    """The request is understood but impossible in the current state (HTTP 409)."""


class Invalid(Exception):
    """Input failed validation (HTTP 422). `errors` is [{"field": "a.b", "message": "..."}]."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


class BrokerAccountUnusable(Conflict):
    """A broker account that cannot be used as it is configured until its owner fixes it (HTTP 409):
    its bots hold their entries instead of failing tick after tick."""


class BrokerKeysUnreadable(BrokerAccountUnusable):
    """The account's stored keys no longer decrypt (TRADEBOT_ENCRYPTION_KEY changed): enter them again."""


class LimitReached(Exception):
    """A per-user cap is reached (HTTP 429): the message says which, and what frees it."""
