"""
Bot protection (AUTHKIT_BOT_PROTECTION, on by default): the honeypot and the ALTCHA proof
of work on sign-up, the waitlist, and sign-in after failures from an IP; forms sent
without the proof work under tighter per-IP limits. Proofs are solved here by ALTCHA's
own Python solver (the browser tests use the real widget). SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import httpx
import pytest
from altcha import Challenge, Payload, solve_challenge
from sqlmodel import select

from authkit import AuthKit
from authkit.security.proof_of_work import CHALLENGE_LIFETIME_SECONDS
from authkit.store.models import VerificationCodeRow, WaitlistEntryRow

from ..conftest import FakeClock, KitFactory, Mailbox
from .flow_helpers import PASSWORD, csrf_of, host_client, sign_up

pytestmark = pytest.mark.anyio

SUSPECTED = "We could not tell that a person sent this form. Please send it again."
TOO_LONG_OPEN = "This form was open for too long. Please send it again."
TOO_MANY = "Too many attempts."


async def protected(make_kit: KitFactory, **settings: Any) -> AuthKit:
    kit = make_kit(bot_protection=True, **settings)
    await kit.ensure_started()
    return kit


async def solved(c: httpx.AsyncClient, purpose: str = "sign_up") -> str:
    """What the widget puts in the form's `altcha` field: a fetched challenge, solved."""
    r = await c.get(f"/auth/bot-check/challenge?for={purpose}")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    challenge = Challenge.from_dict(r.json())
    solution = await asyncio.to_thread(solve_challenge, challenge)
    assert solution is not None
    return Payload(challenge, solution).to_base64()


async def post_sign_up(
    c: httpx.AsyncClient, email: str, *, proof: str = "", honeypot: str = "", **more: str
) -> httpx.Response:
    token = csrf_of((await c.get("/auth/sign-up")).text)
    data = {"csrf_token": token, "email": email, "password": PASSWORD, **more}
    if proof:
        data["altcha"] = proof
    if honeypot:
        data["website"] = honeypot
    return await c.post("/auth/sign-up", data=data)


async def attempts(kit: AuthKit) -> int:
    async with kit.services.db.session() as s:
        return len((await s.exec(select(VerificationCodeRow))).all())


def alert_of(page: str) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)</', page, re.S)
    assert found, page
    return found.group(1).strip()


async def test_the_sign_up_form_carries_the_honeypot_and_the_widget(make_kit: KitFactory) -> None:
    kit = await protected(make_kit)
    async with host_client(kit) as c:
        page = (await c.get("/auth/sign-up")).text
    assert 'name="website"' in page and 'tabindex="-1"' in page
    assert '<div class="ak-honeypot" aria-hidden="true">' in page
    assert re.search(
        r"<altcha-widget[^>]*challenge=\"/auth/bot-check/challenge\?for=sign_up\"", page
    )
    assert 'src="/auth/static/authkit/bot_check.js"' in page and 'type="module"' in page
    await kit.aclose()


async def test_a_solved_proof_passes_once(make_kit: KitFactory, mailbox: Mailbox) -> None:
    kit = await protected(make_kit)
    async with host_client(kit) as c:
        proof = await solved(c)
        r = await post_sign_up(c, "ada@example.com", proof=proof)
        assert r.status_code == 303, r.text
        # The same answer again (a replay, from a script): refused, input kept.
        r = await post_sign_up(c, "grace@example.com", proof=proof, first_name="Grace")
        assert r.status_code == 422, r.text
        assert alert_of(r.text) == SUSPECTED
        assert 'value="grace@example.com"' in r.text and 'value="Grace"' in r.text
        assert PASSWORD not in r.text
    assert await attempts(kit) == 1
    await kit.aclose()


async def test_without_a_proof_the_form_works_under_tighter_limits(make_kit: KitFactory) -> None:
    kit = await protected(make_kit)
    async with host_client(kit) as c:
        # JavaScript off: no proof; three a minute go through (sign_up_unproven:ip).
        for n in range(3):
            r = await post_sign_up(c, f"user{n}@example.com")
            assert r.status_code == 303, r.text
        r = await post_sign_up(c, "user3@example.com", first_name="Kept")
        assert r.status_code == 429, r.text
        assert TOO_MANY in r.text and 'value="Kept"' in r.text
        # A browser that solved the proof is not held back by that limit.
        r = await post_sign_up(c, "user4@example.com", proof=await solved(c))
        assert r.status_code == 303, r.text
    assert await attempts(kit) == 4
    await kit.aclose()


async def test_a_filled_honeypot_is_refused_with_input_kept(make_kit: KitFactory) -> None:
    kit = await protected(make_kit)
    async with host_client(kit) as c:
        r = await post_sign_up(
            c,
            "bot@example.com",
            proof=await solved(c),
            honeypot="https://spam.example",
            first_name="Robo",
            last_name="Tic",
        )
    assert r.status_code == 422, r.text
    assert alert_of(r.text) == SUSPECTED
    assert 'value="bot@example.com"' in r.text and 'value="Robo"' in r.text
    assert "spam.example" not in r.text and PASSWORD not in r.text
    # Refused before anything was done for it: no attempt, no mail.
    assert await attempts(kit) == 0
    await kit.aclose()


def _with_data(proof: str, **changes: Any) -> str:
    """The payload with its challenge's signed data changed (a forgery)."""
    payload = json.loads(base64.b64decode(proof))
    payload["challenge"]["parameters"]["data"].update(changes)
    return base64.b64encode(json.dumps(payload).encode()).decode()


async def test_a_wrong_proof_is_refused(make_kit: KitFactory, clock: FakeClock) -> None:
    kit = await protected(make_kit)
    async with host_client(kit) as c:
        sign_in_proof = await solved(c, "sign_in")
        forged = _with_data(await solved(c), until=2**40)
        wrong_answer = json.loads(base64.b64decode(await solved(c)))
        wrong_answer["solution"]["derivedKey"] = "00" * 32
        for proof in (
            sign_in_proof,  # made for the other form
            forged,
            base64.b64encode(json.dumps(wrong_answer).encode()).decode(),
            "not base64 at all",
            base64.b64encode(b"[1, 2]").decode(),
            "A" * 5000,  # past PAYLOAD_MAX_LENGTH
        ):
            r = await post_sign_up(c, "ada@example.com", proof=proof)
            assert r.status_code == 422, (proof[:40], r.text)
            assert alert_of(r.text) == SUSPECTED
        # Solved, but after the form sat open past the challenge's lifetime.
        late = await solved(c)
        clock.advance(CHALLENGE_LIFETIME_SECONDS + 1)
        r = await post_sign_up(c, "ada@example.com", proof=late)
        assert r.status_code == 422, r.text
        assert alert_of(r.text) == TOO_LONG_OPEN
    assert await attempts(kit) == 0
    await kit.aclose()


async def test_sign_in_asks_for_the_proof_after_failures_from_an_ip(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    kit = await protected(make_kit)
    async with host_client(kit) as c:
        r = await sign_up(c, kit, mailbox, "ada@example.com")
        assert r.status_code == 303, r.text
        await c.post(
            "/auth/sign-out", data={"csrf_token": csrf_of((await c.get("/auth/user")).text)}
        )
        page = (await c.get("/auth/sign-in")).text
        # No failures yet: the honeypot only, no proof of work to slow anyone down.
        assert 'name="website"' in page and "<altcha-widget" not in page

        async def sign_in(
            password: str, proof: str = "", email: str = "ada@example.com"
        ) -> httpx.Response:
            token = csrf_of((await c.get("/auth/sign-in")).text)
            data = {"csrf_token": token, "email": email, "password": password}
            if proof:
                data["altcha"] = proof
            return await c.post("/auth/sign-in", data=data)

        for _ in range(3):
            r = await sign_in("wrong password, surely")
            assert r.status_code == 422, r.text
        # The third failure's own page already carries the widget, and so does the form.
        assert re.search(r"<altcha-widget[^>]*for=sign_in", r.text)
        assert re.search(r"<altcha-widget[^>]*for=sign_in", (await c.get("/auth/sign-in")).text)
        # Without the proof: tighter limits (sign_in_unproven:ip, five a minute; tried on
        # another address, so that ada's own throttle stays out of it).
        for _ in range(5):
            r = await sign_in("wrong password, surely", email="nobody@example.com")
            assert r.status_code == 422, r.text
        r = await sign_in(PASSWORD)
        assert r.status_code == 429, r.text
        assert 'value="ada@example.com"' in r.text
        # With it, the owner's right password signs them in.
        r = await sign_in(PASSWORD, proof=await solved(c, "sign_in"))
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/"
    await kit.aclose()


async def test_the_waitlist_is_protected_too(make_kit: KitFactory) -> None:
    kit = await protected(make_kit, sign_up="waitlist")
    async with host_client(kit) as c:
        page = (await c.get("/auth/waitlist")).text
        assert "<altcha-widget" in page and 'name="website"' in page

        async def join(email: str, **more: str) -> httpx.Response:
            token = csrf_of((await c.get("/auth/waitlist")).text)
            return await c.post(
                "/auth/waitlist", data={"csrf_token": token, "email": email, **more}
            )

        r = await join("bot@example.com", website="x", altcha=await solved(c))
        assert r.status_code == 422 and alert_of(r.text) == SUSPECTED
        assert 'value="bot@example.com"' in r.text
        r = await join("ada@example.com", altcha=await solved(c))
        assert r.status_code == 200 and "ak-alert--success" in r.text, r.text
    async with kit.services.db.session() as s:
        waiting = (await s.exec(select(WaitlistEntryRow.email))).all()
    assert waiting == ["ada@example.com"]
    await kit.aclose()


async def test_challenges_are_limited_per_ip_and_off_means_none(make_kit: KitFactory) -> None:
    kit = await protected(make_kit)
    async with host_client(kit) as c:
        for _ in range(30):
            assert (await c.get("/auth/bot-check/challenge?for=sign_in")).status_code == 200
        r = await c.get("/auth/bot-check/challenge?for=sign_in")
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert TOO_MANY in r.json()["error"]
        assert (await c.get("/auth/bot-check/challenge?for=admin")).status_code == 404
    await kit.aclose()
    kit = make_kit(bot_protection=False)
    async with host_client(kit) as c:
        assert (await c.get("/auth/bot-check/challenge?for=sign_up")).status_code == 404
        page = (await c.get("/auth/sign-up")).text
        assert "<altcha-widget" not in page and 'name="website"' not in page
        assert "bot_check.js" not in page
        # Off, a filled "website" is nobody's business.
        r = await post_sign_up(c, "ada@example.com", honeypot="x")
        assert r.status_code == 303, r.text
    await kit.aclose()


async def test_pages_let_the_proof_of_work_run_in_workers_from_the_sub_app(
    make_kit: KitFactory,
) -> None:
    kit = await protected(make_kit)
    async with host_client(kit) as c:
        r = await c.get("/auth/sign-up")
    policy = r.headers["content-security-policy"]
    assert "worker-src 'self'" in policy and "script-src 'nonce-" in policy
    await kit.aclose()
