"""The address of the person behind a request, for the records that keep it (signatures,
approvals, the sign-in lockout and the password-reset throttles).

Behind a reverse proxy REMOTE_ADDR is the proxy's address, and the client's is in
X-Forwarded-For, which anyone can also send. The header is believed only as far as it was
written by a proxy in settings.TRUSTED_PROXIES: read from the right, each hop added by a trusted
proxy is skipped, and the first address a trusted proxy vouches for that is not itself a proxy is
the client.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(proxies) -> tuple[Network, ...]:
    """The networks of ``proxies`` (IPs or CIDRs); a bad entry raises ValueError."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return trusted_networks(proxies)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's IP address: REMOTE_ADDR, or, when that is a trusted proxy, the right-most
    address in X-Forwarded-For that is not a trusted proxy."""
    remote = request.META.get("REMOTE_ADDR") or None
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or remote is None:
        return remote

    def trusted(address) -> bool:
        return address is not None and any(address in network for network in networks)

    client = _address(remote)
    if not trusted(client):
        return remote
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:
            break  # garbage: nothing to its left was written by our proxy
        client = address
        if not trusted(address):
            break
    return str(client)
