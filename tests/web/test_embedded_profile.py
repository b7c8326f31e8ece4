"""
`{{ authkit.user_profile(profile) }}` in a host page: the Account and Security sections
the sub-app's pages show, switched with `?ak_section=`, from the data the endpoint loaded
with `load_profile(request)`; a template handing it a bare User is told what to do.
"""

from __future__ import annotations

import httpx
import jinja2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from authkit import AuthKit, load_profile
from authkit.flows.admin import create_user

from .flow_helpers import PASSWORD
from .pipeline_helpers import EMAIL, sign_in_password

pytestmark = pytest.mark.anyio


async def signed_in(client: httpx.AsyncClient, kit: AuthKit) -> None:
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    assert (await sign_in_password(client)).status_code == 303


async def test_both_sections_render_in_the_host_page(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    await signed_in(client, kit)
    account = await client.get("/embedded-profile")
    assert account.status_code == 200
    assert "<h1>Account settings</h1>" in account.text
    assert "Email addresses" in account.text and EMAIL in account.text
    assert 'href="?ak_section=security"' in account.text
    assert '<h2 class="ak-card__title"' in account.text  # the host page owns the h1
    security = await client.get("/embedded-profile?ak_section=security")
    assert "Two-step verification" in security.text and "Active devices" in security.text
    assert 'href="?ak_section=account"' in security.text


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    r = await client.get("/embedded-profile")
    assert r.status_code == 303 and r.headers["location"].startswith("/auth/sign-in")


async def test_a_bare_user_gets_a_sentence_that_says_what_to_do(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    await signed_in(client, kit)
    env = jinja2.Environment(autoescape=True)
    kit.jinja(env)
    template = env.from_string("{{ authkit.user_profile(user) }}")
    seen: dict[str, str] = {}

    async def endpoint_like(request: Request) -> None:
        profile = await load_profile(request)
        assert profile is not None
        with pytest.raises(RuntimeError, match="load_profile"):
            template.render(request=request, user=profile.user)
        seen["ok"] = "yes"

    # Inside a real request, so the middleware has filled auth(request).
    async def probe(request: Request) -> PlainTextResponse:
        await endpoint_like(request)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/probe", probe), Mount("/auth", app=kit)])
    kit.install(app)
    probe_client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", cookies=client.cookies
    )
    async with probe_client:
        assert (await probe_client.get("/probe")).text == "ok"
    assert seen == {"ok": "yes"}
