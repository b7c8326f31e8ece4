"""
Every way in that checks a guessable secret is throttled alike: a password at sign-in, the
emailed code at sign-up and the emailed code of a password reset each end after the same
5 wrong tries, and each gets the same 30 checks a minute from one IP (SECURITY.md #26).

Not here: passkeys (they do not exist yet); MFA codes (`mfa:*`, in
test_sign_in_pipeline_attacks.py); OAuth, which has no guessable secret and counts its
starts and callbacks against `sign_in:ip` (test_social_login_threats.py). Reset links
carry 256 random bits, so there is no per-link bound, but every link checked counts
against the IP like a code. The limiter's clock follows the test's FakeClock
(throttle_helpers), so no window runs out mid-test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette

from authkit import AuthKit
from authkit.security.codes import MAX_CODE_ATTEMPTS
from authkit.security.ratelimit import DEFAULT_RULES

from ..conftest import Mailbox
from ..hostapp import make_host_app
from ..web.flow_helpers import PASSWORD, csrf_of, open_link, sign_in, start_sign_up
from .throttle_helpers import (
    WRONG_PASSWORD,
    browser_at,
    forgot,
    fresh_ip,
    kit_behind_a_proxy_on_the_test_clock,  # noqa: F401 (the `kit` fixture)
    new_account,
    reset_mail,
    submit_reset_code,
)

pytestmark = pytest.mark.anyio

#: Wrong tries before even the right secret is refused, on every pathway.
BOUND = 5
#: Secrets checked a minute for one IP, on every pathway.
PER_IP = 30

Attempt = Callable[[str], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Pathway:
    name: str
    #: Sets up the target and returns (try a secret in `browser`, the right one, a wrong one).
    start: Callable[
        [Starlette, AuthKit, Mailbox, httpx.AsyncClient, str],
        Awaitable[tuple[Attempt, str, str]],
    ]
    #: The answer once the bound is reached: 429 (wait) or 410 (this attempt is over).
    refused: int


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def _password(
    app: Starlette, kit: AuthKit, mailbox: Mailbox, browser: httpx.AsyncClient, email: str
) -> tuple[Attempt, str, str]:
    await new_account(app, kit, mailbox, email)

    async def attempt(password: str) -> httpx.Response:
        return await sign_in(browser, email, password)

    return attempt, PASSWORD, WRONG_PASSWORD


async def _sign_up_code(
    app: Starlette, kit: AuthKit, mailbox: Mailbox, browser: httpx.AsyncClient, email: str
) -> tuple[Attempt, str, str]:
    page = await start_sign_up(browser, email)
    await kit.services.mailer.drain()
    code = mailbox.last_code(email)

    async def attempt(guess: str) -> httpx.Response:
        return await browser.post(
            "/auth/sign-up/verify", data={"csrf_token": csrf_of(page.text), "code": guess}
        )

    return attempt, code, other_code(code)


async def _reset_code(
    app: Starlette, kit: AuthKit, mailbox: Mailbox, browser: httpx.AsyncClient, email: str
) -> tuple[Attempt, str, str]:
    await new_account(app, kit, mailbox, email)
    r = await forgot(browser, email)
    assert r.status_code == 303, r.text
    code, _ = await reset_mail(kit, mailbox, email)

    async def attempt(guess: str) -> httpx.Response:
        return await submit_reset_code(browser, guess)

    return attempt, code, other_code(code)


PATHWAYS = [
    Pathway("password sign-in", _password, refused=429),
    Pathway("sign-up code", _sign_up_code, refused=410),
    Pathway("reset code", _reset_code, refused=410),
]


def test_the_bounds_are_configured_alike() -> None:
    """One number for every pathway: the first account window and the tries per code."""
    assert DEFAULT_RULES["sign_in:account"].startswith(f"{BOUND}/minute;")
    assert MAX_CODE_ATTEMPTS == BOUND
    assert DEFAULT_RULES["sign_in:ip"].startswith(f"{PER_IP}/minute;")
    assert DEFAULT_RULES["code_verify:ip"].startswith(f"{PER_IP}/minute;")


@pytest.mark.parametrize("wrong_tries", [BOUND - 1, BOUND])
@pytest.mark.parametrize("pathway", PATHWAYS, ids=lambda p: p.name)
async def test_every_pathway_ends_after_the_same_number_of_wrong_tries(
    pathway: Pathway, wrong_tries: int, kit: AuthKit, mailbox: Mailbox
) -> None:
    """4 wrong tries still let the right secret in; after 5 it is refused on every pathway."""
    app = make_host_app(kit)
    async with browser_at(app) as attacker:
        attempt, right, wrong = await pathway.start(
            app, kit, mailbox, attacker, "target@example.com"
        )
        statuses = [(await attempt(wrong)).status_code for _ in range(wrong_tries)]
        assert statuses == [422] * wrong_tries
        r = await attempt(right)
    if wrong_tries < BOUND:
        assert r.status_code == 303, r.text
    else:
        assert r.status_code == pathway.refused, r.text


@pytest.mark.parametrize("pathway", PATHWAYS, ids=lambda p: p.name)
async def test_every_pathway_checks_the_same_number_of_secrets_per_ip(
    pathway: Pathway, kit: AuthKit, mailbox: Mailbox
) -> None:
    """One IP spreading wrong tries over many targets gets 30 checked a minute, then 429."""
    app = make_host_app(kit)
    ip = fresh_ip()
    statuses: list[int] = []
    for n in range(PER_IP // BOUND + 1):
        async with browser_at(app, ip) as attacker:
            attempt, _, wrong = await pathway.start(
                app, kit, mailbox, attacker, f"target{n}@example.com"
            )
            for _ in range(BOUND):
                statuses.append((await attempt(wrong)).status_code)
                if statuses[-1] == 429:
                    break
        if statuses[-1] == 429:
            break
    assert statuses == [422] * PER_IP + [429]


@pytest.mark.parametrize("path", ["/auth/reset-password", "/auth/sign-in/link"])
@pytest.mark.parametrize("shape", ["fragment", "query"])
async def test_mailed_links_are_checked_against_the_same_per_ip_budget(
    kit: AuthKit, path: str, shape: str
) -> None:
    """Made-up reset and sign-in links cost a lookup each, handed over by the landing
    page (the token in the fragment) or in the query of a link mailed before that: 30 a
    minute from one IP, then a 429 that says when to try again, never a 500 or a silent
    410."""
    app = make_host_app(kit)
    statuses: list[int] = []
    landing = f"{path}?link=1" if path.endswith("reset-password") else path
    async with browser_at(app, fresh_ip()) as attacker:
        for n in range(PER_IP + 1):
            token = f"made-up-token-{n:04d}"
            if shape == "fragment":
                r = await open_link(attacker, f"{landing}#token={token}")
            else:
                r = await attacker.get(f"{path}?token={token}")
            statuses.append(r.status_code)
    assert statuses == [410] * PER_IP + [429]
    assert "Too many attempts. Try again in" in r.text
    assert 1 <= int(r.headers["retry-after"]) <= 60
