"""
What every endpoint shares: reading a bounded form, checking CSRF, rendering a page
with the security headers, setting the session cookies, and safe redirects.
Endpoints only translate HTTP; the rules live in the flows.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import anyio
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from wtforms import Form
from wtforms.validators import Length

from ..access import auth
from ..context import KitContext, context_of, request_cookies, request_meta
from ..cookies import LANGUAGE_COOKIE, LANGUAGE_COOKIE_MAX_AGE, clear_cookie, set_cookie
from ..errors import FlowError, RateLimited
from ..i18n.locales import current_locale, html_lang, text_direction
from ..security.csrf import new_csrf_value
from ..security.redirects import ascii_url, safe_redirect_url
from ..sessions import RequestMeta, SessionStart

#: Where an admin's own refresh token waits while they are signed in as a user.
ACTOR_COOKIE = "__ak_actor"

__all__ = [
    "ACTOR_COOKIE",
    "MAX_FORM_BYTES",
    "SECURITY_HEADERS",
    "UPLOAD_BODY_TIMEOUT_SECONDS",
    "base_context",
    "clear_session_cookies",
    "component_ids",
    "cookies_of",
    "csrf_ok",
    "errors_of",
    "flow_error_page",
    "is_htmx",
    "limit_errors",
    "meta_of",
    "new_csp_nonce",
    "page",
    "read_body",
    "read_form",
    "redirect",
    "redirect_target",
    "security_headers",
    "set_session_cookies",
]

#: No authkit form comes near this; a bigger body is refused before parsing.
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 20
#: A form body (≤ 64 KB) still arriving after this long is a slow-body attack, not a
#: slow network: the request gets a 408 and its connection slot back.
FORM_BODY_TIMEOUT_SECONDS = 10.0
#: A form that uploads a file (post_form's `upload`) may take longer: 10 MB at 2 Mbit/s.
UPLOAD_BODY_TIMEOUT_SECONDS = 60.0
#: The body is handed to the parser in pieces this big, never copied whole.
_PARSE_CHUNK_BYTES = 64 * 1024

#: Sent by the sub-app on every response over https (AuthKit.__call__): browsers that
#: once saw the site over https never fall back to http (ASVS 3.4.1).
HSTS = "max-age=31536000; includeSubDomains"
SECURITY_HEADERS: Mapping[str, str] = {
    # Auth pages carry personal data and one-time forms: never cache them.
    "Cache-Control": "no-store",
    # Pages that run no script at all (error pages, fragments) allow none.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        # The bot check's proof of work runs in Web Workers served by the sub-app.
        "worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # No page that opened ours (or that ours opens) gets a handle on its window.
    "Cross-Origin-Opener-Policy": "same-origin",
}


def security_headers(nonce: str, *, form_origins: Sequence[str] = ()) -> dict[str, str]:
    """SECURITY_HEADERS for a page whose scripts carry `nonce`: only they may run, so
    even a same-origin script an attacker managed to reference is refused. Its forms
    may also lead to `form_origins` (a "Continue with ..." button's redirect to the
    provider is checked against form-action too)."""
    headers = dict(SECURITY_HEADERS)
    policy = headers["Content-Security-Policy"].replace(
        "script-src 'none'", f"script-src 'nonce-{nonce}'"
    )
    if form_origins:
        policy = policy.replace(
            "form-action 'self'", "form-action 'self' " + " ".join(form_origins)
        )
    headers["Content-Security-Policy"] = policy
    return headers


def new_csp_nonce() -> str:
    """128 random bits, fresh for every page."""
    return secrets.token_urlsafe(16)


def cookies_of(request: Request) -> Mapping[str, str]:
    return request_cookies(request.scope)


def meta_of(request: Request) -> RequestMeta:
    return request_meta(context_of(request), request.scope)


async def read_body(request: Request, *, max_bytes: int, timeout: float | None = None) -> bytes:
    """
    The request body, refused with 413 past `max_bytes` (declared or as it arrives: the
    rest is never read), 408 when it takes longer than `timeout` (default
    FORM_BODY_TIMEOUT_SECONDS), and a quiet 400 for a client gone mid-body.
    """
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > max_bytes:
        raise HTTPException(413 if declared.isdigit() else 400)
    body = bytearray()
    try:
        with anyio.fail_after(FORM_BODY_TIMEOUT_SECONDS if timeout is None else timeout):
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise HTTPException(413)
    except TimeoutError:
        raise HTTPException(408) from None
    except ClientDisconnect:
        raise HTTPException(400) from None
    return bytes(body)


async def read_form(
    request: Request,
    *,
    max_bytes: int = MAX_FORM_BYTES,
    max_files: int = 0,
    timeout: float | None = None,
) -> FormData:
    """
    The posted form, refused with 413 past `max_bytes` (declared or as it arrives:
    the rest is never read), 408 when the body takes longer than `timeout` (default
    FORM_BODY_TIMEOUT_SECONDS), and 415 when the body is not a form (JSON to a form
    endpoint, for instance). A client gone mid-body gets a quiet 400, not a logged
    traceback. Files are refused unless `max_files` allows them (multipart only); the
    caller closes them (`await form.close()`).
    """
    body = await read_body(request, max_bytes=max_bytes, timeout=timeout)

    async def once() -> AsyncGenerator[bytes, None]:
        for start in range(0, len(body), _PARSE_CHUNK_BYTES):
            yield bytes(body[start : start + _PARSE_CHUNK_BYTES])

    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == "application/x-www-form-urlencoded":
            return await FormParser(request.headers, once()).parse()
        if content_type == "multipart/form-data":
            return await MultiPartParser(
                request.headers, once(), max_files=max_files, max_fields=MAX_FORM_FIELDS
            ).parse()
    except (MultiPartException, UnicodeDecodeError, ValueError):
        raise HTTPException(400) from None
    raise HTTPException(415)


def csrf_ok(request: Request, form: FormData) -> bool:
    submitted = form.get("csrf_token") or request.headers.get("x-csrf-token")
    return context_of(request).csrf.is_valid(
        submitted=submitted if isinstance(submitted, str) else None,
        cookies=cookies_of(request),
        headers=request.headers,
        own_origin=f"{request.url.scheme}://{request.url.netloc}",
    )


def errors_of(ctx: KitContext, error: FlowError) -> dict[str, str]:
    """A flow error as {field: message}; form-wide errors use the key `__all__`."""
    return {error.field or "__all__": ctx.services.messages(error.code, **error.params)}


def flow_error_page(
    request: Request, name: str, error: FlowError, *, status_code: int = 422, **context: Any
) -> HTMLResponse:
    """Re-render a form with the flow's message; 429 with Retry-After when rate limited."""
    errors = errors_of(context_of(request), error)
    if isinstance(error, RateLimited):
        response = page(request, name, errors=errors, status_code=429, **context)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    return page(request, name, errors=errors, status_code=status_code, **context)


def base_context(request: Request) -> dict[str, Any]:
    """What every page and component template receives."""
    ctx = context_of(request)
    svc = ctx.services
    locale = current_locale()
    lang, direction = html_lang(locale), text_direction(locale)
    theme_attr = (
        Markup(' data-ak-theme="{}"').format(ctx.theme.mode)
        if ctx.theme.mode != "auto"
        else Markup("")
    )
    return {
        "request": request,
        #: The page's language (`lang="pt-BR"`) and direction (`dir="rtl"` for Arabic).
        "lang": lang,
        "dir": direction,
        "locale": locale,
        "app_name": svc.settings.app_name,
        "home_url": svc.settings.home_url,
        "auth": auth(request),
        "csrf_token": ctx.csrf.token(request.scope, cookies_of(request)),
        "mount": svc.mount_path,
        "t": svc.messages,
        "theme": ctx.theme,
        # A forced light or dark mode marks each component's root too, so an embedded
        # component follows it inside a host page that does not.
        "theme_attr": theme_attr,
        #: Every component's root: its language and direction (a German SignIn on an
        #: English host page says so) and the forced theme.
        "root_attrs": Markup(' lang="{}" dir="{}"').format(lang, direction) + theme_attr,
        "errors": {},
        "notice": None,
        "name_fields": svc.settings.name_fields,
        #: open, invite, waitlist or closed: what the sign-up links and pages offer.
        "sign_up_mode": svc.settings.sign_up,
        "password_min_length": svc.settings.password_min_length,
        #: Social login: a "Continue with ..." button each on the sign-in and sign-up pages.
        "oauth_providers": svc.settings.oauth_providers,
        #: Passkeys: the sign-in button and autofill (shown by authkit.js where WebAuthn is).
        "passkeys_enabled": svc.settings.passkey_rp_id is not None,
        #: Bot protection: the honeypot on sign-up and sign-in forms, and the scripts.
        "bot_protection": svc.settings.bot_protection,
        #: Whether a sign-in form asks for the proof of work (after failures from the IP).
        "ask_proof": False,
        "embedded": False,
        "csp_nonce": None,
        "component_id": component_ids(_swap_target_id(request)),
    }


_INSTANCE_ID = re.compile(r"ak-[a-z0-9-]{1,60}")


def component_ids(instance: str | None) -> Callable[[str], str]:
    """
    `component_id(base)` for the templates: the id of the component being rendered, which
    prefixes every id inside it (`ak-sign-in-email`). It is `base`, or `instance` when that
    is this component's numbered id (`ak-sign-in-2`, the second SignIn on a host page), so
    two components on one page never share an id.
    """

    def component_id(base: str) -> str:
        if instance and re.fullmatch(re.escape(base) + r"(-[0-9]{1,3})?", instance):
            return instance
        return base

    return component_id


def _swap_target_id(request: Request) -> str | None:
    """The id of the element an htmx request swaps (`HX-Target: div#ak-sign-in-2`)."""
    if not is_htmx(request):
        return None
    ident = unquote(request.headers.get("hx-target", "")).partition("#")[2]
    return ident if _INSTANCE_ID.fullmatch(ident) else None


def is_htmx(request: Request) -> bool:
    """An htmx request for part of a page (a full-page boosted request is not)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-request-type", "partial") == "partial"
    )


def page(
    request: Request,
    name: str,
    *,
    component: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """
    Render the sub-app page `name` (`authkit/pages/<name>.html`), or only its component
    (`authkit/components/<component or name>.html`) for htmx, which swaps it in place.
    A page shared by several components (a factor's step) gets `component` to include.
    """
    svc = context_of(request).services
    template_name = (
        f"authkit/components/{component or name}.html"
        if is_htmx(request)
        else f"authkit/pages/{name}.html"
    )
    template = svc.templates.get_template(template_name)
    nonce = new_csp_nonce()
    html = template.render(
        {**base_context(request), "csp_nonce": nonce, "component": component, **context}
    )
    headers = security_headers(nonce, form_origins=svc.social.form_origins())
    headers["Vary"] = "HX-Request"
    return HTMLResponse(html, status_code=status_code, headers=headers)


def redirect_target(request: Request, value: str | None, *, default: str | None = None) -> str:
    settings = context_of(request).services.settings
    return safe_redirect_url(
        value, default=default or settings.after_sign_in_url, base_url=settings.base_url
    )


def redirect(request: Request, url: str, *, navigate: bool = True) -> Response:
    """
    Go to `url`: a 303 for plain form posts; for htmx a full navigation (`HX-Redirect`)
    when `navigate`, else a 303 that fetch follows so the next step swaps in place.
    """
    if navigate and is_htmx(request):
        # Headers are Latin-1: a URL built from a request (a host page's path) is sent
        # percent-encoded, never as raw text that would fail after the state changed.
        headers = {"HX-Redirect": ascii_url(url), "Cache-Control": "no-store"}
        return Response(status_code=200, headers=headers)
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def set_language_cookie(response: Response, request: Request, locale: str) -> None:
    """Remember the language a user chose, for every page of the site (a year)."""
    names = context_of(request).services.settings.cookie_names
    response.headers.append(
        "set-cookie",
        set_cookie(
            names.of(LANGUAGE_COOKIE),
            locale,
            max_age=LANGUAGE_COOKIE_MAX_AGE,
            secure=names.secure,
        ).decode("latin-1"),
    )


def set_session_token_cookie(response: Response, request: Request, token: str) -> None:
    """File a session token minted for the session the browser holds (a "Confirm it's
    you", a switch of organization); its refresh token stays."""
    names = context_of(request).services.settings.cookie_names
    response.raw_headers.append(
        (b"set-cookie", set_cookie(names.session, token, max_age=None, secure=names.secure))
    )


def set_session_cookies(response: Response, request: Request, start: SessionStart) -> None:
    names = context_of(request).services.settings.cookie_names
    secure = names.secure
    # A new CSRF secret with every new session: one planted before sign-in is worthless.
    response.raw_headers.append(
        (b"set-cookie", set_cookie(names.csrf, new_csrf_value(), max_age=None, secure=secure))
    )
    response.raw_headers.append(
        (
            b"set-cookie",
            set_cookie(names.session, start.session_token, max_age=None, secure=secure),
        )
    )
    response.raw_headers.append(
        (
            b"set-cookie",
            set_cookie(
                names.refresh, start.refresh_token, max_age=start.refresh_max_age, secure=secure
            ),
        )
    )
    # A sign-in brings the user's chosen language to this browser too.
    locales = context_of(request).services.locales
    if start.locale and locales.is_choosable and locales.offered(start.locale) == start.locale:
        set_language_cookie(response, request, start.locale)


def clear_session_cookies(response: Response, request: Request) -> None:
    """Sign this browser out: its session and refresh cookies, and an admin's own
    refresh token kept aside while they were signed in as a user (impersonation)."""
    svc = context_of(request).services
    names = svc.settings.cookie_names
    for name in (names.session, names.refresh):
        response.raw_headers.append((b"set-cookie", clear_cookie(name, secure=names.secure)))
    response.raw_headers.append(
        (
            b"set-cookie",
            clear_cookie(
                names.of(ACTOR_COOKIE), secure=names.secure, path=names.path(svc.mount_path)
            ),
        )
    )


def limit_errors(ctx: KitContext, form: Form) -> dict[str, str]:
    """Messages for fields over their length limit (WTForms' only job here)."""
    form.validate()
    errors: dict[str, str] = {}
    for name in form.errors:
        limit = next(
            (int(getattr(v, "max", 0)) for v in form[name].validators if isinstance(v, Length)),
            0,
        )
        errors[name] = ctx.services.messages("too_long", max=limit)
    return errors
