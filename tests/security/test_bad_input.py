"""Bad input (SECURITY.md section 7, A and B): look-alike addresses, header injection,
mass assignment, duplicate parameters, oversized and malformed bodies. Each is refused
or ignored with a clear message, nothing changes, and nothing answers 500."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import select

from authkit import AuthKit
from authkit.store.models import EmailAddressRow, UserRow

from ..conftest import Mailbox
from ..web.flow_helpers import PASSWORD, form_token, sign_out, sign_up

pytestmark = pytest.mark.anyio


async def _post_sign_up(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    token = await form_token(client, "/auth/sign-up")
    return await client.post("/auth/sign-up", data={"csrf_token": token, **fields})


@pytest.mark.parametrize(
    "email",
    [
        "a@b@c.com",
        "x@y.com\r\nBcc: z@evil.example",
        "x@y.com\nBcc: z@evil.example",
        "nul\x00@example.com",
        "a" * 10_000 + "@example.com",
        "@example.com",
        "plain",
        "",
    ],
    ids=["two-ats", "crlf-bcc", "lf-bcc", "nul", "10k", "no-local", "no-domain", "empty"],
)
async def test_malformed_email_is_refused_beside_the_field(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, email: str
) -> None:
    """No SMTP header injection, no 500: a message next to the email field."""
    r = await _post_sign_up(client, email=email, password=PASSWORD)
    assert r.status_code == 422, r.text
    assert 'id="ak-sign-up-email-error"' in r.text
    await kit.services.mailer.drain()
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("first", "second"),
    # Look-alike letters are the point of this test.
    [
        ("strasse@example.com", "straße@example.com"),
        ("ff@example.com", "ﬀ@example.com"),
        ("ada@example.com", "ａｄａ@example.com"),  # noqa: RUF001
        ("i@example.com", "ı@example.com"),  # noqa: RUF001
    ],
    ids=["sharp-s", "ligature", "full-width", "dotless-i"],
)
async def test_look_alike_addresses_are_different_accounts(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, first: str, second: str
) -> None:
    """Unicode look-alikes never match another account (Django CVE-2019-19844)."""
    await sign_up(client, kit, mailbox, first)
    await sign_out(client)
    r = await sign_up(client, kit, mailbox, second)
    assert r.status_code == 303, r.text
    async with kit.services.db.session() as s:
        stored = sorted(row.normalized for row in (await s.exec(select(EmailAddressRow))).all())
    assert len(stored) == 2, stored


async def test_extra_fields_are_ignored(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Mass assignment: is_admin, id, user_id or email_verified on a form change nothing."""
    token = await form_token(client, "/auth/sign-up")
    r = await client.post(
        "/auth/sign-up",
        data={
            "csrf_token": token,
            "email": "mass@example.com",
            "password": PASSWORD,
            "id": "user_attacker",
            "user_id": "user_attacker",
            "is_admin": "1",
            "email_verified": "1",
            "banned_at": "",
        },
    )
    assert r.status_code == 303, r.text
    await kit.services.mailer.drain()
    r = await client.get(r.headers["location"])
    token = r.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = await client.post(
        "/auth/sign-up/verify",
        data={
            "csrf_token": token,
            "code": mailbox.last_code("mass@example.com"),
            "user_id": "user_x",
        },
    )
    assert r.status_code == 303, r.text
    async with kit.services.db.session() as s:
        users = (await s.exec(select(UserRow))).all()
    assert [
        u.id.startswith("user_") and u.id not in ("user_attacker", "user_x") for u in users
    ] == [True]


async def test_duplicate_parameters_take_the_first_value(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """email=a&email=b is deterministic: the first value, never a mix."""
    token = await form_token(client, "/auth/sign-up")
    body = (
        f"csrf_token={token}&email=first%40example.com&email=second%40example.com"
        f"&password={PASSWORD.replace(' ', '+')}"
    )
    r = await client.post(
        "/auth/sign-up",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 303, r.text
    await kit.services.mailer.drain()
    assert [str(m["To"]) for m in mailbox.messages] == ["first@example.com"]


@pytest.mark.parametrize(
    ("content_type", "body", "statuses"),
    [
        ("application/x-www-form-urlencoded", b"email=" + b"a" * (11 * 1024 * 1024), {413}),
        ("application/json", b'{"email": "a@example.com", "password": "x"}', {415}),
        (
            "application/x-www-form-urlencoded",
            b"email=\xff\xfe%ff&password=\xc3\x28",
            {400, 403, 410, 422},
        ),
        (
            "multipart/form-data; boundary=zz",
            b"--zz\r\nContent-Disposition: form-data\r\n\r\n",
            {400, 403},
        ),
        ("text/plain", b"hello", {415}),
    ],
    ids=["11MB", "json", "bad-utf8", "broken-multipart", "text"],
)
async def test_malformed_bodies_get_a_4xx(
    client: httpx.AsyncClient, content_type: str, body: bytes, statuses: set[int]
) -> None:
    """Oversized, JSON, non-UTF-8 or broken bodies: 4xx, never 500."""
    await form_token(client, "/auth/sign-in")
    for path in ("/auth/sign-in", "/auth/sign-up", "/auth/sign-up/verify", "/auth/sign-out"):
        r = await client.post(path, content=body, headers={"content-type": content_type})
        assert r.status_code in statuses, (path, r.status_code, r.text[:300])
        assert "Traceback" not in r.text


async def test_names_and_emails_are_escaped_everywhere(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """Markup and template syntax in names come back as text, never as HTML or code."""
    await sign_up(
        client,
        kit,
        mailbox,
        "xss@example.com",
        first_name="<script>alert(1)</script>",
        last_name='" hx-get="/auth/sign-out {{7*7}}',
    )
    r = await client.get("/auth/user")
    assert r.status_code == 200, r.text
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert '" hx-get="/auth/sign-out' not in r.text
    assert "49" not in r.text.split("{{7*7}}")[0][-5:]
    assert "{{7*7}}" in r.text
