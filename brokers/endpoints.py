"""Which URLs the server may call for a broker account: Alpaca's own hosts over https, the operator's
configured endpoints, and whatever TRADEBOT_ALPACA_ALLOWED_HOSTS lists (stand-ins, proxies).

A URL a user types is a request the server makes on their behalf: without this, any account could
make the server fetch an address on its own network and read the answer back. So a host must be
allowed by name, and a name must not resolve into loopback, private or link-local networks unless
the operator listed that host or network.
"""

import ipaddress
import socket
import time
from urllib.parse import urlsplit

from django.conf import settings

ALPACA_DOMAIN = "alpaca.markets"
# Resolving a name per client would double the DNS lookups of every tick: answers are kept a minute.
RESOLVE_TTL_SECONDS = 60
_resolved: dict[str, tuple[float, list]] = {}


class EndpointRefused(ValueError):
    """The URL is not one the server may call; the message says why, in words for the account's owner."""


class EndpointUnresolved(EndpointRefused):
    """The host name does not resolve (now): refused when saved, a transient failure when called."""


def _listed() -> list[str]:
    return [entry.strip().lower() for entry in settings.TRADEBOT_ALPACA_ALLOWED_HOSTS if entry.strip()]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _configured_origins() -> set[tuple]:
    """The operator's own endpoints (ALPACA_*_URL settings) are trusted as they are, scheme and port included."""
    urls = (settings.ALPACA_BASE_URL, settings.ALPACA_LIVE_BASE_URL, settings.ALPACA_DATA_URL)
    return {_origin(url) for url in urls if url}


def _is_alpaca(host: str) -> bool:
    return host == ALPACA_DOMAIN or host.endswith("." + ALPACA_DOMAIN)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _listed_network(address) -> bool:
    for entry in _listed():
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a host name, not a network
    return False


def is_internal(address) -> bool:
    """Anything but a public unicast address: loopback, private, link-local, shared, reserved..."""
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def resolved_addresses(host: str) -> list:
    """The host's addresses, resolved at most once a minute; EndpointUnresolved when it has none."""
    cached = _resolved.get(host)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        raise EndpointUnresolved(f"{host} does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    _resolved[host] = (time.monotonic() + RESOLVE_TTL_SECONDS, addresses)
    return addresses


def check_endpoint(url: str) -> None:
    """Raise EndpointRefused unless the server may call `url`."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (a malformed port raises here)
    except ValueError:
        raise EndpointRefused("is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise EndpointRefused("must be an https URL")
    if parts.username or parts.password:
        raise EndpointRefused("must not carry a user name or password")
    literal = _address(host)
    if host in _listed() or _origin(url) in _configured_origins() or (literal is not None and _listed_network(literal)):
        return
    if not _is_alpaca(host):
        raise EndpointRefused(
            f"{host} is not an Alpaca host; the operator can allow it with TRADEBOT_ALPACA_ALLOWED_HOSTS"
        )
    if parts.scheme != "https":
        raise EndpointRefused("must be an https URL")
    for address in resolved_addresses(host):
        if is_internal(address) and not _listed_network(address):
            raise EndpointRefused(f"{host} resolves to an internal address; the operator must list it to allow it")
