"""
No credential or token in the logs or the database (SECURITY.md #87 and #14/#31/#56, ASVS
16.2.5; django-allauth 0.63.4 printed tokens through `__str__`): every flow is run with
the root logger at DEBUG, then every log record (message, arguments and traceback) and a
dump of every table are searched for the passwords, the mailed codes, the reset link's
token, the refresh tokens, the session JWTs, the private signing key and the secret key.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass, field

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from authkit import AuthKit
from authkit.cookies import REFRESH_COOKIE, SESSION_COOKIE

from ..conftest import TEST_SECRET, FakeClock, Mailbox
from ..web.flow_helpers import (
    PASSWORD,
    csrf_of,
    form_token,
    open_link,
    sign_in,
    sign_out,
    sign_up,
)

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
WRONG_PASSWORD = "not my password at all, sorry"
CODE_PASSWORD = "a new passphrase set by code"
LINK_PASSWORD = "a newer passphrase set by link"
#: The mailed reset link: its token in the fragment, which a browser never sends.
LINK = re.compile(r"/reset-password\?link=1#token=([\w-]+)")
TABLES = (
    "users",
    "email_addresses",
    "password_credentials",
    "sessions",
    "verification_codes",
    "signing_keys",
    "audit_events",
)
#: Loggers of the test's own stand-ins, not of the server: the SMTP server (aiosmtpd)
#: logs the mail it receives, i.e. the mailbox reading it. httpx's log of every URL the
#: test browser requests is searched like the server's: a mailed link's token is in the
#: fragment, which is never requested (test_tokens_stay_out_of_logged_urls.py).
TEST_SIDE_LOGGERS = ("mail.log",)
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


@dataclass
class Secrets:
    """Every secret the flows handed out, collected as the test goes."""

    passwords: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)

    def take_cookies(self, client: httpx.AsyncClient) -> None:
        for name in (SESSION_COOKIE, REFRESH_COOKIE):
            value = client.cookies.get(name)
            if value:
                self.tokens.add(value)
                if name == REFRESH_COOKIE:
                    # The random half alone must not appear either.
                    self.tokens.add(value.split(".", 1)[1])

    def take_signing_key(self, kit: AuthKit) -> None:
        """The private signing key, as PEM body and as a JWK `d` member (#56)."""
        signing = kit.services.keyring._signing
        assert signing is not None and signing.private is not None
        pem = signing.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.tokens.update(line for line in pem.splitlines() if not line.startswith("-----"))
        raw = signing.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self.tokens.add(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())
        self.tokens.add(raw.hex())

    def found_in(self, haystack: str) -> list[str]:
        """The secrets `haystack` contains (codes only as whole numbers)."""
        found = [s for s in self.passwords | self.tokens | {TEST_SECRET} if s in haystack]
        found += [
            c for c in self.codes if re.search(rf"(?<![0-9A-Za-z]){c}(?![0-9A-Za-z])", haystack)
        ]
        return found


async def mailed(kit: AuthKit, mailbox: Mailbox) -> str:
    await kit.services.mailer.drain()
    return Mailbox.text_of(mailbox.to(EMAIL)[-1])


async def run_every_flow(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> Secrets:
    """Sign-up, sign-in, a wrong password, reset by code and by link, sign-out."""
    found = Secrets(passwords={PASSWORD, WRONG_PASSWORD, CODE_PASSWORD, LINK_PASSWORD})
    assert (await sign_up(client, kit, mailbox, EMAIL)).status_code == 303
    found.take_signing_key(kit)
    found.codes.add(mailbox.last_code(EMAIL))
    found.take_cookies(client)
    # A refresh: a second session token minted from the refresh cookie.
    clock.advance(kit.settings.session_token_lifetime + 1)
    assert (await client.get("/")).json()["is_signed_in"] is True
    found.take_cookies(client)
    assert (await sign_out(client)).status_code == 303

    assert (await sign_in(client, EMAIL, WRONG_PASSWORD)).status_code == 422
    assert (await sign_in(client, "nobody@example.com", WRONG_PASSWORD)).status_code == 422
    assert (await sign_in(client, EMAIL)).status_code == 303
    found.take_cookies(client)
    assert (await sign_out(client)).status_code == 303

    # Reset by code, with one wrong code first.
    token = await form_token(client, "/auth/forgot-password")
    r = await client.post("/auth/forgot-password", data={"csrf_token": token, "email": EMAIL})
    assert r.status_code == 303, r.text
    body = await mailed(kit, mailbox)
    code = re.search(r"\b(\d{6})\b", body)
    link = LINK.search(body)
    assert code and link, body
    found.codes.add(code[1])
    found.tokens.add(link[1])
    wrong_code = f"{(int(code[1]) + 1) % 1_000_000:06d}"
    found.codes.add(wrong_code)
    page = await client.get(r.headers["location"])
    for attempt in (wrong_code, code[1]):
        r = await client.post(
            "/auth/reset-password",
            data={
                "csrf_token": csrf_of(page.text),
                "code": attempt,
                "password": CODE_PASSWORD,
                "password_confirm": CODE_PASSWORD,
            },
        )
    assert r.status_code == 303, r.text
    assert (await sign_in(client, EMAIL, CODE_PASSWORD)).status_code == 303
    found.take_cookies(client)
    assert (await sign_out(client)).status_code == 303

    # Reset by link, opened in the same browser.
    token = await form_token(client, "/auth/forgot-password")
    r = await client.post("/auth/forgot-password", data={"csrf_token": token, "email": EMAIL})
    body = await mailed(kit, mailbox)
    code, link = re.search(r"\b(\d{6})\b", body), LINK.search(body)
    assert code and link, body
    found.codes.add(code[1])
    found.tokens.add(link[1])
    opened = await open_link(client, f"/auth/reset-password?link=1#token={link[1]}")
    page = await client.get(opened.headers["location"])
    assert page.status_code == 200, page.text
    r = await client.post(
        "/auth/reset-password",
        data={
            "csrf_token": csrf_of(page.text),
            "token": link[1],
            "password": LINK_PASSWORD,
            "password_confirm": LINK_PASSWORD,
        },
    )
    assert r.status_code == 303, r.text
    # The used link once more (refused) and a sign-in with the final password.
    assert (
        await open_link(client, f"/auth/reset-password?link=1#token={link[1]}")
    ).status_code == 410
    assert (await sign_in(client, EMAIL, LINK_PASSWORD)).status_code == 303
    found.take_cookies(client)
    assert (await sign_out(client)).status_code == 303
    await kit.services.mailer.drain()
    assert len(found.codes) >= 4 and len(found.tokens) >= 8, found
    return found


def record_text(record: logging.LogRecord) -> str:
    """Everything a handler could write for this record."""
    parts = [str(record.msg), record.getMessage(), repr(record.args)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    # `extra=` values become attributes; a formatter may print them.
    parts.extend(repr(v) for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES)
    return "\n".join(parts)


async def test_no_secret_reaches_any_log_record(
    client: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Secrets in logs (#87, ASVS 16.2.5): nothing logged at any level holds a credential."""
    caplog.set_level(logging.DEBUG)
    found = await run_every_flow(client, kit, mailbox, clock)
    records = [r for r in caplog.records if not r.name.startswith(TEST_SIDE_LOGGERS)]
    assert records, "the root logger at DEBUG captured nothing: the probe is vacuous"
    names = {r.name for r in records}
    assert any(n.startswith("authkit") for n in names), names
    if kit.services.db.is_sqlite:
        # aiosqlite logs every statement with its parameters at DEBUG: those are searched too.
        assert "aiosqlite" in names, names
    leaks = [
        (r.name, r.levelname, record_text(r)[:300], found.found_in(record_text(r)))
        for r in records
        if found.found_in(record_text(r))
    ]
    assert leaks == [], leaks


async def test_no_secret_is_stored_in_any_table(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox, clock: FakeClock
) -> None:
    """Secrets at rest (#14, #31, #87): every table dumped holds codes and tokens as hashes only."""
    found = await run_every_flow(client, kit, mailbox, clock)
    rows: list[str] = []
    async with kit.services.db.session() as s:
        for table in TABLES:
            query = text(f"SELECT * FROM {table}")  # noqa: S608 (fixed table names)
            result = await s.exec(query)  # type: ignore[call-overload]
            rows.extend(f"{table}: {row}" for row in result.all())
    dump = "\n".join(rows)
    assert "verification_codes:" in dump and "sessions:" in dump, dump[:500]
    assert found.found_in(dump) == [], found.found_in(dump)
    assert "PRIVATE KEY" not in dump
