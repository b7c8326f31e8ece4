"""
The presets, each against a local stand-in that speaks its protocol (never the real
internet): Google, GitLab, LinkedIn and Slack as OpenID Connect (LinkedIn and Slack
take the client's secret in the form); GitHub by its API, the verified primary address
of `/user/emails` and never the profile's public one; Discord by `/users/@me` and its
`verified`; Microsoft's multi-tenant issuer, each token naming its tenant, and its
address believed only for personal accounts (or with `xms_edov`). Configuration needs
only the client id and secret. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlmodel import col, select

from authkit import AuthKit
from authkit.config import Settings
from authkit.errors import ConfigError
from authkit.social.presets import MICROSOFT_CONSUMERS_TENANT, PRESETS
from authkit.social.providers import OAuthProvider
from authkit.store.models import AuditEventRow, EmailAddressRow, OAuthAccountRow, UserRow

from ..conftest import TEST_SECRET, KitFactory
from ..hostapp import make_host_app
from ..standin_provider import CLIENT_ID, CLIENT_SECRET, StandinProvider, start_standin
from .flow_helpers import PASSWORD, form_token
from .pipeline_helpers import alert_text

pytestmark = pytest.mark.anyio

SITE = "http://testserver"
WORK_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def standin() -> Iterator[StandinProvider]:
    yield from start_standin()


def preset(name: str, standin: StandinProvider, **overrides: object) -> OAuthProvider:
    """Preset `name` with its endpoints pointed at the stand-in."""
    if PRESETS[name].protocol == "oidc":
        where: dict[str, object] = {"issuer": standin.issuer}
    else:
        where = {
            "authorize_url": f"{standin.issuer}/authorize",
            "token_url": f"{standin.issuer}/token",
            "api_url": f"{standin.issuer}/api/",
        }
    return OAuthProvider(
        name=name,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        **where,  # type: ignore[arg-type]
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture
async def site_for(
    make_kit: KitFactory,
) -> AsyncIterator[object]:
    made: list[httpx.AsyncClient] = []

    def build(provider: OAuthProvider) -> tuple[AuthKit, httpx.AsyncClient]:
        kit = make_kit(oauth_providers=[provider])
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=make_host_app(kit)), base_url=SITE
        )
        made.append(client)
        return kit, client

    yield build
    for client in made:
        await client.aclose()


async def round_trip(site: httpx.AsyncClient, name: str) -> httpx.Response:
    """Press "Continue with ..." and let the stand-in sign in: the callback's answer."""
    page = await site.get("/auth/sign-in")
    assert f"Continue with {PRESETS[name].label}" in page.text
    token = await form_token(site, "/auth/sign-in")
    started = await site.post(f"/auth/oauth/{name}/start", data={"csrf_token": token})
    assert started.status_code == 303, started.text
    async with httpx.AsyncClient() as provider_browser:
        back = await provider_browser.get(started.headers["location"])
    assert back.status_code == 302, back.text
    return await site.get(str(back.headers["location"]).removeprefix(SITE))


async def signed_in_as(kit: AuthKit, site: httpx.AsyncClient) -> tuple[str, str]:
    """(the signed-in user's primary address, their first name)."""
    me = (await site.get("/")).json()
    assert me["is_signed_in"] is True, me
    async with kit.services.db.session() as s:
        user = await s.get(UserRow, me["user_id"])
        address = (
            await s.exec(
                select(EmailAddressRow.email).where(col(EmailAddressRow.user_id) == me["user_id"])
            )
        ).one()
    assert user is not None
    return address, user.first_name


async def failure_reasons(kit: AuthKit) -> list[str]:
    async with kit.services.db.session() as s:
        rows = await s.exec(select(AuditEventRow).where(col(AuditEventRow.event) == "oauth.failed"))
        return [str(r.detail["reason"]) for r in rows.all()]


@pytest.mark.parametrize(
    ("name", "auth"),
    [
        ("google", "basic"),
        ("gitlab", "basic"),
        ("linkedin", "post"),
        ("slack", "post"),
    ],
)
async def test_each_openid_preset_signs_up_through_its_protocol(
    site_for: object, standin: StandinProvider, name: str, auth: str
) -> None:
    kit, site = site_for(preset(name, standin))  # type: ignore[operator]
    standin.email = f"someone@{name}.example.org"
    answer = await round_trip(site, name)
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.headers
    assert (await signed_in_as(kit, site))[0] == f"someone@{name}.example.org"
    assert standin.client_auth == [auth]
    async with kit.services.db.session() as s:
        [link] = (await s.exec(select(OAuthAccountRow))).all()
    assert link.provider == name


async def test_github_uses_the_verified_primary_address_never_the_public_one(
    site_for: object, standin: StandinProvider
) -> None:
    kit, site = site_for(preset("github", standin))  # type: ignore[operator]
    standin.github_user = {
        "id": 583231,
        "login": "octo",
        "name": "Mona Lisa Octocat",
        "email": "public@example.org",
    }
    standin.github_emails = [
        {"email": "old@example.org", "primary": False, "verified": True},
        {"email": "mona@example.org", "primary": True, "verified": True},
    ]
    answer = await round_trip(site, "github")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert await signed_in_as(kit, site) == ("mona@example.org", "Mona")
    async with kit.services.db.session() as s:
        [link] = (await s.exec(select(OAuthAccountRow))).all()
    assert (link.provider, link.subject) == ("github", "583231")


async def test_github_with_an_unverified_primary_address_signs_nobody_up(
    site_for: object, standin: StandinProvider
) -> None:
    kit, site = site_for(preset("github", standin))  # type: ignore[operator]
    standin.github_user = {"id": 7, "login": "newbie", "name": None}
    standin.github_emails = [{"email": "newbie@example.org", "primary": True, "verified": False}]
    answer = await round_trip(site, "github")
    page = await site.get(answer.headers["location"])
    assert alert_text(page.text) == (
        "GitHub has not verified your email address. Verify it there and try again, "
        "or sign in with your email here."
    )
    assert await failure_reasons(kit) == ["email_unverified"]


@pytest.mark.parametrize("verified", [True, False])
async def test_discord_believes_its_verified_flag(
    site_for: object, standin: StandinProvider, verified: bool
) -> None:
    kit, site = site_for(preset("discord", standin))  # type: ignore[operator]
    standin.discord_me = {
        "id": "80351110224678912",
        "username": "nelly",
        "global_name": "Nelly",
        "email": "nelly@example.org",
        "verified": verified,
    }
    answer = await round_trip(site, "discord")
    if verified:
        assert answer.headers["location"] == "/"
        assert await signed_in_as(kit, site) == ("nelly@example.org", "Nelly")
    else:
        assert "oauth_error=oauth_email_unverified" in answer.headers["location"]


async def test_microsoft_personal_accounts_link_by_address(
    site_for: object, standin: StandinProvider
) -> None:
    kit, site = site_for(preset("microsoft", standin))  # type: ignore[operator]
    await kit.ensure_started()
    user = await kit.users.create(email="ada@example.org", password=PASSWORD)
    standin.microsoft_tenant = MICROSOFT_CONSUMERS_TENANT
    standin.email = "ada@example.org"
    answer = await round_trip(site, "microsoft")
    assert answer.headers["location"] == "/", answer.headers
    assert (await site.get("/")).json()["user_id"] == user.id


async def test_microsoft_work_accounts_never_link_by_address(
    site_for: object, standin: StandinProvider
) -> None:
    """nOAuth: a tenant's admin can set any `email`; without `xms_edov` it is not
    believed, so nobody takes over the account holding that address."""
    kit, site = site_for(preset("microsoft", standin))  # type: ignore[operator]
    await kit.ensure_started()
    await kit.users.create(email="ceo@example.org", password=PASSWORD)
    standin.microsoft_tenant = WORK_TENANT
    standin.email = "ceo@example.org"
    answer = await round_trip(site, "microsoft")
    assert "oauth_error=oauth_email_unverified" in answer.headers["location"]
    assert await failure_reasons(kit) == ["link_unverified"]
    # The same tenant with the domain owner's word (xms_edov) is believed.
    standin.next_id_token = {"xms_edov": True}
    answer = await round_trip(site, "microsoft")
    assert answer.headers["location"] == "/"


async def test_microsoft_a_token_naming_another_tenant_than_its_issuer_is_refused(
    site_for: object, standin: StandinProvider
) -> None:
    kit, site = site_for(preset("microsoft", standin))  # type: ignore[operator]
    standin.microsoft_tenant = WORK_TENANT
    standin.next_id_token = {"iss": f"{standin.issuer}/{MICROSOFT_CONSUMERS_TENANT}/v2.0"}
    answer = await round_trip(site, "microsoft")
    assert "oauth_error=oauth_failed" in answer.headers["location"]
    assert await failure_reasons(kit) == ["id_token_invalid"]


def test_a_preset_needs_only_its_client_id_and_secret() -> None:
    env = {"AUTHKIT_SECRET_KEY": TEST_SECRET, "AUTHKIT_OAUTH_PROVIDERS": ",".join(PRESETS)}
    for name in PRESETS:
        env[f"AUTHKIT_OAUTH_{name.upper()}_CLIENT_ID"] = f"{name}-id"
        env[f"AUTHKIT_OAUTH_{name.upper()}_CLIENT_SECRET"] = f"{name}-secret"
    settings = Settings.from_env(env)
    assert [p.label for p in settings.oauth_providers] == [p.label for p in PRESETS.values()]
    github = settings.oauth_provider("github")
    assert github is not None and github.origins == ("https://github.com",)
    assert github.scopes == ("read:user", "user:email")


def test_another_name_may_be_a_preset_and_an_unknown_preset_is_named() -> None:
    env = {
        "AUTHKIT_SECRET_KEY": TEST_SECRET,
        "AUTHKIT_OAUTH_PROVIDERS": "work",
        "AUTHKIT_OAUTH_WORK_PRESET": "microsoft",
        "AUTHKIT_OAUTH_WORK_CLIENT_ID": "id",
        "AUTHKIT_OAUTH_WORK_CLIENT_SECRET": "secret",
        "AUTHKIT_OAUTH_WORK_LABEL": "Work account",
    }
    work = Settings.from_env(env).oauth_providers[0]
    assert (work.preset, work.label) == ("microsoft", "Work account")
    assert work.rules.microsoft
    with pytest.raises(ConfigError, match="AUTHKIT_OAUTH_WORK_PRESET must be one of google"):
        Settings.from_env({**env, "AUTHKIT_OAUTH_WORK_PRESET": "myspace"})
