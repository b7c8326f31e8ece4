"""
Password rules as the server applies them (SECURITY.md #10, #11, ASVS 6.2.1/6.2.5/6.2.8/
6.2.9, NIST SP 800-63B-4): no composition rules, the blocklist with a reason, long
passwords accepted and never truncated, over-long ones refused, blank ones never stored.
"""

from __future__ import annotations

import html
import re

import httpx
import pytest

from authkit import AuthKit

from ..conftest import KitFactory, Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import form_token, sign_in, sign_out, sign_up

pytestmark = pytest.mark.anyio


def field_error(page: str, name: str) -> str | None:
    match = re.search(
        rf'<p class="ak-field__error" id="ak-[a-z0-9-]+-{name}-error">(.*?)</p>', page, re.S
    )
    return html.unescape(match.group(1)) if match else None


async def post_sign_up(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    token = await form_token(client, "/auth/sign-up")
    return await client.post(
        "/auth/sign-up", data={"csrf_token": token, "email": email, "password": password}
    )


async def test_passphrase_without_composition_is_accepted(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """No composition rules (#11, ASVS 6.2.5): an all-lowercase passphrase is fine."""
    password = "correct horse battery staple"
    assert (await sign_up(client, kit, mailbox, "ada@example.com", password)).status_code == 303
    await sign_out(client)
    assert (await sign_in(client, "ada@example.com", password)).status_code == 303


@pytest.mark.parametrize(
    "password", ["manchesterunited", "1q2w3e4r5t6y7u8i", "123456789qwerty", "passwordpassword"]
)
async def test_common_password_is_refused_with_a_reason(
    client: httpx.AsyncClient, password: str
) -> None:
    """Blocklist (#11, #12, NIST SHALL): a common password, a keyboard run or a repeat is
    refused by zxcvbn's estimate, saying why in its advice."""
    r = await post_sign_up(client, "ada@example.com", password)
    assert r.status_code == 422, r.text
    message = field_error(r.text, "password")
    assert message and message.startswith("This password is too easy to guess. "), message
    assert len(message) > len("This password is too easy to guess. ") + 10, message


async def test_the_sites_name_is_refused_as_a_password(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    """Context words (#12, ASVS 6.2.11): the app's name is refused as the whole password."""
    kit = make_kit(app_name="Shopfront Online")
    transport = httpx.ASGITransport(app=make_host_app(kit))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await post_sign_up(c, "ada@example.com", "SHOPFRONT online")
    finally:
        await kit.aclose()
    assert r.status_code == 422, r.text
    message = field_error(r.text, "password")
    assert message and "common" in message.lower(), message


@pytest.mark.parametrize("length", [64, 256])
async def test_long_passwords_are_accepted_and_never_truncated(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, length: int
) -> None:
    """Length (#10, ASVS 6.2.8/6.2.9): 64 and 256 characters work; a shorter prefix does not."""
    password = ("long passphrase " * 20)[: length - 1] + "!"
    assert len(password) == length
    email = f"len{length}@example.com"
    assert (await sign_up(client, kit, mailbox, email, password)).status_code == 303
    await sign_out(client)
    assert (await sign_in(client, email, password[:-1])).status_code == 422
    assert (await sign_in(client, email, password + "x")).status_code == 422
    assert (await sign_in(client, email, password)).status_code == 303


async def test_password_over_the_maximum_is_refused_not_truncated(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """Length (#10): one character past the maximum is "too long", never cut to fit."""
    password = "x" * (kit.settings.password_max_length + 1)
    r = await post_sign_up(client, "ada@example.com", password)
    assert r.status_code == 422, r.text
    message = field_error(r.text, "password") or ""
    assert "at most" in message or "long" in message, message


@pytest.mark.parametrize(
    "blank",
    [" " * 16, "\t" * 16, "\u3000" * 16, "\u00a0" * 16, " \t \n " * 4],
    ids=["spaces", "tabs", "ideographic-spaces", "nbsp", "mixed"],
)
async def test_blank_password_is_never_stored(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, blank: str
) -> None:
    """Blank password (#10, django-allauth 65.11.1): whitespace only is refused like empty."""
    r = await post_sign_up(client, "blank@example.com", blank)
    assert r.status_code == 422, (r.status_code, r.headers.get("location"))
    assert field_error(r.text, "password"), r.text
    await kit.services.mailer.drain()
    assert mailbox.to("blank@example.com") == []


async def test_a_password_only_account_needs_15_characters_by_default(
    client: httpx.AsyncClient,
) -> None:
    """#10, NIST 800-63B-4: 15 is the default minimum while the password is the only
    factor; 14 characters are refused with the reason, 15 are accepted."""
    r = await post_sign_up(client, "ada@example.com", "fourteen chars")
    assert r.status_code == 422, r.text
    assert field_error(r.text, "password") == "Use at least 15 characters."
    r = await post_sign_up(client, "ada@example.com", "fifteen chars!!")
    assert r.status_code == 303, r.text
