"""
Composing the emails flows send: every template gets the site's name, the recipient and
the links back to the site, built from the configured base URL (never the Host header,
so a forged Host cannot point a mailed link at another site).
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..email import render_email
from ..i18n.locales import current_locale, html_lang, text_direction, using_locale
from ..i18n.phrase import Phrase
from ..services import Services
from ..store.models import UserRow
from ..users import primary_address

__all__ = ["NOTICE_LIFETIME", "compose", "notify_owner", "site_url", "user_locale"]

#: A notice about a change to the account is worth sending for a day; after that, noise.
NOTICE_LIFETIME = timedelta(days=1)


async def user_locale(s: AsyncSession, user_id: str) -> str | None:
    """The language the user's emails are written in (None: not chosen)."""
    return (await s.exec(select(UserRow.locale).where(col(UserRow.id) == user_id))).first()


def site_url(svc: Services, path: str) -> str:
    """An absolute URL of the sub-app: `path` is relative to where it is mounted."""
    return svc.settings.base_url.rstrip("/") + svc.mount_path + path


def compose(
    svc: Services, template: str, to: str, *, locale: str | None = None, **context: Any
) -> EmailMessage:
    """
    Render the email `template` (templates/authkit/email/) for `to`, in `locale` (the
    recipient's stored language) when given and still offered, else in the language of
    the request that sends it (the person waiting for a code is on that page).
    """
    offered = svc.locales.offered(locale) if locale else None
    language = offered or current_locale()
    with using_locale(language):
        return _render(svc, template, to, language, context)


def _render(
    svc: Services, template: str, to: str, language: str, context: dict[str, Any]
) -> EmailMessage:
    base = {
        "lang": html_lang(language),
        "dir": text_direction(language),
        "app_name": svc.settings.app_name,
        "email": to,
        "minutes": svc.settings.code_lifetime // 60,
        "sign_in_url": site_url(svc, "/sign-in"),
        "reset_url": site_url(svc, "/forgot-password"),
        "security_url": site_url(svc, "/user/security"),
        "t": svc.messages,
    }
    # A phrase of the table (a built-in role's name) is said in the email's language.
    said = {k: svc.messages(v.code) if isinstance(v, Phrase) else v for k, v in context.items()}
    return render_email(
        svc.templates, template, {**base, **said}, sender=svc.settings.email_from, to=to
    )


async def notify_owner(
    svc: Services, s: AsyncSession, user_id: str, template: str, **context: Any
) -> str | None:
    """Queue the notice `template` to the user's primary address, in the open
    transaction `s` (sent once it commits); its outbox id, or None without an address."""
    owner = await primary_address(s, user_id)
    if owner is None:
        return None
    message = compose(svc, template, owner, locale=await user_locale(s, user_id), **context)
    return await svc.outbox.add(s, message, not_after=svc.clock() + NOTICE_LIFETIME)
