"""
`AUTHKIT_SESSION_CLAIMS`: claims in the session token itself, in the templates'
grammar, following the user's metadata at each refresh; sized at start-up so the
session cookie can never pass 4 KB (a metadata object the claims read gets a smaller
cap, and a write past it is refused). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from authkit import AuthKit
from authkit.errors import ConfigError, FieldError
from authkit.jwt_templates.session_claims import plan_session_claims

from ..conftest import FakeClock, KitFactory
from ..hostapp import make_host_app
from .flow_helpers import PASSWORD
from .pipeline_helpers import EMAIL, sign_in_password

pytestmark = pytest.mark.anyio

ISSUER = "http://testserver/auth"
CLAIMS = {
    "plan": "{{user.public_metadata.plan || 'free'}}",
    "email": "{{user.primary_email_address}}",
    "profile": {"name": "{{user.full_name}}"},
}


def session_claims(client: httpx.AsyncClient, kit: AuthKit) -> dict[str, Any]:
    token = client.cookies[kit.settings.cookie_names.session]
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def test_claims_ride_in_the_session_token_and_follow_the_metadata(
    make_kit: KitFactory, clock: FakeClock
) -> None:
    kit = make_kit(session_claims=CLAIMS)
    try:
        app = make_host_app(kit)
        await kit.ensure_started()
        user = await kit.users.create(email=EMAIL, password=PASSWORD, first_name="Ada")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as b:
            assert (await sign_in_password(b)).status_code == 303
            claims = session_claims(b, kit)
            assert (claims["plan"], claims["email"], claims["profile"]) == (
                "free",
                EMAIL,
                {"name": "Ada"},
            )
            assert claims["sub"] == user.id and "sid" in claims and "fva" in claims
            await kit.users.update_metadata(user.id, public_metadata={"plan": "pro"})
            clock.advance(kit.settings.session_token_lifetime + 1)
            assert (await b.get("/")).json()["user_id"] == user.id  # refreshed on the way
            assert session_claims(b, kit)["plan"] == "pro"
            # "Confirm it's you" mints the session's token again: the claims stay.
            page = await b.get("/auth/reverify")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            done = await b.post(
                "/auth/reverify",
                data={"csrf_token": token, "method": "password", "password": PASSWORD},
            )
            assert done.status_code == 303, done.text
            assert session_claims(b, kit)["plan"] == "pro"
    finally:
        await kit.aclose()


async def test_metadata_the_session_reads_gets_a_cap_that_keeps_the_cookie_small(
    make_kit: KitFactory,
) -> None:
    kit = make_kit(session_claims={"meta": "{{user.public_metadata}}"})
    try:
        app = make_host_app(kit)
        await kit.ensure_started()
        user = await kit.users.create(email=EMAIL, password=PASSWORD)
        cap = kit.services.session_claims.cap("public_metadata")  # type: ignore[union-attr]
        assert 256 <= cap < 8192
        with pytest.raises(FieldError) as refused:
            await kit.users.update(user.id, public_metadata={"x": "y" * cap})
        assert refused.value.code == "metadata_too_large"
        assert kit.services.messages("metadata_too_large", **refused.value.params) == (
            f"Metadata must be at most {cap} bytes."
        )
        # Private metadata is not read here: it keeps its 8 KB.
        await kit.users.update(user.id, private_metadata={"x": "y" * 8000})
        # The widest metadata that fits: astral characters, four UTF-8 bytes each.
        widest = {"x": "\U0001f600" * ((cap - 12) // 4)}
        await kit.users.update(user.id, public_metadata=widest)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as b:
            response = await sign_in_password(b)
            assert response.status_code == 303
            cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
            session = next(
                c for c in cookies if c.startswith(kit.settings.cookie_names.session + "=")
            )
            assert len(session) < 4096
            assert session_claims(b, kit)["meta"] == widest
    finally:
        await kit.aclose()


@pytest.mark.parametrize(
    ("claims", "sentence"),
    [
        ({"sid": "x"}, "the claim 'sid' is the session token's own"),
        ({"fva": [0]}, "the claim 'fva' is the session token's own"),
        ({"aud": "x"}, "the claim 'aud' is the session token's own"),
        (
            {
                "a": "{{user.full_name}}",
                "b": "{{user.full_name}}",
                "c": "{{user.primary_email_address}}",
                "d": "{{user.primary_email_address}}",
            },
            "could make the session cookie larger than 4 KB",
        ),
        (
            {f"m{n}": f"{{{{user.public_metadata.k{n}}}}}" for n in range(12)},
            "reads metadata more often than the session cookie has room for",
        ),
        ({"x": "{{user.nope}}"}, "unknown user field 'nope'"),
    ],
    ids=["sid", "fva", "aud", "names-too-wide", "too-many-reads", "unknown-field"],
)
def test_claims_that_could_not_fit_or_are_reserved_stop_start_up(
    claims: dict[str, Any], sentence: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        plan_session_claims(claims, base_url="http://testserver")
    assert sentence in str(refused.value), str(refused.value)


def test_session_claims_from_inline_json_or_a_file(tmp_path: Path) -> None:
    inline = plan_session_claims(
        json.dumps({"plan": "{{user.public_metadata.plan}}"}), base_url="http://testserver"
    )
    assert inline.compiled is not None and inline.cap("public_metadata") < 8192
    assert inline.cap("private_metadata") == 8192
    path = tmp_path / "claims.toml"
    path.write_text("role = \"{{user.public_metadata.role || 'member'}}\"\n")
    assert plan_session_claims(str(path), base_url="http://testserver").compiled is not None
    assert plan_session_claims(None, base_url="http://testserver").compiled is None
    with pytest.raises(ConfigError, match="is not JSON"):
        plan_session_claims("{nope", base_url="http://testserver")


async def test_metadata_inside_a_string_is_counted_twice(make_kit: KitFactory) -> None:
    """Interpolated, a metadata object's JSON is escaped again (quotes double): at its
    cap, full of quotes, the cookie still fits."""
    kit = make_kit(session_claims={"m": "meta: {{user.public_metadata}}"})
    try:
        app = make_host_app(kit)
        await kit.ensure_started()
        user = await kit.users.create(email=EMAIL, password=PASSWORD)
        cap = kit.services.session_claims.cap("public_metadata")  # type: ignore[union-attr]
        quotes = {"q": '"' * ((cap - 10) // 2)}  # each quote is 2 bytes stored (\")
        await kit.users.update(user.id, public_metadata=quotes)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as b:
            response = await sign_in_password(b)
            cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
            session = next(
                c for c in cookies if c.startswith(kit.settings.cookie_names.session + "=")
            )
            assert len(session) < 4096, len(session)
    finally:
        await kit.aclose()


async def test_metadata_stored_before_the_claims_never_overflows_the_cookie(
    make_kit: KitFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """8 KB written while no session claims read it, then the claims are configured:
    the claims that read it are left empty (and logged), and the cookie fits."""
    before = make_kit()
    await before.ensure_started()
    user = await before.users.create(email=EMAIL, password=PASSWORD)
    await before.users.update(user.id, public_metadata={"big": "x" * 8000, "plan": "pro"})
    await before.aclose()
    kit = make_kit(
        session_claims={
            "meta": "{{user.public_metadata}}",
            "email": "{{user.primary_email_address}}",
        }
    )
    try:
        app = make_host_app(kit)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as b:
            response = await sign_in_password(b)
            assert response.status_code == 303
            cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
            session = next(
                c for c in cookies if c.startswith(kit.settings.cookie_names.session + "=")
            )
            assert len(session) < 4096, len(session)
            claims = session_claims(b, kit)
            assert claims["meta"] is None and claims["email"] == EMAIL
            assert (await b.get("/")).json()["user_id"] == user.id
        assert "has metadata over its cap" in caplog.text
    finally:
        await kit.aclose()


def test_private_metadata_and_out_of_range_numbers_are_refused() -> None:
    with pytest.raises(ConfigError, match="cannot read private_metadata"):
        plan_session_claims({"s": "{{user.private_metadata.x}}"}, base_url="http://testserver")
    with pytest.raises(ConfigError, match="the number 1e999 is out of range"):
        plan_session_claims(
            {"n": "{{user.public_metadata.n || 1e999}}"}, base_url="http://testserver"
        )
