"""
The Account section's connected accounts: connect another provider account
(`/user/connected-accounts/connect/<name>`, after "Confirm it's you", then the round trip
to the provider, whose callback is social.py's) and disconnect one
(`/user/connected-accounts/<id>/remove`, confirmed; never the last way to sign in).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..access import auth
from ..context import context_of
from ..flows.connected_accounts import disconnect_account, list_connected_accounts
from ..flows.social import ProviderSignInFailed, begin_provider_sign_in
from ..users import User
from .attempt_pages import browser_of
from .confirm import confirm_then
from .helpers import meta_of, redirect
from .profile_pages import signed_in_page
from .reverify import require_reverification
from .sign_in import SIGN_IN
from .social import callback_uri

__all__ = ["CONNECTED_PATH", "connect_endpoint", "disconnect_endpoint"]

CONNECTED_PATH = "/user/connected-accounts"
ACCOUNT_PATH = "/user"


@signed_in_page
async def connect_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/connected-accounts/connect/<name>`: confirm, then the provider."""
    svc = context_of(request).services
    provider = svc.settings.oauth_provider(str(request.path_params["name"]))
    if provider is None:
        raise HTTPException(404)
    here = f"{CONNECTED_PATH}/connect/{provider.name}"
    refused = await require_reverification(request, here)
    if refused is not None:
        return refused

    async def then() -> Response:
        try:
            attempt, url = await begin_provider_sign_in(
                svc,
                provider,
                redirect_uri=callback_uri(request, provider),
                return_to=f"{svc.mount_path}{ACCOUNT_PATH}",
                browser=browser_of(request),
                meta=meta_of(request),
                connect_for=(user.id, auth(request).session_id or ""),
            )
        except ProviderSignInFailed as failed:
            failed.params = {"provider": provider.label}
            raise
        response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
        SIGN_IN.cookie.set(response, request, attempt.id)
        return response

    return await confirm_then(
        request,
        title=svc.messages("oauth_connect_title", provider=provider.label),
        text=svc.messages("oauth_connect_text", provider=provider.label),
        submit=svc.messages("oauth_connect_submit", provider=provider.label),
        action=f"{svc.mount_path}{here}",
        cancel_url=f"{svc.mount_path}{ACCOUNT_PATH}",
        danger=False,
        then=then,
        leaves_site=True,
    )


@signed_in_page
async def disconnect_endpoint(request: Request, user: User) -> Response:
    """GET/POST `/user/connected-accounts/<id>/remove`: confirm, then unlink."""
    svc = context_of(request).services
    account_id = str(request.path_params["account_id"])
    found = next(
        (a for a in await list_connected_accounts(svc, user.id) if a.id == account_id), None
    )
    if found is None:
        raise HTTPException(404)

    async def then() -> Response:
        await disconnect_account(svc, user_id=user.id, account_id=found.id, meta=meta_of(request))
        return redirect(request, f"{svc.mount_path}{ACCOUNT_PATH}?done=account_disconnected")

    return await confirm_then(
        request,
        title=svc.messages("oauth_disconnect_title", provider=found.label),
        text=svc.messages("oauth_disconnect_text", provider=found.label, email=found.email),
        submit=svc.messages("oauth_disconnect_submit"),
        action=f"{svc.mount_path}{CONNECTED_PATH}/{found.id}/remove",
        cancel_url=f"{svc.mount_path}{ACCOUNT_PATH}",
        danger=True,
        then=then,
    )
