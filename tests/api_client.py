"""Test helpers: an API client that authenticates like a real one (a bearer token issued by the service)."""

from ninja.testing import TestClient

from accounts.services import api_token_create


def api_client(user) -> TestClient:
    """ninja's TestClient over the whole API (auth, rate limiting and error mapping live on the root,
    which a client over one router would skip), calling as `user`."""
    from tradebot.api import api

    _, secret = api_token_create(user=user, name="test")
    return TestClient(api, headers={"Authorization": f"Bearer {secret}"})
