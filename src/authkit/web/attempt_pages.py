"""
The pages an attempt walks through, shared by sign-in (`/sign-in/...`) and "Confirm it's
you" (`/reverify/...`): one page per factor (`components/factor_<name>.html`, posting
the factor's fields), "send a new code", and where each step leads. The attempt is
found through a signed cookie and must belong to this browser (its CSRF secret).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..access import auth
from ..context import context_of
from ..errors import AttemptGone
from ..flows.attempts import ATTEMPT_LIFETIME, Attempt, Purpose, Status
from ..flows.email_codes import RESEND_COOLDOWN
from ..flows.factors import STRATEGIES, FactorKind
from ..flows.sign_in import (
    MFA_SETUP,
    Step,
    choose_factor,
    first_factors,
    load_attempt,
    second_factors,
    submit_factor,
)
from ..forms import FactorForm
from .attempt_cookie import AttemptCookie
from .form_post import Posted, post_form
from .helpers import (
    cookies_of,
    meta_of,
    page,
    redirect,
    redirect_target,
    set_session_cookies,
    set_session_token_cookie,
)

__all__ = ["AttemptPages", "Choice", "browser_of"]


def browser_of(request: Request) -> str:
    """This browser's CSRF secret: what binds an attempt to the browser that started it."""
    return cookies_of(request).get(context_of(request).services.settings.cookie_names.csrf, "")


@dataclass(frozen=True, slots=True)
class Choice:
    """Another way to continue, as "Use another method" lists it."""

    name: str
    url: str


@dataclass(frozen=True)
class AttemptPages:
    purpose: Purpose
    #: Where these pages live under the mount: `/sign-in` or `/reverify`.
    prefix: str
    cookie: AttemptCookie

    @classmethod
    def make(cls, purpose: Purpose, prefix: str, cookie_name: str) -> AttemptPages:
        cookie = AttemptCookie(
            cookie_name,
            salt=f"authkit.{purpose.value}_attempt",
            max_age=int(ATTEMPT_LIFETIME.total_seconds()),
        )
        return cls(purpose, prefix, cookie)

    def url(self, request: Request, path: str, target: str) -> str:
        mount = context_of(request).mount_path
        return f"{mount}{self.prefix}{path}?redirect_url={quote(target, safe='')}"

    async def current(self, request: Request) -> Attempt | None:
        """This browser's open attempt, if any (for a step-up: of this very session)."""
        attempt_id = self.cookie.read(request)
        if attempt_id is None:
            return None
        svc = context_of(request).services
        attempt = await load_attempt(
            svc, attempt_id, browser=browser_of(request), purpose=self.purpose
        )
        if attempt is None:
            return None
        if self.purpose == Purpose.REVERIFY and attempt.session_id != auth(request).session_id:
            return None
        return attempt

    async def proceed(
        self, request: Request, attempt: Attempt, target: str, *, chosen: str | None = None
    ) -> Response:
        """Send the browser to the attempt's next page, carrying the attempt cookie. With
        htmx the next step swaps in place (fetch follows the redirect)."""
        if chosen is None and attempt.status == Status.NEEDS_SECOND_FACTOR:
            enrolled = await second_factors(context_of(request).services, attempt)
            chosen = enrolled[0] if enrolled else None
        if attempt.state_of(MFA_SETUP):
            url = self.url(request, "/mfa-setup", target)
        elif chosen is not None:
            url = self.url(request, f"/factor/{chosen}", target)
        else:
            url = self.url(request, "", target)
        response = redirect(request, url, navigate=False)
        self.cookie.set(response, request, attempt.id)
        return response

    def finish(self, request: Request, step: Step, target: str) -> Response:
        """The attempt is complete: the new session's cookies (or the reverified session's
        token), the attempt cookie gone, and on to where the visitor was going."""
        response = redirect(request, target)
        if step.session is not None:
            set_session_cookies(response, request, step.session)
        if step.session_token is not None:
            set_session_token_cookie(response, request, step.session_token)
        self.cookie.clear(response, request)
        return response

    async def after(self, request: Request, step: Step, target: str) -> Response:
        if step.is_complete:
            return self.finish(request, step, target)
        return await self.proceed(request, step.attempt, target)

    async def others(
        self, request: Request, attempt: Attempt, name: str, target: str
    ) -> list[Choice]:
        """The other ways to continue from factor `name`'s page."""
        svc = context_of(request).services
        strategy = STRATEGIES[name]
        if strategy.kind == FactorKind.FIRST:
            names: Sequence[str] = await first_factors(svc, attempt)
            start = self.url(request, "/methods" if self.purpose == Purpose.SIGN_IN else "", target)
            return [Choice(n, start) for n in names if n != name]
        return [
            Choice(n, self.url(request, f"/factor/{n}", target))
            for n in await second_factors(svc, attempt)
            if n != name
        ]

    async def render_factor(
        self,
        request: Request,
        attempt: Attempt,
        name: str,
        form: FactorForm,
        *,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
        notice: str | None = None,
    ) -> Response:
        target = form.redirect_url.data or ""
        strategy = STRATEGIES[name]
        state = attempt.state_of(name)
        sent_at = state.get("sent_at")
        svc = context_of(request).services
        now = svc.clock().timestamp()
        resend_in = 0
        if isinstance(sent_at, int | float):
            resend_in = max(0, int(sent_at + RESEND_COOLDOWN.total_seconds() - now + 0.999))
        context: dict[str, Any] = {
            "form": form,
            "flow": self.purpose.value,
            "factor": name,
            "email": attempt.identifier,
            "action": self.url(request, f"/factor/{name}", target),
            "resend_action": (
                self.url(request, f"/factor/{name}/resend", target)
                if strategy.needs_prepare
                else None
            ),
            "resend_in": resend_in,
            "others": await self.others(request, attempt, name, target),
            "start_over": self.url(request, "", target),
            "notice": notice,
            "same_browser": svc.settings.email_link_same_browser,
            "status_url": (
                self.url(request, "/link/status", target)
                if name == "email_link" and self.purpose == Purpose.SIGN_IN
                else None
            ),
        }
        return page(
            request,
            "factor",
            component=f"factor_{name}",
            errors=errors or {},
            status_code=status_code,
            **context,
        )

    def gone(self, request: Request, target: str) -> Response:
        """No attempt (expired, finished, another browser's): start again."""
        url = self.url(request, "", target) + "&expired=1"
        return redirect(request, url)

    async def factor_endpoint(self, request: Request) -> Response:
        """GET/POST `<prefix>/factor/{name}`: a factor's step."""
        svc = context_of(request).services
        name = str(request.path_params["name"])
        target = redirect_target(request, request.query_params.get("redirect_url"))
        if name not in STRATEGIES or not STRATEGIES[name].has_step_page:
            return self.gone(request, target)
        attempt = await self.current(request)
        if request.method == "GET":
            if attempt is None:
                return self.gone(request, target)
            form = FactorForm(data={"redirect_url": target})
            return await self.render_factor(request, attempt, name, form)

        async def render(form: FactorForm, errors: dict[str, str], status: int) -> Response:
            return await self.render_again(request, attempt, name, form, errors, status)

        async def action(posted: Posted[FactorForm]) -> Response:
            target = redirect_target(request, posted.form.redirect_url.data)
            if attempt is None:
                return self.gone(request, target)
            fields = {"code": posted.form.code.data or ""}
            try:
                step = await submit_factor(
                    svc, attempt, name, fields, browser=browser_of(request), meta=meta_of(request)
                )
            except AttemptGone:
                return self.gone(request, target)
            return await self.after(request, step, target)

        return await post_form(request, FactorForm, render, action)

    async def resend_endpoint(self, request: Request) -> Response:
        """POST `<prefix>/factor/{name}/resend`: a new code or link."""
        svc = context_of(request).services
        name = str(request.path_params["name"])
        attempt = await self.current(request)

        async def render(form: FactorForm, errors: dict[str, str], status: int) -> Response:
            return await self.render_again(request, attempt, name, form, errors, status)

        async def action(posted: Posted[FactorForm]) -> Response:
            target = redirect_target(request, posted.form.redirect_url.data)
            # Only a factor that sends something can send it again.
            if attempt is None or name not in STRATEGIES or not STRATEGIES[name].needs_prepare:
                return self.gone(request, target)
            try:
                ready = await choose_factor(
                    svc,
                    attempt,
                    name,
                    browser=browser_of(request),
                    meta=meta_of(request),
                    again=True,
                )
            except AttemptGone:
                return self.gone(request, target)
            notice = svc.messages("code_resent", email=ready.identifier)
            posted.form.code.data = ""
            return await self.render_factor(request, ready, name, posted.form, notice=notice)

        return await post_form(request, FactorForm, render, action)

    async def render_again(
        self,
        request: Request,
        attempt: Attempt | None,
        name: str,
        form: FactorForm,
        errors: dict[str, str],
        status: int,
    ) -> Response:
        """A factor's page again, with messages (the entered code is kept unless it was
        the wrong one)."""
        if attempt is None or name not in STRATEGIES:
            return self.gone(request, redirect_target(request, form.redirect_url.data))
        if "code" in errors:
            form.code.data = ""
        return await self.render_factor(
            request, attempt, name, form, errors=errors, status_code=status
        )
