"""Steps through the sign-in pipeline's pages, as a browser with JavaScript off takes
them: choosing a method, reading mailed codes and links, setting up an authenticator
app, and making the codes it would show."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx
import pyotp

from authkit import AuthKit

from ..conftest import FakeClock, Mailbox
from .flow_helpers import PASSWORD, form_token

EMAIL = "ada@example.com"


async def choose_method(
    client: httpx.AsyncClient, email: str, method: str, *, redirect_url: str = ""
) -> httpx.Response:
    """Pick a method on "Use another method"; returns the response to the post."""
    token = await form_token(client, "/auth/sign-in/methods")
    return await client.post(
        "/auth/sign-in",
        data={
            "csrf_token": token,
            "email": email,
            "method": method,
            "step": "choose",
            "redirect_url": redirect_url,
        },
    )


async def mailed(kit: AuthKit, mailbox: Mailbox, email: str) -> str:
    """The text of the newest mail to `email` (after the background sends are done)."""
    await kit.services.mailer.drain()
    messages = mailbox.to(email)
    assert messages, f"no mail to {email}"
    return Mailbox.text_of(messages[-1])


def link_in(text: str) -> str:
    """The sign-in link in a mail, without the site: its path and the fragment that
    carries the token (open it with `open_link`, as a browser would)."""
    match = re.search(r"https?://\S+/sign-in/link#token=[\w-]+", text)
    assert match, text
    parts = urlsplit(match.group(0))
    return f"{parts.path}#{parts.fragment}"


async def submit_code(
    client: httpx.AsyncClient, page: httpx.Response, code: str, *, action: str | None = None
) -> httpx.Response:
    """Post `code` to the step page `page` shows (its first form, hidden fields too)."""
    target = action or form_action(page.text)
    return await client.post(target, data={**hidden_fields(page.text), "code": code})


def hidden_fields(page: str, index: int = 0) -> dict[str, str]:
    """The hidden inputs of the page's form number `index`, as a browser posts them."""
    forms = re.findall(r"<form\b.*?</form>", page, re.S)
    assert len(forms) > index, page
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', forms[index]
        )
    }


def form_action(page: str, index: int = 0) -> str:
    actions = re.findall(r'<form[^>]*\saction="([^"]+)"', page)
    assert len(actions) > index, page
    return html.unescape(actions[index])


async def follow(client: httpx.AsyncClient, response: httpx.Response) -> httpx.Response:
    """GET the page a 303 points at."""
    assert response.status_code == 303, response.text
    return await client.get(response.headers["location"])


@dataclass
class Totp:
    secret: str
    recovery_codes: list[str]

    def code(self, clock: FakeClock | datetime, steps: int = 0) -> str:
        now = clock.now if isinstance(clock, FakeClock) else clock
        totp = pyotp.TOTP(self.secret)
        return str(totp.generate_otp(totp.timecode(now) + steps))


def secret_on(page: str) -> str:
    match = re.search(r'<p class="ak-secret"><code>([A-Z2-7 ]+)</code>', page)
    assert match, page
    return match.group(1).replace(" ", "")


def recovery_codes_on(page: str) -> list[str]:
    codes = re.findall(r"<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>", page)
    assert len(codes) == 10, page
    return codes


async def set_up_totp(client: httpx.AsyncClient, clock: FakeClock) -> Totp:
    """Turn on an authenticator app from the security page (the session is fresh, so
    no "Confirm it's you" comes first)."""
    page = await client.get("/auth/user/security/totp")
    assert page.status_code == 200, page.text
    secret = secret_on(page.text)
    done = await submit_code(client, page, pyotp.TOTP(secret).at(clock.now))
    assert done.status_code == 200, done.text
    return Totp(secret, recovery_codes_on(done.text))


async def sign_in_password(
    client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD
) -> httpx.Response:
    token = await form_token(client, "/auth/sign-in")
    return await client.post(
        "/auth/sign-in", data={"csrf_token": token, "email": email, "password": password}
    )


def field_error(page: str, name: str) -> str | None:
    match = re.search(
        rf'<p class="ak-field__error" id="ak-[a-z0-9-]+-{name}-error">(.*?)</p>', page, re.S
    )
    return html.unescape(match.group(1)) if match else None


def alert_text(page: str) -> str | None:
    match = re.search(r'<div class="ak-alert ak-alert--danger" role="alert">(.*?)</div>', page)
    return html.unescape(match.group(1)) if match else None
