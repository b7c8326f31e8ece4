"""
Passkeys' JSON endpoints with a software authenticator (tests/soft_authenticator.py):
register from the profile (after "Confirm it's you"), sign in with no address typed,
and every check the server owes: a challenge used once and bound to its browser, the
origin and relying party id, user verification, another user's credential, a counter
that goes back, malformed JSON and bytes (a clear 400, never a 500), CSRF. Then the
profile's rename and remove, and the limit of ten. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import delete
from sqlmodel import col, select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.store.models import AuditEventRow, PasskeyRow, PasswordCredentialRow, SessionRow

from ..conftest import FakeClock, Mailbox
from ..hostapp import make_host_app
from ..soft_authenticator import SoftAuthenticator, b64url
from .flow_helpers import PASSWORD, csrf_of
from .pipeline_helpers import EMAIL, mailed, set_up_totp, sign_in_password

pytestmark = pytest.mark.anyio

SITE = "http://testserver"
OTHER = "grace@example.com"
SECURITY = "/auth/user/security"


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SITE)


@pytest.fixture
async def users(kit: AuthKit) -> AsyncIterator[tuple[str, str]]:
    await kit.ensure_started()
    ada = await kit.users.create(email=EMAIL, password=PASSWORD)
    grace = await kit.users.create(email=OTHER, password=PASSWORD)
    yield ada.id, grace.id
    await kit.aclose()  # mail still going out, and the pool, on this test's loop


async def token(client: httpx.AsyncClient, path: str = "/auth/sign-in") -> str:
    """The CSRF token the page gives its script (a form's, where it has one)."""
    page = (await client.get(path)).text
    found = re.search(r'data-ak-csrf="([^"]+)"', page)
    return found.group(1) if found else csrf_of(page)


async def post_json(
    client: httpx.AsyncClient, path: str, body: Any, csrf: str | None
) -> httpx.Response:
    headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
    return await client.post(path, json=body, headers=headers)


async def add_passkey(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, **create: Any
) -> httpx.Response:
    """Press "Add a passkey" on the security page and let the authenticator make one."""
    csrf = await token(client, SECURITY)
    options = await post_json(client, "/auth/passkeys/register/options", {}, csrf)
    assert options.status_code == 200, options.text
    ceremony = options.json()
    credential = authenticator.create(ceremony["publicKey"], **create)
    return await post_json(
        client,
        "/auth/passkeys/register/verify",
        {"attempt": ceremony["attempt"], "credential": credential},
        csrf,
    )


async def passkey_options(client: httpx.AsyncClient, **body: Any) -> tuple[str, dict[str, Any]]:
    csrf = await token(client, SECURITY if body.get("reverify") else "/auth/sign-in")
    options = await post_json(client, "/auth/passkeys/sign-in/options", body, csrf)
    assert options.status_code == 200, options.text
    return csrf, options.json()


async def sign_in_with(
    client: httpx.AsyncClient, authenticator: SoftAuthenticator, **get: Any
) -> httpx.Response:
    csrf, ceremony = await passkey_options(client, redirect_url="/notes")
    credential = authenticator.get(ceremony["publicKey"], **get)
    return await post_json(
        client,
        "/auth/passkeys/sign-in/verify",
        {"attempt": ceremony["attempt"], "credential": credential},
        csrf,
    )


async def whoami(client: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await client.get("/")).json())


async def registered(app: Starlette, authenticator: SoftAuthenticator) -> None:
    """Ada signs in with her password and adds a passkey from `authenticator`."""
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        added = await add_passkey(b, authenticator)
        assert added.status_code == 200, added.text


async def rows(kit: AuthKit) -> list[PasskeyRow]:
    async with kit.services.db.session() as s:
        return list((await s.exec(select(PasskeyRow))).all())


async def events(kit: AuthKit, name: str) -> list[AuditEventRow]:
    async with kit.services.db.session() as s:
        found = await s.exec(select(AuditEventRow).where(col(AuditEventRow.event) == name))
        return list(found.all())


async def test_register_then_sign_in_with_no_address_typed(
    app: Starlette, kit: AuthKit, users: tuple[str, str], mailbox: Mailbox
) -> None:
    ada, _ = users
    authenticator = SoftAuthenticator(origin=SITE, backup_eligible=True, backed_up=True)
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        added = await add_passkey(b, authenticator)
        assert added.status_code == 200, added.text
        assert added.json() == {"redirect": f"{SECURITY}?done=passkey_added#passkeys"}
        assert added.headers["cache-control"] == "no-store"
        page = (await b.get(f"{SECURITY}?done=passkey_added")).text
        assert "Passkey added." in page and "Synced" in page
    [row] = await rows(kit)
    assert row.user_id == ada and row.name == "Passkey"
    assert row.transports == "internal,hybrid" and row.backup_eligible and row.backed_up
    assert row.aaguid == "00000000-0000-0000-0000-000000000000"
    assert 'passkey named "Passkey" was just added' in await mailed(kit, mailbox, EMAIL)
    assert [e.detail["passkey"] for e in await events(kit, "passkey.added")] == ["Passkey"]

    async with browser(app) as b:
        signed_in = await sign_in_with(b, authenticator)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json() == {"redirect": "/notes"}
        assert (await whoami(b))["user_id"] == ada
    [sign_in] = [e for e in await events(kit, "sign_in") if e.detail.get("method") == "passkey"]
    assert sign_in.user_id == ada
    [row] = await rows(kit)
    assert row.sign_count == 1 and row.last_used_at is not None


async def test_a_passkey_satisfies_two_step_verification_and_reverifies(
    app: Starlette, kit: AuthKit, users: tuple[str, str], clock: FakeClock
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        await set_up_totp(b, clock)
        assert (await add_passkey(b, authenticator)).status_code == 200
    async with browser(app) as b:
        signed_in = await sign_in_with(b, authenticator)
        assert signed_in.status_code == 200, signed_in.text  # no authenticator-app step
        # Both factors are fresh: a sensitive page opens without "Confirm it's you".
        turn_off = await b.get("/auth/user/security/totp/disable")
        assert turn_off.status_code == 200 and "Turn off two-step verification?" in turn_off.text
    async with kit.services.db.session() as s:
        sessions = (await s.exec(select(SessionRow))).all()
    [session] = [row for row in sessions if "passkey" in row.amr]
    assert session.amr == ["passkey"] and session.second_factor_at is not None


async def test_confirm_its_you_with_a_passkey(
    app: Starlette, kit: AuthKit, users: tuple[str, str], clock: FakeClock
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        assert (await add_passkey(b, authenticator)).status_code == 200
        clock.advance(3600)
        assert (await b.get("/auth/user/security/totp")).status_code == 303  # reverify first
        csrf, ceremony = await passkey_options(b, reverify=True, redirect_url="/auth/user")
        assert [c["id"] for c in ceremony["publicKey"]["allowCredentials"]] == [
            b64url(next(iter(authenticator.credentials)))
        ]
        credential = authenticator.get(ceremony["publicKey"])
        done = await post_json(
            b,
            "/auth/passkeys/sign-in/verify",
            {"attempt": ceremony["attempt"], "credential": credential, "reverify": True},
            csrf,
        )
        assert done.status_code == 200, done.text
        assert (await b.get("/auth/user/security/totp")).status_code == 200
    assert len(await events(kit, "session.reverified")) == 1


async def test_a_replayed_answer_is_refused(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    await registered(app, authenticator)
    async with browser(app) as b:
        csrf, ceremony = await passkey_options(b)
        body = {
            "attempt": ceremony["attempt"],
            "credential": authenticator.get(ceremony["publicKey"]),
        }
        first = await post_json(b, "/auth/passkeys/sign-in/verify", body, csrf)
        assert first.status_code == 200
        # The same browser, signed in now (with the new CSRF token its session brought).
        again = await post_json(b, "/auth/passkeys/sign-in/verify", body, await token(b, SECURITY))
        assert again.status_code == 400
        assert again.json() == {"error": "That took too long. Please try again."}
    passkey_sign_ins = [e for e in await events(kit, "sign_in") if e.detail["method"] == "passkey"]
    assert len(passkey_sign_ins) == 1


async def test_a_challenge_works_only_in_the_browser_that_asked(
    app: Starlette, users: tuple[str, str]
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    await registered(app, authenticator)
    async with browser(app) as asking, browser(app) as other:
        _, ceremony = await passkey_options(asking)
        csrf = await token(other)
        answer = await post_json(
            other,
            "/auth/passkeys/sign-in/verify",
            {
                "attempt": ceremony["attempt"],
                "credential": authenticator.get(ceremony["publicKey"]),
            },
            csrf,
        )
        assert answer.status_code == 400 and "took too long" in answer.json()["error"]
        assert (await whoami(other)).get("user_id") is None


@pytest.mark.parametrize(
    ("bent", "reason"),
    [
        ({"origin": "http://evil.example"}, "verification"),
        ({"rp_id": "evil.example"}, "verification"),
        ({"user_verified": False}, "verification"),
        ({"challenge": b64url(b"x" * 32)}, "verification"),
        ({"origin": "http://testserver:8080"}, "verification"),
        ({"origin": "http://evil.testserver"}, "verification"),
        ({"origin": "null"}, "verification"),
        ({"client_data": {"type": "webauthn.create"}}, "verification"),
        ({"client_data": {"crossOrigin": True}}, "cross_origin"),
    ],
    ids=[
        "wrong-origin",
        "wrong-rp-id",
        "no-user-verification",
        "another-challenge",
        "another-port",
        "a-subdomain",
        "null-origin",
        "create-type-at-sign-in",
        "cross-origin-frame",
    ],
)
async def test_a_bent_assertion_is_refused(
    app: Starlette,
    kit: AuthKit,
    users: tuple[str, str],
    bent: dict[str, Any],
    reason: str,
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    await registered(app, authenticator)
    async with browser(app) as b:
        answer = await sign_in_with(b, authenticator, **bent)
        assert answer.status_code == 400
        assert answer.json()["error"].startswith("That passkey did not work.")
        assert (await whoami(b)).get("user_id") is None
    failed = [e for e in await events(kit, "sign_in.failed") if e.detail["method"] == "passkey"]
    assert [e.detail["reason"] for e in failed] == [reason]
    assert failed[0].user_id == users[0]


async def test_registration_from_another_origin_or_rp_id_is_refused(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        for bent in ({"origin": "http://evil.example"}, {"rp_id": "evil.example"}):
            answer = await add_passkey(b, SoftAuthenticator(origin=SITE), **bent)
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"].startswith("That passkey did not work.")
        no_uv = await add_passkey(b, SoftAuthenticator(origin=SITE, user_verified=False))
        assert no_uv.status_code == 400
    assert await rows(kit) == []


async def test_another_users_credential_is_refused(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    _, grace = users
    authenticator = SoftAuthenticator(origin=SITE)
    await registered(app, authenticator)
    async with browser(app) as b:
        # Ada's passkey, claiming to be Grace's (the user handle is the authenticator's word).
        answer = await sign_in_with(b, authenticator, user_handle=grace.encode())
        assert answer.status_code == 400
        assert (await whoami(b)).get("user_id") is None
    async with browser(app) as b:
        # Grace confirming it's her with Ada's passkey.
        assert (await sign_in_password(b, OTHER)).status_code == 303
        csrf, ceremony = await passkey_options(b, reverify=True)
        assert ceremony["publicKey"]["allowCredentials"] == []
        credential = authenticator.get(ceremony["publicKey"], rp_id="testserver")
        answer = await post_json(
            b,
            "/auth/passkeys/sign-in/verify",
            {"attempt": ceremony["attempt"], "credential": credential, "reverify": True},
            csrf,
        )
        assert answer.status_code == 400
    reasons = [e.detail["reason"] for e in await events(kit, "sign_in.failed")] + [
        e.detail["reason"] for e in await events(kit, "reverify.failed")
    ]
    assert reasons == ["another_users_credential", "another_users_credential"]
    assert await events(kit, "session.reverified") == []


async def test_another_accounts_credential_id_cannot_be_registered(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    """Grace's authenticator forging Ada's credential id (with a key of its own) is
    refused: one credential id, one passkey."""
    ada_authenticator = SoftAuthenticator(origin=SITE)
    await registered(app, ada_authenticator)
    [ada_id] = ada_authenticator.credentials
    async with browser(app) as b:
        assert (await sign_in_password(b, OTHER)).status_code == 303
        forged = await add_passkey(b, SoftAuthenticator(origin=SITE), credential_id=ada_id)
        assert forged.status_code == 400
        assert forged.json() == {"error": "That passkey is already registered here."}
    [row] = await rows(kit)
    assert row.user_id == users[0]
    async with browser(app) as b:
        assert (await sign_in_with(b, ada_authenticator)).status_code == 200


async def test_an_unknown_passkey_is_told_so(app: Starlette, users: tuple[str, str]) -> None:
    stranger = SoftAuthenticator(origin=SITE)
    stranger.create(
        {
            "challenge": b64url(b"c" * 32),
            "rp": {"id": "testserver", "name": "x"},
            "user": {"id": b64url(b"user_nobody"), "name": "n", "displayName": "n"},
        }
    )
    async with browser(app) as b:
        answer = await sign_in_with(b, stranger)
        assert answer.status_code == 400
        assert answer.json()["error"].startswith("That passkey is not registered here.")


async def test_a_counter_that_goes_back_is_refused_and_audited(
    app: Starlette, kit: AuthKit, users: tuple[str, str], mailbox: Mailbox
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    await registered(app, authenticator)
    async with browser(app) as b:
        assert (await sign_in_with(b, authenticator)).status_code == 200
    async with browser(app) as b:
        # A copy of the authenticator, a few uses behind the original.
        cloned = await sign_in_with(b, authenticator, sign_count=1)
        assert cloned.status_code == 400
        assert cloned.json()["error"].startswith(
            "That passkey was refused: it may have been copied."
        )
        assert (await whoami(b)).get("user_id") is None
    [event] = await events(kit, "passkey.counter_regressed")
    assert event.user_id == users[0]
    assert (event.detail["stored"], event.detail["received"]) == (1, 1)
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        activity = (await b.get(f"{SECURITY}/activity")).text
        assert "Refused a passkey that may have been copied (Passkey)" in activity


async def test_a_counter_past_two_to_the_31_is_kept(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    """The counter is an unsigned 32-bit number: PostgreSQL keeps its top half too
    (an int4 column answered "database unavailable")."""
    authenticator = SoftAuthenticator(origin=SITE)
    await registered(app, authenticator)
    async with browser(app) as b:
        answer = await sign_in_with(b, authenticator, sign_count=0xFFFF_FFF0)
        assert answer.status_code == 200, answer.text
    [row] = await rows(kit)
    assert row.sign_count == 0xFFFF_FFF0


async def test_a_synced_passkey_without_a_counter_signs_in_again_and_again(
    app: Starlette, users: tuple[str, str]
) -> None:
    authenticator = SoftAuthenticator(origin=SITE, counts=False, backup_eligible=True)
    await registered(app, authenticator)
    for _ in range(2):
        async with browser(app) as b:
            assert (await sign_in_with(b, authenticator)).status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"attempt": 5, "credential": {}}', "application/json", 400),
        (b'{"attempt": "sia_x", "credential": "text"}', "application/json", 400),
        (b'{"attempt": "x"}', "text/plain", 415),
        (b"\xff\xfe", "application/json", 400),
        (b"[" * 50_000, "application/json", 400),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "attempt-not-text",
        "credential-not-object",
        "not-json-type",
        "not-utf8",
        "nested-past-the-parsers-depth",
    ],
)
async def test_malformed_requests_get_a_clear_400(
    app: Starlette, users: tuple[str, str], body: bytes, content_type: str, status: int
) -> None:
    async with browser(app) as b:
        csrf = await token(b)
        answer = await b.post(
            "/auth/passkeys/sign-in/verify",
            content=body,
            headers={"X-CSRF-Token": csrf, "Content-Type": content_type},
        )
        assert answer.status_code == status
        assert answer.json()["error"].startswith("That passkey did not work.")


def _bent(credential: dict[str, Any], part: str, value: Any) -> dict[str, Any]:
    copy = {**credential, "response": dict(credential["response"])}
    if part in copy["response"]:
        copy["response"][part] = value
    else:
        copy[part] = value
    return copy


@pytest.mark.parametrize(
    ("part", "value"),
    [
        ("authenticatorData", b64url(b"\xa1\x01")),  # too short to be authenticator data
        ("clientDataJSON", b64url(b"not json")),
        ("signature", "!!not base64!!"),
        ("rawId", 12),
        ("response", None),
        ("userHandle", b64url(b"\xff" * 2000)),
        ("type", "password"),
        ("clientDataJSON", b64url(b"[" * 40_000)),
    ],
)
async def test_malformed_credentials_get_a_clear_400(
    app: Starlette, users: tuple[str, str], part: str, value: Any
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    await registered(app, authenticator)
    async with browser(app) as b:
        csrf, ceremony = await passkey_options(b)
        credential = _bent(authenticator.get(ceremony["publicKey"]), part, value)
        answer = await post_json(
            b,
            "/auth/passkeys/sign-in/verify",
            {"attempt": ceremony["attempt"], "credential": credential},
            csrf,
        )
        assert answer.status_code == 400, answer.text
        assert "error" in answer.json()


async def test_malformed_attestation_gets_a_clear_400(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        csrf = await token(b, SECURITY)
        for bad in (b64url(b"\x9f\xff\x00"), b64url(b"\xa1\x63fmt\x64none"), "***"):
            options = await post_json(b, "/auth/passkeys/register/options", {}, csrf)
            ceremony = options.json()
            credential = SoftAuthenticator(origin=SITE).create(ceremony["publicKey"])
            credential["response"]["attestationObject"] = bad
            answer = await post_json(
                b,
                "/auth/passkeys/register/verify",
                {"attempt": ceremony["attempt"], "credential": credential},
                csrf,
            )
            assert answer.status_code == 400, answer.text
    assert await rows(kit) == []


@pytest.mark.parametrize(
    "path",
    [
        "/auth/passkeys/sign-in/options",
        "/auth/passkeys/sign-in/verify",
        "/auth/passkeys/register/options",
        "/auth/passkeys/register/verify",
    ],
)
async def test_every_endpoint_checks_csrf(
    app: Starlette, users: tuple[str, str], path: str
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        for csrf in (None, "forged"):
            answer = await post_json(b, path, {}, csrf)
            assert answer.status_code == 403
            assert answer.json() == {"error": "Your form expired. Please try again."}
        # A page of another site posting with the browser's cookies is refused too.
        good = await token(b, SECURITY)
        cross = await b.post(
            path, json={}, headers={"X-CSRF-Token": good, "Sec-Fetch-Site": "cross-site"}
        )
        assert cross.status_code == 403


async def test_adding_needs_a_recent_confirmation(
    app: Starlette, users: tuple[str, str], clock: FakeClock
) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        clock.advance(3600)
        csrf = await token(b, SECURITY)
        answer = await post_json(b, "/auth/passkeys/register/options", {}, csrf)
        assert answer.status_code == 403
        assert answer.json() == {
            "reverify": "/auth/reverify?redirect_url=%2Fauth%2Fuser%2Fsecurity%2Fpasskeys%2Fadd"
        }
        page = await b.get("/auth/user/security/passkeys/add")
        assert page.status_code == 303 and page.headers["location"].startswith("/auth/reverify")


async def test_signed_out_registration_is_refused(app: Starlette, users: tuple[str, str]) -> None:
    async with browser(app) as b:
        csrf = await token(b)
        answer = await post_json(b, "/auth/passkeys/register/options", {}, csrf)
        assert answer.status_code == 401


async def test_at_most_ten_passkeys(app: Starlette, kit: AuthKit, users: tuple[str, str]) -> None:
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        for _ in range(10):
            assert (await add_passkey(b, SoftAuthenticator(origin=SITE))).status_code == 200
        csrf = await token(b, "/auth/user")
        answer = await post_json(b, "/auth/passkeys/register/options", {}, csrf)
        assert answer.status_code == 400
        assert answer.json()["error"].startswith("You have 10 passkeys")
        page = (await b.get(SECURITY)).text
        assert "data-ak-passkey-register" not in page  # no "Add a passkey" past the limit
        assert "You have 10 passkeys" in (await b.get("/auth/user/security/passkeys/add")).text
    assert len(await rows(kit)) == 10


async def test_two_tabs_adding_the_tenth_passkey_at_once_add_one(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    """The limit is counted with the user's row locked (on SQLite too)."""
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        for _ in range(9):
            assert (await add_passkey(b, SoftAuthenticator(origin=SITE))).status_code == 200
        csrf = await token(b, SECURITY)
        bodies = []
        for _ in range(2):
            options = (await post_json(b, "/auth/passkeys/register/options", {}, csrf)).json()
            credential = SoftAuthenticator(origin=SITE).create(options["publicKey"])
            bodies.append({"attempt": options["attempt"], "credential": credential})
        answers: list[int] = []

        async def verify(body: dict[str, Any]) -> None:
            answer = await post_json(b, "/auth/passkeys/register/verify", body, csrf)
            answers.append(answer.status_code)

        async with anyio.create_task_group() as tg:
            for body in bodies:
                tg.start_soon(verify, body)
    assert sorted(answers) == [200, 400]
    assert len(await rows(kit)) == 10


async def test_the_same_authenticator_cannot_register_twice(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        assert (await add_passkey(b, authenticator)).status_code == 200
        csrf = await token(b, SECURITY)
        options = (await post_json(b, "/auth/passkeys/register/options", {}, csrf)).json()
        excluded = [c["id"] for c in options["publicKey"]["excludeCredentials"]]
        assert excluded == [b64url(next(iter(authenticator.credentials)))]
        with pytest.raises(ValueError, match="InvalidStateError"):
            authenticator.create(options["publicKey"])


async def test_rename_and_remove(
    app: Starlette, kit: AuthKit, users: tuple[str, str], mailbox: Mailbox
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    async with browser(app) as b:
        assert (await sign_in_password(b)).status_code == 303
        assert (await add_passkey(b, authenticator)).status_code == 200
        [row] = await rows(kit)
        rename = f"/auth/user/security/passkeys/{row.id}/rename"
        page = await b.get(rename)
        assert page.status_code == 200 and 'value="Passkey"' in page.text
        csrf = csrf_of(page.text)
        empty = await b.post(rename, data={"csrf_token": csrf, "name": "   "})
        assert empty.status_code == 422 and "Enter a name for this passkey." in empty.text
        for hidden in ("nul\x00byte", "evil\u202etxt.exe"):
            refused = await b.post(rename, data={"csrf_token": csrf, "name": hidden})
            assert refused.status_code == 422, refused.text
            assert "Names cannot contain control characters." in refused.text
        long = await b.post(rename, data={"csrf_token": csrf, "name": "x" * 65})
        assert long.status_code == 422 and 'value="' + "x" * 65 + '"' in long.text
        done = await b.post(rename, data={"csrf_token": csrf, "name": "  Work   laptop "})
        assert done.status_code == 303 and done.headers["location"].endswith("done=passkey_renamed")
        assert "Work laptop" in (await b.get(SECURITY)).text

        remove = f"/auth/user/security/passkeys/{row.id}/remove"
        confirm = await b.get(remove)
        assert "Remove this passkey?" in confirm.text and "“Work laptop”" in confirm.text
        gone = await b.post(remove, data={"csrf_token": csrf_of(confirm.text)})
        assert gone.status_code == 303 and gone.headers["location"].endswith("done=passkey_removed")
        assert "Passkey removed." in (await b.get(f"{SECURITY}?done=passkey_removed")).text
    assert await rows(kit) == []
    assert 'passkey named "Work laptop" was just removed' in await mailed(kit, mailbox, EMAIL)
    async with browser(app) as b:
        answer = await sign_in_with(b, authenticator)
        assert answer.status_code == 400 and "not registered here" in answer.json()["error"]


async def test_another_users_passkey_is_a_404(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    await registered(app, SoftAuthenticator(origin=SITE))
    [row] = await rows(kit)
    async with browser(app) as b:
        assert (await sign_in_password(b, OTHER)).status_code == 303
        for action in ("rename", "remove"):
            path = f"/auth/user/security/passkeys/{row.id}/{action}"
            assert (await b.get(path)).status_code == 404
            csrf = await token(b, SECURITY)
            assert (
                await b.post(path, data={"csrf_token": csrf, "name": "mine"})
            ).status_code == 404
    [kept] = await rows(kit)
    assert kept.name == "Passkey"


async def test_a_banned_users_passkey_signs_nobody_in(
    app: Starlette, kit: AuthKit, users: tuple[str, str]
) -> None:
    authenticator = SoftAuthenticator(origin=SITE)
    await registered(app, authenticator)
    await kit.users.ban(users[0])
    async with browser(app) as b:
        answer = await sign_in_with(b, authenticator)
        assert answer.status_code == 400
        assert answer.json()["error"].startswith("That passkey did not work.")
        assert (await whoami(b)).get("user_id") is None


async def test_the_only_way_left_to_sign_in_cannot_be_removed(make_kit: Any, store: Any) -> None:
    """With only passwords offered and no password of her own any more, Lin's one
    passkey is her only way in: removing it is refused with a sentence."""
    kit = make_kit(sign_in_methods="password")
    try:
        await kit.ensure_started()
        user = await kit.users.create(email="lin@example.com", password=PASSWORD)
        async with browser(make_host_app(kit)) as b:
            assert (await sign_in_password(b, "lin@example.com")).status_code == 303
            assert (await add_passkey(b, SoftAuthenticator(origin=SITE))).status_code == 200
            async with kit.services.db.session() as s:
                await s.exec(
                    delete(PasswordCredentialRow).where(
                        col(PasswordCredentialRow.user_id) == user.id
                    )
                )
            [row] = await rows(kit)
            remove = f"/auth/user/security/passkeys/{row.id}/remove"
            confirm = await b.get(remove)
            refused = await b.post(remove, data={"csrf_token": csrf_of(confirm.text)})
            assert refused.status_code == 422
            assert "This passkey is the only way you have to sign in." in refused.text
        assert len(await rows(kit)) == 1
    finally:
        await kit.aclose()


async def test_passkeys_need_a_domain(make_kit: Any, users: tuple[str, str]) -> None:
    kit = make_kit(base_url="http://127.0.0.1:8000")
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://127.0.0.1:8000"
        ) as b:
            page = (await b.get("/auth/sign-in")).text
            assert "data-ak-passkey" not in page and 'autocomplete="username"' in page
            csrf = csrf_of(page)
            answer = await post_json(b, "/auth/passkeys/sign-in/options", {}, csrf)
            assert answer.status_code == 404
    finally:
        await kit.aclose()


async def test_the_sign_in_page_offers_passkeys_and_autofill(
    app: Starlette, users: tuple[str, str]
) -> None:
    async with browser(app) as b:
        page = (await b.get("/auth/sign-in?redirect_url=/notes")).text
    assert 'autocomplete="username webauthn"' in page
    assert "Sign in with a passkey" in page
    # Hidden until the script finds WebAuthn: without JavaScript nothing points at it.
    assert '<div class="ak-passkey" data-ak-passkey-sign-in hidden' in page
    assert 'data-ak-redirect="/notes"' in page and "data-ak-autofill" in page


async def test_asking_for_challenges_is_rate_limited(
    app: Starlette, users: tuple[str, str]
) -> None:
    """Every ceremony writes an attempt: one IP may ask for 60 a minute."""
    async with browser(app) as b:
        csrf = await token(b)
        for _ in range(60):
            ok = await post_json(b, "/auth/passkeys/sign-in/options", {}, csrf)
            assert ok.status_code == 200
        limited = await post_json(b, "/auth/passkeys/sign-in/options", {}, csrf)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert limited.json()["error"].startswith("Too many attempts.")
