"""
What the profile's sections show, loaded once per page: the sub-app's `/user` and
`/user/security` pages and a host page embedding `{{ authkit.user_profile(profile) }}`
read the same data through the same functions. Templates never query, so a host endpoint
loads it first:

    profile = await load_profile(request)      # None when signed out
    return templates.TemplateResponse(request, "account.html", {"profile": profile})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import HTTPConnection

from .access import auth, current_user
from .context import context_of
from .flows.activity import recent_activity
from .flows.connected_accounts import list_connected_accounts
from .flows.devices import active_devices
from .flows.email_addresses import list_addresses
from .flows.mfa import mfa_status
from .flows.passkeys import MAX_PASSKEYS, list_passkeys
from .flows.password_change import password_changed_at
from .i18n.locales import language_choices
from .services import Services
from .users import User

__all__ = ["Profile", "Section", "account_section", "load_profile", "security_section"]

Section = Literal["account", "security"]
PROFILE_KEY = "authkit.profile"


@dataclass(frozen=True, slots=True)
class Profile:
    """The signed-in user and what each profile section needs to render."""

    user: User
    account: Mapping[str, Any]
    security: Mapping[str, Any]


async def account_section(svc: Services, user: User) -> dict[str, Any]:
    """The Account section's data: the user's addresses and connected accounts, and the
    providers they could connect still."""
    connected = await list_connected_accounts(svc, user.id)
    linked = {account.provider for account in connected}
    return {
        "user": user,
        "addresses": await list_addresses(svc, user.id),
        "connected_accounts": connected,
        "connectable": [p for p in svc.settings.oauth_providers if p.name not in linked],
        #: (tag, name in its own language) of each language offered, when there is a choice.
        "languages": language_choices(svc.locales.languages) if svc.locales.is_choosable else [],
    }


async def security_section(svc: Services, user: User, session_id: str | None) -> dict[str, Any]:
    """The Security section's data: password, two-step verification, devices, activity."""
    return {
        "user": user,
        "mfa": await mfa_status(svc, user.id),
        "mfa_required": svc.settings.mfa == "required",
        "password_changed_at": await password_changed_at(svc, user.id),
        "devices": await active_devices(svc, user.id, current_session_id=session_id),
        # None when the site cannot offer passkeys (off, or an IP address in base_url).
        "passkeys": (
            await list_passkeys(svc, user.id) if svc.settings.passkey_rp_id is not None else None
        ),
        "max_passkeys": MAX_PASSKEYS,
        "activity": await recent_activity(svc, user.id),
    }


async def load_profile(request: HTTPConnection) -> Profile | None:
    """
    The signed-in user's profile for `authkit.user_profile(profile)`; None when nobody
    is signed in (or the account is gone). Cached on the request.
    """
    cached = request.scope.get(PROFILE_KEY)
    if isinstance(cached, Profile):
        return cached
    user = await current_user(request)
    if user is None:
        return None
    svc = context_of(request).services
    profile = Profile(
        user=user,
        account=await account_section(svc, user),
        security=await security_section(svc, user, auth(request).session_id),
    )
    request.scope[PROFILE_KEY] = profile
    return profile
