"""
Composing the emails flows send: every template gets the site's name, the recipient and
the links back to the site, built from the configured base URL (never the Host header,
so a forged Host cannot point a mailed link at another site).
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from ..email import render_email
from ..services import Services
from ..users import primary_address

__all__ = ["NOTICE_LIFETIME", "compose", "notify_owner", "site_url"]

#: A notice about a change to the account is worth sending for a day; after that, noise.
NOTICE_LIFETIME = timedelta(days=1)


def site_url(svc: Services, path: str) -> str:
    """An absolute URL of the sub-app: `path` is relative to where it is mounted."""
    return svc.settings.base_url.rstrip("/") + svc.mount_path + path


def compose(svc: Services, template: str, to: str, **context: Any) -> EmailMessage:
    """Render the email `template` (templates/authkit/email/) for `to`."""
    base = {
        "app_name": svc.settings.app_name,
        "email": to,
        "minutes": svc.settings.code_lifetime // 60,
        "sign_in_url": site_url(svc, "/sign-in"),
        "reset_url": site_url(svc, "/forgot-password"),
        "security_url": site_url(svc, "/user/security"),
    }
    return render_email(
        svc.templates, template, {**base, **context}, sender=svc.settings.email_from, to=to
    )


async def notify_owner(
    svc: Services, s: AsyncSession, user_id: str, template: str, **context: Any
) -> str | None:
    """Queue the notice `template` to the user's primary address, in the open
    transaction `s` (sent once it commits); its outbox id, or None without an address."""
    owner = await primary_address(s, user_id)
    if owner is None:
        return None
    message = compose(svc, template, owner, **context)
    return await svc.outbox.add(s, message, not_after=svc.clock() + NOTICE_LIFETIME)
