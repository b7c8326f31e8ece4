"""`authkit.fastapi.requires_org()`: a FastAPI dependency that lets in members of the
session's active organization whose role has the permission; 401 signed out, 403 with
`organizations_url` (or the redirect to choose one, for HTML) without an active
organization, 403 without the permission."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI

from authkit import Auth, AuthKit
from authkit.fastapi import requires_org

from ..conftest import KitFactory
from .flow_helpers import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.anyio

JSON = {"Accept": "application/json"}
ROLES = {"org:billing": {"permissions": ["org:invoices:manage"]}}


@pytest.fixture
async def kit(make_kit: KitFactory) -> AsyncIterator[AuthKit]:
    made = make_kit(organizations=True, organization_roles=ROLES)
    await made.ensure_started()
    ada = await made.users.create(email="ada@acme.com", password=PASSWORD)
    bob = await made.users.create(email="bob@acme.com", password=PASSWORD)
    acme = await made.organizations.create(name="Acme", slug="acme", created_by=ada.id)
    await made.organizations.add_member(acme.id, bob.id)
    yield made
    await made.aclose()


@pytest.fixture
def app(kit: AuthKit) -> FastAPI:
    site = FastAPI()

    @site.post("/invoices")
    async def pay(
        session: Annotated[Auth, requires_org(permission="org:invoices:manage")],
    ) -> dict[str, Any]:
        return {"org": session.org_slug, "role": session.org_role}

    @site.get("/team", dependencies=[requires_org()])
    async def team() -> dict[str, Any]:
        return {"ok": True}

    site.mount("/auth", kit)
    kit.install(site)
    return site


async def switch_to_acme(c: httpx.AsyncClient, kit: AuthKit) -> None:
    acme = await kit.organizations.get_by_slug("acme")
    assert acme is not None
    page = await c.get("/auth/organizations")
    r = await c.post(
        "/auth/organizations",
        data={"csrf_token": csrf_of(page.text), "organization_id": acme.id},
    )
    assert r.status_code == 303


async def test_requires_org_as_a_dependency(app: FastAPI, kit: AuthKit) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await c.post("/invoices", headers=JSON)).status_code == 401
        await sign_in(c, "ada@acme.com")
        r = await c.post("/invoices", headers=JSON)
        assert r.status_code == 403
        assert r.json()["detail"]["error"] == "organization_required"
        page = await c.get("/team")
        assert page.status_code == 303
        assert page.headers["location"] == "/auth/organizations?redirect_url=%2Fteam"
        await switch_to_acme(c, kit)
        assert (await c.get("/team", headers=JSON)).json() == {"ok": True}
        assert (await c.post("/invoices", headers=JSON)).json() == {
            "org": "acme",
            "role": "org:admin",
        }
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        await sign_in(c, "bob@acme.com")
        await switch_to_acme(c, kit)
        assert (await c.get("/team", headers=JSON)).status_code == 200
        r = await c.post("/invoices", headers=JSON)
        assert r.status_code == 403 and r.json()["detail"] == {"error": "forbidden"}
