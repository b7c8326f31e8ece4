"""Bad input on every form of the sign-in pipeline: over-long, empty, non-digit and
non-ASCII codes, a forged method, a ten-thousand-character address. Each gets a message
beside its field (or the whole form), keeps what was typed except secrets, and never
answers 500."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.flows.admin import create_user

from ..conftest import FakeClock
from .flow_helpers import PASSWORD
from .pipeline_helpers import (
    EMAIL,
    alert_text,
    choose_method,
    field_error,
    follow,
    hidden_fields,
    set_up_totp,
    sign_in_password,
)

pytestmark = pytest.mark.anyio

BAD_CODES = {
    "empty": ("", None),
    "letters": ("abcdef", None),
    "too long": ("1" * 41, "This is too long: at most 40 characters."),
    "non-ascii": ("١٢٣٤٥٦", None),  # Arabic-Indic digits are not our digits
    "nul": ("12\x003456", None),
}


async def make_user(kit: AuthKit) -> None:
    await kit.ensure_started()
    await create_user(kit.services, email=EMAIL, password=PASSWORD)


@pytest.mark.parametrize("case", list(BAD_CODES), ids=list(BAD_CODES))
async def test_bad_codes_on_every_code_step_get_a_message_beside_the_field(
    client: httpx.AsyncClient, app: Starlette, kit: AuthKit, clock: FakeClock, case: str
) -> None:
    """The email-code step, the app step, the recovery step and the set-up: 422 with a
    sentence next to `code`, the page (and its redirect_url) kept."""
    code, expected = BAD_CODES[case]
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    setup = await client.get("/auth/user/security/totp")
    r = await client.post(
        "/auth/user/security/totp", data={**hidden_fields(setup.text), "code": code}
    )
    assert r.status_code == 422 and field_error(r.text, "code"), r.text
    await set_up_totp(client, clock)
    client.cookies.clear()
    clock.advance(31)
    steps = []
    second = await sign_in_password(client)
    steps.append(await client.get(second.headers["location"]))
    recovery = second.headers["location"].replace("/totp", "/recovery_code")
    steps.append(await client.get(recovery))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as other:
        steps_other = [await follow(other, await choose_method(other, EMAIL, "email_code"))]
        for page in steps_other:
            action = page.url.raw_path.decode()
            fields = {**hidden_fields(page.text), "code": code, "redirect_url": "/dashboard"}
            r = await other.post(action, data=fields)
            assert r.status_code == 422, r.text
            assert field_error(r.text, "code"), r.text
            assert 'name="redirect_url" value="/dashboard"' in r.text
    for page in steps:
        action = page.url.raw_path.decode()
        fields = {**hidden_fields(page.text), "code": code, "redirect_url": "/dashboard"}
        r = await client.post(action, data=fields)
        assert r.status_code == 422, (action, r.text)
        message = field_error(r.text, "code")
        assert message, r.text
        if expected:
            assert message == expected
        assert 'name="redirect_url" value="/dashboard"' in r.text


async def test_a_forged_method_and_a_huge_address_on_the_first_page(
    client: httpx.AsyncClient, kit: AuthKit
) -> None:
    """An unknown method is a sentence for the form; a 10,000-character address is a
    sentence beside the field; the typed address comes back."""
    await make_user(kit)
    r = await choose_method(client, EMAIL, "sms_code")
    assert r.status_code == 422 and alert_text(r.text) == "That sign-in method is not available."
    assert 'value="ada@example.com"' in r.text
    r = await choose_method(client, "a" * 10_000 + "@example.com", "email_code")
    assert r.status_code == 422
    assert field_error(r.text, "email") == "This is too long: at most 254 characters."
    r = await choose_method(client, "not an address", "email_link")
    assert r.status_code == 422 and field_error(r.text, "email") == "Enter a valid email address."
    assert 'value="not an address"' in r.text


async def test_a_wrong_password_on_confirm_its_you_keeps_the_page(
    client: httpx.AsyncClient, kit: AuthKit, clock: FakeClock
) -> None:
    """Empty, over-long and wrong passwords: a message beside the field, never echoed."""
    await make_user(kit)
    assert (await sign_in_password(client)).status_code == 303
    page = await client.get("/auth/reverify?redirect_url=%2Fdashboard")
    for password, message in [
        ("", "This field is required."),
        # Longer than any password: the usual answer, without hashing (as at sign-in).
        ("x" * 5000, "The email or password is incorrect."),
        ("not the password at all", "The email or password is incorrect."),
    ]:
        r = await client.post(
            "/auth/reverify", data={**hidden_fields(page.text), "password": password}
        )
        assert r.status_code == 422, r.text
        assert field_error(r.text, "password") == message
        assert 'name="redirect_url" value="/dashboard"' in r.text
        if password:
            assert password[:20] not in r.text
