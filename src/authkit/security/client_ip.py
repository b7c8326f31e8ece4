"""
The client's IP address for rate limits and the audit log. `X-Forwarded-For` is believed
only when the direct peer is a configured trusted proxy, and then read from the right,
skipping our own proxies: a client cannot pick its own IP by sending the header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["TrustedProxies"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    def __init__(self, spec: Iterable[str]) -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip()
        )

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_ip(self, peer: str, forwarded_for: str | None) -> str:
        """The address of the first untrusted hop, counting back from `peer`."""
        if not self.networks or not forwarded_for or not self._is_trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",")[-20:]]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer  # garbage in the header: fall back to the proxy itself
        return peer
