"""Account enumeration: sign-in and sign-up answer the same for addresses with and
without an account, and do the same work (one argon2 operation) on both paths."""

from __future__ import annotations

import re
from typing import Any

import argon2
import httpx
import pytest

from authkit import AuthKit

from ..conftest import Mailbox
from ..web.flow_helpers import (
    PASSWORD,
    form_token,
    sign_in,
    sign_out,
    sign_up,
    without_per_response_values,
)

pytestmark = pytest.mark.anyio


def _shape(html: str) -> str:
    """The page without what legitimately differs: CSRF token, nonce, the echoed email."""
    html = without_per_response_values(html)
    return re.sub(r"[\w.+-]+@example\.com", "EMAIL", html)


async def test_sign_in_answers_the_same_for_unknown_and_known_addresses(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Unknown address, wrong password, banned user: same status, same page."""
    from authkit.flows.admin import ban_user, create_user

    await sign_up(client, kit, mailbox, "known@example.com")
    await sign_out(client)
    banned = await create_user(kit.services, email="banned@example.com", password=PASSWORD)
    await ban_user(kit.services, banned)
    pages = [
        await sign_in(client, "known@example.com", "wrong password"),
        await sign_in(client, "unknown@example.com", "wrong password"),
        await sign_in(client, "banned@example.com", PASSWORD),
    ]
    assert {r.status_code for r in pages} == {422}
    assert len({_shape(r.text) for r in pages}) == 1


async def test_sign_in_does_one_argon2_operation_on_every_path(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown address costs one argon2 verification, exactly like a wrong password."""
    await sign_up(client, kit, mailbox, "known@example.com")
    await sign_out(client)
    calls: list[str] = []
    real_verify = argon2.PasswordHasher.verify
    real_hash = argon2.PasswordHasher.hash

    def verify(self: argon2.PasswordHasher, *args: Any, **kwargs: Any) -> Any:
        calls.append("verify")
        return real_verify(self, *args, **kwargs)

    def hash_(self: argon2.PasswordHasher, *args: Any, **kwargs: Any) -> Any:
        calls.append("hash")
        return real_hash(self, *args, **kwargs)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    monkeypatch.setattr(argon2.PasswordHasher, "hash", hash_)
    await sign_in(client, "known@example.com", "wrong password")
    known = list(calls)
    calls.clear()
    await sign_in(client, "unknown@example.com", "wrong password")
    assert known == calls == ["verify"]


async def test_sign_up_with_a_taken_address_looks_identical_and_mails_the_owner(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """A second sign-up for an address: same redirect, same code page; the owner is told."""
    await sign_up(client, kit, mailbox, "owner@example.com")
    await sign_out(client)
    responses = []
    for email in ("OWNER@example.com", "fresh@example.com"):
        token = await form_token(client, "/auth/sign-up")
        r = await client.post(
            "/auth/sign-up", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
        follow = await client.get(r.headers["location"])
        responses.append(
            (r.status_code, r.headers["location"], follow.status_code, _shape(follow.text))
        )
    assert responses[0] == responses[1]
    await kit.services.mailer.drain()
    owner_mail = mailbox.to("owner@example.com")[-1]
    assert (
        "sign up" in str(owner_mail["Subject"]).lower()
        or "account" in str(owner_mail["Subject"]).lower()
    )
    assert not re.search(r"\b\d{6}\b", Mailbox.text_of(owner_mail))
    assert str(owner_mail["To"]) == "owner@example.com"  # the stored address, not the typed one
