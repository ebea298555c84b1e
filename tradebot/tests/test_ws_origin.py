"""Which pages may open a socket: the whole origin counts, the port included."""

import pytest

from tradebot.ws_origin import origin_allowed


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "localhost:8000", True),  # an API client: no Origin, a token
        ("http://localhost:8000", "localhost:8000", True),
        ("https://localhost:8000", "localhost:8000", True),
        ("http://localhost:3000", "localhost:8000", False),  # another app on the same host
        ("http://localhost", "localhost:8000", False),
        ("http://localhost:8000", "localhost", False),
        ("https://evil.example", "localhost", False),
        ("http://evil.example", "evil.example", False),  # not an allowed host
        ("null", "localhost", False),  # a sandboxed page or a file
        ("http://localhost:8000", None, False),
    ],
)
def test_origin_must_be_the_sites_own(origin, host, allowed):
    assert origin_allowed(origin, host) is allowed


def test_a_trusted_origin_behind_a_proxy_is_allowed(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://trade.example.com"]
    assert origin_allowed("https://trade.example.com", "127.0.0.1:8000")
    assert not origin_allowed("https://trade.example.com:8443", "127.0.0.1:8000")


def test_testserver_is_not_a_default_host():
    from tradebot import settings as project_settings

    assert "testserver" not in project_settings.ALLOWED_HOSTS
