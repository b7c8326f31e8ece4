"""
Social login's threats, each by name, against a stand-in provider that issues what a
real one would not (tests/standin_provider.py): an id_token for another audience, from
another issuer, with a nonce from an earlier round trip, expired, or signed by a key
not in the provider's JWKS; a callback naming another issuer (RFC 9207 mix-up); a
callback for one provider carrying the round trip started with another; an account
takeover by an address the provider did not verify. Each is refused with a sentence,
an `oauth.failed` audit row and nobody signed in. PKCE: the verifier sent matches the
challenge (the stand-in checks it). Login CSRF, forged and replayed state and the open
redirect are in tests/web/test_social_login.py, against the real provider.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.social.providers import OAuthProvider
from authkit.store.models import AuditEventRow, OAuthAccountRow, UserRow

from ..conftest import KitFactory
from ..hostapp import make_host_app
from ..standin_provider import CLIENT_ID, CLIENT_SECRET, StandinProvider, start_standin
from ..web.flow_helpers import PASSWORD, csrf_of, form_token
from ..web.pipeline_helpers import alert_text

pytestmark = pytest.mark.anyio

SITE = "http://testserver"


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinProvider]:
    yield from start_standin()


@pytest.fixture(scope="module")
def other_standin() -> Iterator[StandinProvider]:
    yield from start_standin()


def provider(name: str, at: StandinProvider) -> OAuthProvider:
    return OAuthProvider(
        name=name, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, issuer=at.issuer
    )


@pytest.fixture
async def kit(
    make_kit: KitFactory, standin: StandinProvider, other_standin: StandinProvider
) -> AsyncIterator[AuthKit]:
    made = make_kit(
        oauth_providers=[provider("standin", standin), provider("other", other_standin)]
    )
    yield made
    await made.aclose()


@pytest.fixture
async def site(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SITE) as c:
        yield c


async def authorize(site: httpx.AsyncClient, name: str) -> str:
    """Press "Continue with <name>" and let the stand-in sign in: the callback URL."""
    token = await form_token(site, "/auth/sign-in")
    started = await site.post(f"/auth/oauth/{name}/start", data={"csrf_token": token})
    assert started.status_code == 303, started.text
    async with httpx.AsyncClient() as provider_browser:
        back = await provider_browser.get(started.headers["location"])
    assert back.status_code == 302, back.text
    return str(back.headers["location"])


async def callback(site: httpx.AsyncClient, url: str) -> httpx.Response:
    return await site.get(url.removeprefix(SITE))


async def refused(site: httpx.AsyncClient, kit: AuthKit, answer: httpx.Response) -> str:
    """The answer went back to the sign-in page with a sentence; nobody is signed in,
    nothing linked; returns the audited reason."""
    assert answer.status_code == 303, answer.text
    assert "oauth_error=" in answer.headers["location"]
    page = await site.get(answer.headers["location"])
    assert alert_text(page.text)
    assert (await site.get("/")).json()["is_signed_in"] is False
    async with kit.services.db.session() as s:
        assert (await s.exec(select(OAuthAccountRow))).all() == []
        failures = (
            await s.exec(select(AuditEventRow).where(col(AuditEventRow.event) == "oauth.failed"))
        ).all()
    return str(failures[-1].detail["reason"])


async def test_the_stand_in_signs_in_when_nothing_is_bent(
    site: httpx.AsyncClient, standin: StandinProvider
) -> None:
    """The control: the same round trip with a right token signs in, and the PKCE
    verifier matched its challenge."""
    failures = standin.pkce_failures
    answer = await callback(site, await authorize(site, "standin"))
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert (await site.get("/")).json()["is_signed_in"] is True
    assert standin.pkce_failures == failures


@pytest.mark.parametrize(
    ("bent", "claims"),
    [
        ("another_audience", {"aud": "someone-else"}),
        # Authlib checks azp alone: a token for someone else naming us as azp.
        ("another_audience_with_our_azp", {"aud": "someone-else", "azp": CLIENT_ID}),
        ("audiences_without_us", {"aud": ["someone-else", "x"], "azp": CLIENT_ID}),
        ("another_issuer", {"iss": "https://evil.example"}),
        ("expired", {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}),
        ("no_nonce", {"-nonce": True}),
        ("wrong_nonce", {"nonce": "not-the-one-we-sent"}),
    ],
)
async def test_an_id_token_that_is_not_for_this_sign_in_is_refused(
    site: httpx.AsyncClient,
    kit: AuthKit,
    standin: StandinProvider,
    bent: str,
    claims: dict[str, object],
) -> None:
    url = await authorize(site, "standin")
    standin.next_id_token = claims
    assert await refused(site, kit, await callback(site, url)) == "id_token_invalid"


async def test_nonce_replay_an_earlier_round_trips_token_is_refused(
    site: httpx.AsyncClient, kit: AuthKit, standin: StandinProvider
) -> None:
    """A token minted for an earlier sign-in (its nonce) cannot finish this one."""
    await authorize(site, "standin")
    earlier_nonce = standin.nonces[-1]
    async with httpx.AsyncClient(transport=site._transport, base_url=SITE) as again:
        url = await authorize(again, "standin")
        standin.next_id_token = {"nonce": earlier_nonce}
        assert await refused(again, kit, await callback(again, url)) == "id_token_invalid"


async def test_an_id_token_signed_by_a_stranger_is_refused(
    site: httpx.AsyncClient, kit: AuthKit, standin: StandinProvider
) -> None:
    url = await authorize(site, "standin")
    standin.sign_with_stranger = True
    assert await refused(site, kit, await callback(site, url)) in (
        "id_token_invalid",
        "id_token_refused",
    )


async def test_mix_up_a_callback_naming_another_issuer_is_refused(
    site: httpx.AsyncClient, kit: AuthKit, other_standin: StandinProvider
) -> None:
    """RFC 9207: the answer says it comes from another provider than the one asked."""
    url = await authorize(site, "standin")
    answer = await callback(site, url + "&" + urlencode({"iss": other_standin.issuer}))
    assert await refused(site, kit, answer) == "issuer_mismatch"


async def test_mix_up_a_round_trip_started_with_one_provider_cannot_finish_at_another(
    site: httpx.AsyncClient, kit: AuthKit
) -> None:
    """The code and state of provider "standin" brought to "other"'s callback: this
    browser never asked "other" for a sign-in, so there is nothing to finish."""
    url = await authorize(site, "standin")
    mixed = url.replace("/oauth/standin/callback", "/oauth/other/callback")
    assert await refused(site, kit, await callback(site, mixed)) == "no_attempt"


async def test_account_takeover_by_an_address_the_provider_did_not_verify(
    site: httpx.AsyncClient, kit: AuthKit, standin: StandinProvider
) -> None:
    """Someone registers the victim's address at a provider that does not check it:
    the victim's account is not linked, and the sentence says nothing of it."""
    await kit.ensure_started()
    await kit.users.create(email="victim@example.org", password=PASSWORD)
    standin.subject, standin.email = "attacker", "victim@example.org"
    try:
        url = await authorize(site, "standin")
        standin.next_id_token = {"email_verified": False}
        answer = await callback(site, url)
    finally:
        standin.subject, standin.email = "standin-user", "standin@example.org"
    # The userinfo says verified, the id_token does not: the id_token's word stands.
    assert await refused(site, kit, answer) == "link_unverified"


async def test_a_provider_answering_500_with_html_creates_nobody(
    site: httpx.AsyncClient, kit: AuthKit, standin: StandinProvider
) -> None:
    url = await authorize(site, "standin")
    standin.token_breaks = True
    answer = await callback(site, url)
    assert "oauth_error=oauth_unavailable" in answer.headers["location"]
    assert await refused(site, kit, answer) == "token_status"
    async with kit.services.db.session() as s:
        assert (await s.exec(select(UserRow))).all() == []


@pytest.mark.parametrize("query", ["", "?code=abc", "?state=abc", "?error=server_error&state="])
async def test_a_callback_missing_its_parts_is_refused(
    site: httpx.AsyncClient, kit: AuthKit, query: str
) -> None:
    """Straight to the callback, with no round trip or a broken one: a sentence."""
    await authorize(site, "standin")
    answer = await site.get(f"/auth/oauth/standin/callback{query}")
    assert await refused(site, kit, answer) == "state_mismatch"


async def test_a_flood_of_forged_callbacks_is_throttled_per_ip(
    site: httpx.AsyncClient, kit: AuthKit
) -> None:
    """Each callback costs a provider call and an audit row: from one IP, the 31st in
    a minute is refused before either (the sign-in limit, 30 a minute)."""
    await site.get("/auth/sign-in")
    for _ in range(30):
        answer = await site.get("/auth/oauth/standin/callback?state=forged&code=x")
        assert answer.status_code == 303
    flooded = await site.get("/auth/oauth/standin/callback?state=forged&code=x")
    assert flooded.status_code == 429 and int(flooded.headers["retry-after"]) > 0
    assert "Too many" in (alert_text(flooded.text) or "")
    async with kit.services.db.session() as s:
        rows = await s.exec(select(AuditEventRow).where(col(AuditEventRow.event) == "oauth.failed"))
        assert len(rows.all()) == 30


async def test_an_unsigned_id_token_is_refused_even_if_the_provider_lists_none(
    site: httpx.AsyncClient, kit: AuthKit, standin: StandinProvider
) -> None:
    url = await authorize(site, "standin")
    standin.unsigned = True
    assert await refused(site, kit, await callback(site, url)) in (
        "id_token_invalid",
        "id_token_refused",
    )


async def test_mix_up_the_issuer_is_checked_by_a_worker_that_never_read_the_provider(
    make_kit: KitFactory,
    standin: StandinProvider,
    other_standin: StandinProvider,
) -> None:
    """The round trip started on one worker, its callback on another that has not read
    the discovery document yet: the `iss` check still happens there."""
    providers = [provider("standin", standin), provider("other", other_standin)]
    first, second = make_kit(oauth_providers=providers), make_kit(oauth_providers=providers)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(first)), base_url=SITE
    ) as on_first:
        url = await authorize(on_first, "standin")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=make_host_app(second)),
            base_url=SITE,
            cookies=on_first.cookies,
        ) as on_second:
            forged = url + "&" + urlencode({"iss": other_standin.issuer})
            assert await refused(on_second, second, await callback(on_second, forged)) == (
                "issuer_mismatch"
            )
    await first.aclose()
    await second.aclose()


async def test_a_signed_in_browser_starting_a_provider_sign_in_is_sent_on(
    site: httpx.AsyncClient,
) -> None:
    """No second session beside the first: the button sends a signed-in browser where it
    was going, and no round trip starts."""
    await callback(site, await authorize(site, "standin"))
    assert (await site.get("/")).json()["is_signed_in"] is True
    token = csrf_of((await site.get("/auth/user")).text)
    again = await site.post(
        "/auth/oauth/standin/start", data={"csrf_token": token, "redirect_url": "/next"}
    )
    assert again.status_code == 303 and again.headers["location"] == "/next"
