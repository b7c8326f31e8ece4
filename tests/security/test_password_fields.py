"""Password inputs a password manager can work with (SECURITY.md #17, ASVS 6.2.6/6.2.7):
type=password, the right autocomplete tokens, nothing blocking paste, a visible label."""

from __future__ import annotations

import re

import httpx
import pytest

from authkit import AuthKit

from ..conftest import Mailbox
from ..web.flow_helpers import sign_up

pytestmark = pytest.mark.anyio


def _inputs(html: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(r'<input[^>]*\bname="(\w+)"[^>]*>', html)}


@pytest.mark.parametrize(
    ("path", "autocomplete"),
    [("/auth/sign-in", "current-password"), ("/auth/sign-up", "new-password")],
)
async def test_password_fields_are_typed_labelled_and_autocompletable(
    client: httpx.AsyncClient, path: str, autocomplete: str
) -> None:
    """type=password, autocomplete for password managers, a label, and paste allowed."""
    html = (await client.get(path)).text
    field = _inputs(html)["password"]
    assert 'type="password"' in field
    assert f'autocomplete="{autocomplete}"' in field
    component = path.removeprefix("/auth/")
    assert f'<label class="ak-field__label" for="ak-{component}-password">' in html
    for blocker in ("onpaste", "oncopy", "oncut", "ondrop", "readonly"):
        assert blocker not in field
    email = _inputs(html)["email"]
    assert 'type="email"' in email and "autocomplete=" in email


async def test_reset_form_offers_new_password_autocomplete(
    client: httpx.AsyncClient, kit: AuthKit, mailbox: Mailbox
) -> None:
    """The new-password fields of the reset form let a manager generate and save one."""
    await sign_up(client, kit, mailbox, "fields@example.com")
    client.cookies.clear()
    r = await client.get("/auth/forgot-password")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert token
    r = await client.post(
        "/auth/forgot-password", data={"csrf_token": token[1], "email": "fields@example.com"}
    )
    html = (await client.get(r.headers["location"])).text
    fields = _inputs(html)
    assert 'autocomplete="new-password"' in fields["password"]
    assert 'autocomplete="new-password"' in fields["password_confirm"]
    assert 'autocomplete="one-time-code"' in fields["code"]
