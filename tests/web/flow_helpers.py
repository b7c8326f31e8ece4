"""Steps a test takes through the HTML forms, as a browser with JavaScript off would."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from authkit import AuthKit

from ..conftest import Mailbox
from ..hostapp import make_host_app

PASSWORD = "a perfectly fine passphrase"


def host_client(kit: AuthKit) -> httpx.AsyncClient:
    """A client for the test host site with `kit` mounted; use it as `async with`."""
    transport = httpx.ASGITransport(app=make_host_app(kit))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def subtitle_of(page: str) -> str:
    """The card's subtitle as a reader sees it: tags gone, entities decoded."""
    match = re.search(r'<p class="ak-card__subtitle">(.*?)</p>', page, re.S)
    assert match, page
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))


def without_per_response_values(html: str) -> str:
    """The page without what differs on every response anyway: CSRF token, CSP nonce.
    Enumeration tests compare what is left."""
    html = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', html)
    return re.sub(r'nonce="[^"]*"', 'nonce=""', html)


async def form_token(client: httpx.AsyncClient, path: str) -> str:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


async def start_sign_up(
    client: httpx.AsyncClient,
    email: str,
    password: str = PASSWORD,
    *,
    first_name: str = "",
    last_name: str = "",
) -> httpx.Response:
    """Post the sign-up form; returns the code page it leads to."""
    token = await form_token(client, "/auth/sign-up")
    r = await client.post(
        "/auth/sign-up",
        data={
            "csrf_token": token,
            "email": email,
            "password": password,
            "first_name": first_name,
            "last_name": last_name,
        },
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/auth/sign-up/verify"), r.headers
    r = await client.get(r.headers["location"])
    assert r.status_code == 200, r.text
    return r


async def sign_up(
    client: httpx.AsyncClient,
    kit: AuthKit,
    mailbox: Mailbox,
    email: str,
    password: str = PASSWORD,
    *,
    first_name: str = "",
    last_name: str = "",
) -> httpx.Response:
    """Fill the sign-up form, read the code from the mailbox, enter it."""
    r = await start_sign_up(client, email, password, first_name=first_name, last_name=last_name)
    await kit.services.mailer.drain()
    code = mailbox.last_code(email.strip())
    return await client.post(
        "/auth/sign-up/verify", data={"csrf_token": csrf_of(r.text), "code": code}
    )


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    token = await form_token(client, "/auth/sign-in")
    return await client.post(
        "/auth/sign-in", data={"csrf_token": token, "email": email, "password": password}
    )


async def sign_out(client: httpx.AsyncClient) -> httpx.Response:
    token = await form_token(client, "/auth/user")
    return await client.post("/auth/sign-out", data={"csrf_token": token})


async def open_link(client: httpx.AsyncClient, url: str, *, paste: bool = False) -> httpx.Response:
    """
    Open a mailed link (reset or sign-in) as a browser does; returns the response to the
    step that takes its token (a 303 onward when the link is good). A browser never sends
    the fragment: it fetches the landing page without it, then authkit.js posts the token
    from the fragment with the page's handoff form (`data-ak-link-handoff`). With `paste`
    the visitor has JavaScript off and pastes the whole link into the page's field.
    """
    parts = urlsplit(url)
    landing = await client.get(urlunsplit(("", "", parts.path, parts.query, "")))
    token = parse_qs(parts.fragment).get("token")
    if not token:
        return landing
    action, fields = form_with(
        landing.text, '-link" name="link"' if paste else "data-ak-link-handoff"
    )
    fields["link"] = url if paste else token[0]
    return await client.post(action, data=fields)


def form_with(page: str, marker: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's first form containing `marker`."""
    for form in re.findall(r"<form\b.*?</form>", page, re.S):
        action = re.search(r'\saction="([^"]+)"', form)
        if marker in form and action:
            fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
            return html.unescape(action[1]), {html.unescape(n): html.unescape(v) for n, v in fields}
    raise AssertionError(f"no form with {marker} on the page: {page}")
