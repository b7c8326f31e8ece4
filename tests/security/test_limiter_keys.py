"""
What the rate limiter keys on (SECURITY.md #21, #22; django-allauth 65.14.2 spoofed
X-Forwarded-For, 0.51.0 reset limit bypassed by email case): a client cannot get a new
IP bucket from headers it makes up, and spellings of one address share one account bucket.
"""

from __future__ import annotations

import httpx
import pytest

from authkit import AuthKit
from authkit.flows.admin import create_user

from ..conftest import KitFactory
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, sign_in

pytestmark = pytest.mark.anyio

SPOOFED_HEADERS = [
    "x-real-ip",
    "x-forwarded-for",
    "forwarded",
    "true-client-ip",
    "cf-connecting-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
]


def _client(kit: AuthKit, headers: dict[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)),
        base_url="http://testserver",
        headers=headers,
    )


@pytest.mark.parametrize("header", SPOOFED_HEADERS)
async def test_made_up_client_ip_headers_share_one_ip_bucket(
    make_kit: KitFactory, header: str
) -> None:
    """Spoofed client-IP headers (#21): with no trusted proxy, each guess counts for the peer."""
    kit = make_kit(rate_limits={"sign_in:ip": "3/minute"})
    statuses = []
    try:
        for n in range(4):
            value = f"for=203.0.113.{n}" if header == "forwarded" else f"203.0.113.{n}"
            async with _client(kit, {header: value}) as c:
                r = await sign_in(c, f"user{n}@example.com", "some wrong guess")
                statuses.append(r.status_code)
    finally:
        await kit.aclose()
    assert statuses == [422, 422, 422, 429], statuses


async def test_only_x_forwarded_for_from_a_trusted_proxy_is_believed(
    make_kit: KitFactory,
) -> None:
    """Spoofed client-IP headers (#21): a trusted proxy's XFF counts, other headers never do."""
    kit = make_kit(rate_limits={"sign_in:ip": "2/minute"}, trusted_proxies="127.0.0.1")
    statuses = []
    try:
        for n in range(3):
            headers = {name: f"203.0.113.{n}" for name in SPOOFED_HEADERS if name != "forwarded"}
            headers["x-forwarded-for"] = "198.51.100.7"  # the one address the proxy saw
            async with _client(kit, headers) as c:
                statuses.append((await sign_in(c, f"u{n}@example.com", "guess")).status_code)
    finally:
        await kit.aclose()
    assert statuses == [422, 422, 429], statuses


@pytest.mark.parametrize(
    "spellings",
    [
        ["victim@example.com", "VICTIM@example.com", "Victim@Example.COM"],
        [" victim@example.com", "victim@example.com ", "\tvictim@EXAMPLE.com"],
    ],
    ids=["case", "whitespace"],
)
async def test_spellings_of_one_address_share_the_account_bucket(
    client: httpx.AsyncClient, kit: AuthKit, spellings: list[str]
) -> None:
    """Account keying (#22): case and whitespace variants count against one account."""
    await kit.ensure_started()
    await create_user(kit.services, email="victim@example.com", password=PASSWORD)
    statuses = []
    for n in range(6):
        email = spellings[n % len(spellings)]
        statuses.append((await sign_in(client, email, f"wrong guess {n}")).status_code)
    assert statuses == [422] * 5 + [429], statuses
    # Even the right password, in yet another spelling, now waits.
    assert (await sign_in(client, "VICTIM@EXAMPLE.COM")).status_code == 429


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("::ffff:198.51.100.7", "198.51.100.7", True),
        ("198.51.100.7", "198.51.100.8", False),
    ],
)
def test_ipv6_clients_are_counted_per_64(first: str, second: str, same: bool) -> None:
    """#21 (Better Auth CVE-2026-45364): one IPv6 /64 is one bucket; IPv4 per address."""
    from authkit.security.ratelimit import ip_bucket

    assert (ip_bucket(first) == ip_bucket(second)) is same


async def test_rotating_ipv6_addresses_in_one_prefix_share_the_limit(make_kit: KitFactory) -> None:
    """An attacker hopping through addresses of their /64 meets the same per-IP limit."""
    kit = make_kit(rate_limits={"sign_in:ip": "3/minute"}, trusted_proxies="127.0.0.1")
    statuses = []
    for n in range(4):
        async with _client(kit, {"x-forwarded-for": f"2001:db8:aa:bb::{n + 1:x}"}) as c:
            statuses.append((await sign_in(c, f"user{n}@example.com", "guess")).status_code)
    await kit.aclose()
    assert statuses == [422, 422, 422, 429]
