"""
Composing the emails flows send: every template gets the site's name, the recipient and
the links back to the site, built from the configured base URL (never the Host header,
so a forged Host cannot point a mailed link at another site).
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from ..email import render_email
from ..services import Services

__all__ = ["compose", "site_url"]


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
