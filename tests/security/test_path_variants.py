"""
Path-normalisation bypasses (SECURITY.md #21, the shape of Clerk CVE-2026-41248) and
forged htmx headers (#81): a protected route reached as `//x`, `/x/`, `/X`, `/x;a`,
`/x%2F` or with `HX-Request: true` still needs a session, because authkit enforces it in
the handler (`requires_user`) and in the middleware, not by matching paths.

Requests are sent as raw ASGI scopes, the way uvicorn passes them on (path percent-decoded,
dot segments and double slashes kept), so no client-side URL normalisation hides a variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.flows.admin import create_user

from ..conftest import KitFactory
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.anyio

EMAIL = "owner@example.com"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str


async def raw_request(
    app: Any,
    raw_path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Answer:
    """Call the ASGI app with this exact path, as a server would."""
    path, _, query = raw_path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in {"host": "testserver", **(headers or {})}.items()
        ],
    }
    sent = False
    status = 0
    response_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for key, value in message.get("headers", []):
                response_headers[key.decode("latin-1").lower()] = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return Answer(status, response_headers, b"".join(chunks).decode("utf-8", "replace"))


@pytest.fixture
async def owner(kit: AuthKit) -> str:
    await kit.ensure_started()
    return await create_user(kit.services, email=EMAIL, password=PASSWORD)


async def session_cookie_header(client: httpx.AsyncClient) -> str:
    assert (await sign_in(client, EMAIL)).status_code == 303
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def is_protected_content(answer: Answer, owner: str) -> bool:
    """What only a signed-in owner may see: the dashboard, the API answer or the profile."""
    return (
        owner in answer.body
        or "Hello " in answer.body
        or EMAIL in answer.body
        or 'id="ak-user-profile-email"' in answer.body
    )


HOST_VARIANTS = [
    "//dashboard",
    "/dashboard/",
    "/DASHBOARD",
    "/Dashboard",
    "/dashboard;x",
    "/dashboard;jsessionid=1",
    "/dashboard%2F",
    "/dashboard%2f",
    "/%64ashboard",
    "/./dashboard",
    "/api/../dashboard",
    "/dashboard/.",
    "/dashboard%00",
    "/dashboard%20",
    "/dashboard.",
    "/dashboard?x=1",
    "///dashboard",
    "/%2Fdashboard",
    "//api/me",
    "/api/me/",
    "/API/ME",
    "/api/me;x",
    "/api/me%2F",
    "/api%2Fme",
    "/api//me",
]
AUTH_VARIANTS = [
    "/auth//user",
    "//auth/user",
    "/auth/user/",
    "/AUTH/user",
    "/auth/USER",
    "/auth/user;x",
    "/auth/user%2F",
    "/auth%2Fuser",
    "/auth/./user",
    "/auth/x/../user",
    "/%61uth/user",
]


@pytest.mark.parametrize("path", ["/dashboard", "/api/me", "/auth/user"])
async def test_control_the_owner_sees_the_protected_routes(
    client: httpx.AsyncClient, app: Starlette, owner: str, path: str
) -> None:
    """Control: with the owner's cookies these routes do answer with protected content."""
    cookie = await session_cookie_header(client)
    answer = await raw_request(app, path, headers={"cookie": cookie, "accept": "*/*"})
    assert answer.status == 200, answer
    assert is_protected_content(answer, owner), answer.body[:300]


@pytest.mark.parametrize("path", HOST_VARIANTS + AUTH_VARIANTS)
async def test_path_variant_of_a_protected_route_still_needs_a_session(
    app: Starlette, owner: str, path: str
) -> None:
    """Path normalisation (#21, Clerk CVE-2026-41248): no variant reaches protected content."""
    for accept in ("text/html", "application/json"):
        answer = await raw_request(app, path, headers={"accept": accept})
        assert answer.status in (303, 307, 308, 401, 404), (accept, answer.status, answer.body)
        assert not is_protected_content(answer, owner), answer.body[:300]
        location = answer.headers.get("location", "")
        if answer.status == 303:
            assert location.startswith("/auth/sign-in"), location
        if answer.status in (307, 308):
            # A slash redirect: following it lands on the real route, which asks for sign-in.
            followed = await raw_request(
                app, httpx.URL(location).raw_path.decode(), headers={"accept": accept}
            )
            assert followed.status in (303, 401, 404), followed
            assert not is_protected_content(followed, owner)


HTMX_HEADERS = [
    {"hx-request": "true"},
    {"hx-request": "true", "hx-boosted": "true", "hx-request-type": "full"},
    {"hx-request": "false"},
    {"hx-request": "true", "hx-current-url": "http://testserver/dashboard"},
    {"hx-request": "true", "hx-trigger": "ak-user", "hx-target": "body"},
    {"hx-request": "1", "accept": "text/html"},
]


@pytest.mark.parametrize(
    "path", ["/dashboard", "/api/me", "/auth/user", "//dashboard", "/auth/user/", "/DASHBOARD"]
)
async def test_forged_htmx_headers_do_not_skip_auth(app: Starlette, owner: str, path: str) -> None:
    """Spoofed HX-Request (#81): fragment requests need the same session as full pages."""
    for headers in HTMX_HEADERS:
        answer = await raw_request(app, path, headers=headers)
        assert answer.status in (303, 307, 401, 404), (headers, answer.status, answer.body)
        assert not is_protected_content(answer, owner), (headers, answer.body[:300])


SIGN_IN_VARIANTS = [
    "/auth//sign-in",
    "//auth/sign-in",
    "/auth/sign-in/",
    "/AUTH/SIGN-IN",
    "/auth/Sign-In",
    "/auth/sign-in;x",
    "/auth/sign-in%2F",
    "/auth%2Fsign-in",
]


async def test_sign_in_path_variants_share_the_one_limiter(
    make_kit: KitFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Limiter keying (#21, Better Auth GHSA-x732-6j76-qmhm): no extra guesses via `//sign-in`."""
    kit = make_kit()
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)
    checked: list[str] = []
    real_verify = kit.services.hasher.verify

    async def counting_verify(password_hash: str, password: str) -> bool:
        checked.append(password)
        return await real_verify(password_hash, password)

    monkeypatch.setattr(kit.services.hasher, "verify", counting_verify)
    app = make_host_app(kit)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            page = await c.get("/auth/sign-in")
            token = csrf_of(page.text)
            cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
            # Use up the account's guesses on the real path...
            for n in range(5):
                data = {"csrf_token": token, "email": EMAIL, "password": f"wrong {n}"}
                assert (await c.post("/auth/sign-in", data=data)).status_code == 422
            assert len(checked) == 5
            # ...then every variant: none may check another password.
            for path in SIGN_IN_VARIANTS:
                body = httpx.QueryParams(
                    {"csrf_token": token, "email": EMAIL, "password": f"variant {path}"}
                )
                answer = await raw_request(
                    app,
                    path,
                    method="POST",
                    headers={
                        "cookie": cookie,
                        "content-type": "application/x-www-form-urlencoded",
                        "content-length": str(len(str(body))),
                    },
                    body=str(body).encode(),
                )
                assert answer.status in (307, 308, 404, 405, 429), (path, answer.status)
                assert "__session=" not in answer.headers.get("set-cookie", ""), path
            assert len(checked) == 5, checked
            # The real path is still locked for this account, whatever was tried elsewhere.
            data = {"csrf_token": token, "email": EMAIL, "password": PASSWORD}
            assert (await c.post("/auth/sign-in", data=data)).status_code == 429
    finally:
        await kit.aclose()
