"""Brute force, credential stuffing and mail bombing meet rate limits: per IP and per
account, in memory or shared through Redis, with a 429 that says when to try again."""

from __future__ import annotations

import secrets

import httpx
import pytest

from authkit import AuthKit

from ..conftest import REDIS_URL, KitFactory, Mailbox, needs_redis
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, form_token, sign_in, sign_out, sign_up

pytestmark = pytest.mark.anyio


def _client(kit: AuthKit, ip: str | None = None) -> httpx.AsyncClient:
    headers = {"x-forwarded-for": ip} if ip else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)),
        base_url="http://testserver",
        headers=headers,
    )


async def test_password_guessing_on_one_account_is_throttled(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """After 5 wrong passwords even the right one waits; the 429 says how long."""
    await sign_up(client, kit, mailbox, "victim@example.com")
    await sign_out(client)
    for _ in range(5):
        r = await sign_in(client, "victim@example.com", "wrong guess number")
        assert r.status_code == 422, r.text
    r = await sign_in(client, "victim@example.com")
    assert r.status_code == 429, r.text
    assert "Too many attempts. Try again in" in r.text
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert 'value="victim@example.com"' in r.text
    assert "__session" not in r.headers.get("set-cookie", "")


async def test_throttle_looks_the_same_for_unknown_accounts(
    client: httpx.AsyncClient,
) -> None:
    """An address without an account is throttled exactly like one with: no enumeration."""
    statuses = [(await sign_in(client, "ghost@example.com", "guess")).status_code for _ in range(6)]
    assert statuses == [422] * 5 + [429]


async def test_success_resets_the_account_count(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """The owner signing in clears earlier failures, so typos never add up to a block."""
    await sign_up(client, kit, mailbox, "typo@example.com")
    await sign_out(client)
    for _ in range(4):
        assert (await sign_in(client, "typo@example.com", "typo typo")).status_code == 422
    assert (await sign_in(client, "typo@example.com")).status_code == 303
    await sign_out(client)
    for _ in range(4):
        assert (await sign_in(client, "typo@example.com", "typo typo")).status_code == 422
    assert (await sign_in(client, "typo@example.com")).status_code == 303


async def test_one_ip_cannot_stuff_credentials_across_accounts(make_kit: KitFactory) -> None:
    """The per-IP limit stops one address trying many accounts."""
    kit = make_kit(rate_limits={"sign_in:ip": "3/minute"})
    async with _client(kit) as c:
        statuses = [
            (await sign_in(c, f"user{n}@example.com", "guess")).status_code for n in range(4)
        ]
    assert statuses == [422, 422, 422, 429]


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    make_kit: KitFactory,
) -> None:
    """A client cannot dodge the IP limit by inventing X-Forwarded-For addresses."""
    kit = make_kit(rate_limits={"sign_in:ip": "2/minute"})
    statuses = []
    for n in range(3):
        async with _client(kit, ip=f"203.0.113.{n}") as c:
            statuses.append((await sign_in(c, "a@example.com", "guess")).status_code)
    assert statuses == [422, 422, 429]

    trusted = make_kit(rate_limits={"sign_in:ip": "2/minute"}, trusted_proxies="127.0.0.1")
    statuses = []
    for n in range(3):
        async with _client(trusted, ip=f"203.0.113.{n}") as c:
            statuses.append((await sign_in(c, f"b{n}@example.com", "guess")).status_code)
    assert statuses == [422, 422, 422]


async def test_sign_up_cannot_mail_bomb_one_address(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """At most 3 codes a minute go to one address, whoever asks."""
    statuses = []
    for _ in range(4):
        token = await form_token(client, "/auth/sign-up")
        r = await client.post(
            "/auth/sign-up",
            data={"csrf_token": token, "email": "bomb@example.com", "password": PASSWORD},
        )
        statuses.append(r.status_code)
    await kit.services.mailer.drain()
    assert statuses == [303, 303, 303, 429]
    assert len(mailbox.to("bomb@example.com")) == 3


async def test_counters_are_shared_through_redis(make_kit: KitFactory) -> None:
    """Two workers (two kits) on one Redis see one count."""
    needs_redis()
    email = f"shared-{secrets.token_hex(4)}@example.com"
    ip = f"198.51.100.{secrets.randbelow(250)}"
    first = make_kit(redis_url=REDIS_URL, trusted_proxies="127.0.0.1")
    second = make_kit(redis_url=REDIS_URL, trusted_proxies="127.0.0.1")
    statuses = []
    for kit in (first, second, first, second, first, second):
        async with _client(kit, ip=ip) as c:
            statuses.append((await sign_in(c, email, "guess")).status_code)
    assert statuses == [422] * 5 + [429]


async def test_redis_down_fails_closed_with_a_clear_page(make_kit: KitFactory) -> None:
    """Without its counters the kit refuses sign-in with a 503 page, no traceback."""
    kit = make_kit(redis_url="redis://127.0.0.1:1/0")
    async with _client(kit) as c:
        r = await sign_in(c, "a@example.com", "whatever password")
    assert r.status_code == 503, r.text
    assert "unavailable" in r.text
    assert "Traceback" not in r.text
    assert "__session" not in r.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ({"sign_in:ipp": "5/minute"}, "Unknown rate-limit rule"),
        ({"sign_in:ip": "lots"}, "5/minute"),
    ],
)
def test_bad_rate_limit_rules_stop_start_up(rules: dict[str, str], words: str) -> None:
    """A misspelt rule or an unreadable limit is a ConfigError, never a silent default."""
    from authkit import ConfigError

    with pytest.raises(ConfigError, match=words):
        AuthKit(secret_key="x" * 40, rate_limits=rules)
