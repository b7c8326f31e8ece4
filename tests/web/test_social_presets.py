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

import html
import json
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
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
    made: list[tuple[AuthKit, httpx.AsyncClient]] = []

    def build(provider: OAuthProvider) -> tuple[AuthKit, httpx.AsyncClient]:
        kit = make_kit(oauth_providers=[provider])
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=make_host_app(kit)), base_url=SITE
        )
        made.append((kit, client))
        return kit, client

    yield build
    for kit, client in made:
        await client.aclose()
        await kit.aclose()


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
    """Every preset but Apple, whose secret is signed with the team's key (below)."""
    names = [name for name, preset in PRESETS.items() if not preset.apple]
    env = {"AUTHKIT_SECRET_KEY": TEST_SECRET, "AUTHKIT_OAUTH_PROVIDERS": ",".join(names)}
    for name in names:
        env[f"AUTHKIT_OAUTH_{name.upper()}_CLIENT_ID"] = f"{name}-id"
        env[f"AUTHKIT_OAUTH_{name.upper()}_CLIENT_SECRET"] = f"{name}-secret"
    settings = Settings.from_env(env)
    assert [p.label for p in settings.oauth_providers] == [PRESETS[n].label for n in names]
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


def apple_provider(standin: StandinProvider) -> OAuthProvider:
    """Apple pointed at the stand-in, with a new P-256 key (as a .p8 file holds)."""
    key = ec.generate_private_key(ec.SECP256R1())
    standin.apple_key = key.public_key()
    standin.apple_team = "TEAM123456"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return OAuthProvider(
        name="apple",
        client_id=CLIENT_ID,
        client_secret="",
        issuer=standin.issuer,
        team_id="TEAM123456",
        key_id="APPLEKEY01",
        private_key=pem,  # type: ignore[arg-type]
    )


async def apple_round_trip(
    site: httpx.AsyncClient, standin: StandinProvider
) -> tuple[httpx.Response, httpx.Response]:
    """Apple's way: its page posts the answer cross-site (no cookies of the site come
    with it); our page hands it on by GET. Returns (the POST's page, the GET's answer)."""
    token = await form_token(site, "/auth/sign-in")
    started = await site.post("/auth/oauth/apple/start", data={"csrf_token": token})
    assert "response_mode=form_post" in started.headers["location"]
    async with httpx.AsyncClient() as provider_browser:
        apple_page = await provider_browser.get(started.headers["location"])
    action = re.search(r'<form method="post" action="([^"]+)"', apple_page.text)
    assert action is not None
    posted = dict(re.findall(r'name="(\w+)" value="([^"]*)"', apple_page.text))
    posted = {k: html.unescape(v) for k, v in posted.items()}
    # A cross-site POST: SameSite=Lax keeps the site's cookies out of it, but whatever
    # it answers reaches the same browser's cookie jar.
    request = site.build_request(
        "POST", html.unescape(action.group(1)).removeprefix(SITE), data=posted
    )
    del request.headers["cookie"]
    handed = await site.send(request)
    assert handed.status_code == 200, handed.text
    # Setting a new CSRF cookie here would replace the browser's and orphan its attempt.
    assert "set-cookie" not in handed.headers, handed.headers
    assert handed.headers["cache-control"] == "no-store"
    assert handed.headers["referrer-policy"] == "no-referrer"
    form = re.search(r'<form class="ak-form" method="get" action="([^"]+)"', handed.text)
    assert form is not None and "data-ak-autosubmit" in handed.text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', handed.text))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    answer = await site.get(html.unescape(form.group(1)).removeprefix(SITE), params=fields)
    return handed, answer


async def test_apple_signs_up_with_its_signed_secret_form_post_and_first_time_name(
    site_for: object, standin: StandinProvider
) -> None:
    kit, site = site_for(apple_provider(standin))  # type: ignore[operator]
    standin.email = "x7kq2@privaterelay.appleid.com"
    standin.apple_user = json.dumps({"name": {"firstName": "Grace", "lastName": "Hopper"}})
    standin.next_id_token = {"email_verified": "true"}  # Apple sends it as a string
    _, answer = await apple_round_trip(site, standin)
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.headers
    assert await signed_in_as(kit, site) == ("x7kq2@privaterelay.appleid.com", "Grace")
    [secret] = standin.apple_secrets
    assert isinstance(secret, dict)
    assert (secret["iss"], secret["sub"], secret["aud"]) == (
        "TEAM123456",
        CLIENT_ID,
        standin.issuer,
    )
    assert secret["exp"] - secret["iat"] <= 300
    assert standin.client_auth == ["post"]


async def test_apple_form_post_is_refused_for_other_providers(
    site_for: object, standin: StandinProvider
) -> None:
    _, site = site_for(preset("google", standin))  # type: ignore[operator]
    assert (await site.post("/auth/oauth/google/callback", data={"code": "x"})).status_code == 405


def test_apple_needs_its_team_key_and_a_p256_key() -> None:
    env = {
        "AUTHKIT_SECRET_KEY": TEST_SECRET,
        "AUTHKIT_OAUTH_PROVIDERS": "apple",
        "AUTHKIT_OAUTH_APPLE_CLIENT_ID": "com.example.web",
    }
    with pytest.raises(ConfigError, match="AUTHKIT_OAUTH_APPLE_TEAM_ID is not set"):
        Settings.from_env(env)
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    env |= {
        "AUTHKIT_OAUTH_APPLE_TEAM_ID": "TEAM123456",
        "AUTHKIT_OAUTH_APPLE_KEY_ID": "KEY",
        "AUTHKIT_OAUTH_APPLE_PRIVATE_KEY": rsa_pem.replace("\n", "\\n"),
    }
    with pytest.raises(ConfigError, match=r"must be the P-256 key of a \.p8 file"):
        Settings.from_env(env)
    p256 = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    env["AUTHKIT_OAUTH_APPLE_PRIVATE_KEY"] = p256.replace("\n", "\\n")
    apple = Settings.from_env(env).oauth_providers[0]
    assert apple.rules.apple and apple.issuer == "https://appleid.apple.com"


async def test_microsoft_a_single_tenant_issuer_is_checked_plainly(
    site_for: object, standin: StandinProvider
) -> None:
    """A tenant's own endpoint names its issuer without `{tenantid}`: tokens of that
    tenant sign in."""
    kit, site = site_for(preset("microsoft", standin))  # type: ignore[operator]
    standin.microsoft_tenant, standin.single_tenant = WORK_TENANT, True
    standin.email = "someone@work.example.org"
    standin.next_id_token = {"xms_edov": True}
    answer = await round_trip(site, "microsoft")
    assert answer.headers["location"] == "/", answer.headers
    assert await failure_reasons(kit) == []
