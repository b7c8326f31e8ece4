"""
Links in emails are built from the configured base URL, never from the request
(SECURITY.md ★#29; Better Auth GHSA-569q-mpph-wgww, OWASP Forgot Password "never build the
link from the Host header"): a forged Host, X-Forwarded-Host or Forwarded header cannot
point a reset or sign-in link at another site, even behind a trusted proxy.
"""

from __future__ import annotations

import re

import httpx
import pytest

from authkit import AuthKit
from authkit.flows.admin import create_user

from ..conftest import KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, form_token

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
BASE = "https://app.example"
FORGED = [
    {"host": "evil.example"},
    {"x-forwarded-host": "evil.example"},
    {"x-forwarded-host": "evil.example", "x-forwarded-proto": "http"},
    {"forwarded": "host=evil.example;proto=http"},
    {"x-host": "evil.example", "x-original-host": "evil.example"},
    {"host": "app.example.evil.example"},
]
URL = re.compile(r"https?://[^\s\"'<>]+")


async def _mails_for(
    kit: AuthKit, mailbox: Mailbox, path: str, data: dict[str, str], headers: dict[str, str]
) -> list[str]:
    transport = httpx.ASGITransport(app=make_host_app(kit))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        token = await form_token(c, path)
        before = len(mailbox.messages)
        r = await c.post(path, data={"csrf_token": token, **data}, headers=headers)
        assert r.status_code == 303, r.text
    await kit.services.mailer.drain()
    sent = mailbox.messages[before:]
    assert sent, "a mail was expected"
    bodies = []
    for message in sent:
        for part in message.walk():
            if part.get_content_maintype() == "text":
                bodies.append(str(part.get_content()))
    return bodies


@pytest.mark.parametrize("trusted", [False, True], ids=["direct", "behind-proxy"])
@pytest.mark.parametrize("headers", FORGED, ids=[",".join(h) for h in FORGED])
async def test_mailed_links_use_the_configured_base_url(
    make_kit: KitFactory, mailbox: Mailbox, headers: dict[str, str], trusted: bool
) -> None:
    """Host header poisoning (#29): reset and sign-in links point at the base URL only."""
    kit = make_kit(base_url=BASE, trusted_proxies="127.0.0.1" if trusted else "")
    try:
        await kit.ensure_started()
        await create_user(kit.services, email=EMAIL, password=PASSWORD)
        bodies = await _mails_for(kit, mailbox, "/auth/forgot-password", {"email": EMAIL}, headers)
        # A sign-up with the taken address mails the owner sign-in and reset links too.
        bodies += await _mails_for(
            kit, mailbox, "/auth/sign-up", {"email": EMAIL, "password": PASSWORD}, headers
        )
    finally:
        await kit.aclose()
    links = [url for body in bodies for url in URL.findall(body)]
    assert any("/reset-password?link=1#token=" in link for link in links), links
    assert any(link.endswith("/sign-in") for link in links), links
    for body in bodies:
        assert "evil.example" not in body, body
    assert all(link.startswith(f"{BASE}/auth/") for link in links), links
