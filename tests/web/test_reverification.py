"""Reverification ("Confirm it's you"): sensitive pages ask for a recent factor, accept
the password or a code by email (and the second factor when the user has one), then go
on to the page asked for; hosts get the same with `requires_reverification` and
`auth(request).factor_age`."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import jwt
import pytest
from sqlmodel import select

from authkit import AuthKit
from authkit.flows.admin import create_user
from authkit.store.models import AuditEventRow, SessionRow

from ..conftest import FakeClock, Mailbox
from .flow_helpers import PASSWORD, subtitle_of
from .pipeline_helpers import (
    EMAIL,
    field_error,
    follow,
    hidden_fields,
    mailed,
    set_up_totp,
    sign_in_password,
    submit_code,
)

pytestmark = pytest.mark.anyio

WINDOW = 600


async def signed_in(client: httpx.AsyncClient, kit: AuthKit) -> str:
    await kit.ensure_started()
    user_id = await create_user(kit.services, email=EMAIL, password=PASSWORD)
    assert (await sign_in_password(client)).status_code == 303
    return user_id


def reverify_url(path: str) -> str:
    return f"/auth/reverify?redirect_url={quote(path, safe='')}"


async def reverify_with_password(
    client: httpx.AsyncClient, page: httpx.Response, password: str = PASSWORD
) -> httpx.Response:
    return await client.post(
        "/auth/reverify", data={**hidden_fields(page.text), "password": password}
    )


async def test_a_fresh_session_needs_no_reverification(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """Right after sign-in the first factor is recent: the set-up page opens at once."""
    await signed_in(client, kit)
    assert (await client.get("/auth/user/security/totp")).status_code == 200


async def test_an_old_factor_asks_to_confirm_and_then_goes_on(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """After the window, the sensitive page sends to "Confirm it's you"; the password
    brings the user back to it, and the session's token carries the new factor age."""
    await signed_in(client, kit)
    clock.advance(WINDOW + 1)
    r = await client.get("/auth/user/security/totp")
    assert r.status_code == 303 and r.headers["location"] == reverify_url(
        "/auth/user/security/totp"
    ), r.headers
    page = await client.get(r.headers["location"])
    assert "Confirm it&#39;s you" in page.text and "ada@example.com" in page.text
    wrong = await reverify_with_password(client, page, "not the password at all")
    assert wrong.status_code == 422
    assert field_error(wrong.text, "password") == "The email or password is incorrect."
    done = await reverify_with_password(client, page)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/auth/user/security/totp"
    assert (await client.get("/auth/user/security/totp")).status_code == 200
    claims = jwt.decode(client.cookies["__session"], options={"verify_signature": False})
    assert claims["fva"] == [0, -1]
    async with kit.services.db.session() as s:
        events = [e.event for e in (await s.exec(select(AuditEventRow))).all()]
    assert "session.reverified" in events and "reverify.failed" in events


async def test_reverification_by_email_code(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock, mailbox: Mailbox
) -> None:
    """ "Email me a code" confirms it too, and comes back to the page asked for."""
    await signed_in(client, kit)
    clock.advance(WINDOW + 1)
    page = await client.get(reverify_url("/auth/user/security/recovery-codes"))
    r = await client.post(
        "/auth/reverify", data={**hidden_fields(page.text, 1), "method": "email_code"}
    )
    step = await follow(client, r)
    assert "Confirm it&#39;s you" in step.text
    assert "we sent to ada@example.com" in subtitle_of(step.text)
    assert "Use your password" in step.text
    code = re.findall(r"\b\d{6}\b", await mailed(kit, mailbox, EMAIL))[0]
    done = await submit_code(client, step, code)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/auth/user/security/recovery-codes"


async def test_a_user_with_mfa_confirms_both_factors(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """With an authenticator app, the password alone is not enough: the app's code
    follows, and the session's both factor times move."""
    await signed_in(client, kit)
    totp = await set_up_totp(client, clock)
    clock.advance(WINDOW + 1)
    page = await client.get(reverify_url("/auth/user/security/totp/disable"))
    r = await reverify_with_password(client, page)
    assert r.status_code == 303 and "/reverify/factor/totp" in r.headers["location"], r.headers
    assert (await client.get("/auth/user/security/totp/disable")).status_code == 303
    step = await client.get(r.headers["location"])
    done = await submit_code(client, step, totp.code(clock))
    assert done.status_code == 303, done.text
    assert (await client.get("/auth/user/security/totp/disable")).status_code == 200
    async with kit.services.db.session() as s:
        [row] = (await s.exec(select(SessionRow))).all()
    assert row.first_factor_at == row.second_factor_at == clock.now


async def test_host_decorator_uses_the_token_factor_age(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """`requires_reverification`: passes when fresh (with `factor_age`), else sends HTML
    to the confirm page and answers JSON with 403; `max_age` tightens the window."""
    await signed_in(client, kit)
    ok = await client.get("/sensitive")
    assert ok.status_code == 200 and ok.json() == {"first": 0, "second": None}
    assert (await client.get("/very-sensitive")).text == "done"
    clock.advance(150)  # past 120 s, within the default window
    assert (await client.get("/very-sensitive")).status_code == 303
    assert (await client.get("/sensitive")).status_code == 200
    clock.advance(WINDOW)
    html = await client.get("/sensitive")
    assert html.status_code == 303 and html.headers["location"] == reverify_url("/sensitive")
    api = await client.get("/sensitive", headers={"accept": "application/json"})
    assert api.status_code == 403
    assert api.json() == {
        "error": "reverification_required",
        "reverify_url": reverify_url("/sensitive"),
    }
    page = await client.get(html.headers["location"])
    done = await reverify_with_password(client, page)
    assert done.headers["location"] == "/sensitive"
    assert (await client.get("/sensitive")).json() == {"first": 0, "second": None}


async def test_signed_out_visitors_go_to_sign_in(client: httpx.AsyncClient) -> None:
    """The decorator and the confirm page both send a visitor without a session to sign in."""
    r = await client.get("/sensitive")
    assert r.status_code == 303 and r.headers["location"].startswith("/auth/sign-in?")
    r = await client.get(reverify_url("/sensitive"))
    assert r.status_code == 303 and r.headers["location"].startswith("/auth/sign-in?")
