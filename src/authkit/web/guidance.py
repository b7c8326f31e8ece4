"""
Live password guidance: while a visitor types a new password, htmx posts it here and
swaps in which rules it meets. A POST, so the password never lands in a URL or a log;
nothing is stored and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..context import context_of
from ..i18n.phrase import Phrase
from ..security.passwords import password_guidance
from .helpers import SECURITY_HEADERS, base_context, read_form

__all__ = ["password_guidance_endpoint"]


@dataclass(frozen=True, slots=True)
class Check:
    text: str
    is_met: bool


async def password_guidance_endpoint(request: Request) -> Response:
    ctx = context_of(request)
    settings = ctx.services.settings
    t = ctx.services.messages
    form = await read_form(request)
    # "new_password" on the profile's password form, "password" everywhere else.
    typed = form.get("password") or form.get("new_password") or ""
    password = str(typed)[: settings.password_max_length + 1]
    email = str(form.get("email") or "")[:254] or None
    failures = dict(
        password_guidance(
            password,
            min_length=settings.password_min_length,
            max_length=settings.password_max_length,
            email=email,
            # The names typed beside it (sign-up) are easy guesses too.
            context_words=(
                settings.app_name,
                *(str(form.get(name) or "")[:100] for name in ("first_name", "last_name")),
            ),
            min_score=settings.password_min_score,
        )
    )
    checks = []
    advice = None
    if password:
        checks = [
            Check(
                t("guidance_length", min=settings.password_min_length),
                not failures.keys() & {"password_too_short", "password_too_long"},
            ),
            Check(t("guidance_hard_to_guess"), "password_too_weak" not in failures),
        ]
        if email:
            checks.append(Check(t("guidance_not_email"), "password_is_email" not in failures))
        weak = failures.get("password_too_weak")
        # zxcvbn's advice once the length is met: before, "too short" says it all.
        if weak and "password_too_short" not in failures:
            given = weak["advice"]
            advice = t(given.code) if isinstance(given, Phrase) else str(given)
    template = ctx.services.templates.get_template("authkit/components/password_guidance.html")
    html = template.render({**base_context(request), "checks": checks, "advice": advice})
    return HTMLResponse(html, headers=dict(SECURITY_HEADERS))
