"""
Bot protection's HTTP side: `GET /bot-check/challenge?for=sign_up|sign_in`, where the
ALTCHA widget fetches its challenge (a GET that changes nothing, so no CSRF token), and
reading what a form carried for flows/bot_check.py.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..context import context_of
from ..errors import RateLimited
from ..flows.bot_check import BotEvidence, issue_challenge
from ..forms import BotCheckFields
from ..security.proof_of_work import PURPOSES
from .helpers import meta_of
from .json_api import NO_STORE, json_error

__all__ = ["challenge_endpoint", "evidence_of"]


async def challenge_endpoint(request: Request) -> Response:
    svc = context_of(request).services
    purpose = request.query_params.get("for", "")
    if not svc.settings.bot_protection or purpose not in PURPOSES:
        raise HTTPException(404)
    try:
        challenge = await issue_challenge(svc, purpose, meta_of(request))
    except RateLimited as limited:
        response = json_error(request, limited.code, 429, limited.params)
        response.headers["Retry-After"] = str(limited.retry_after)
        return response
    return JSONResponse(challenge, headers=NO_STORE)


def evidence_of(form: BotCheckFields) -> BotEvidence:
    """The proof and the honeypot as the form posted them (absent: empty)."""
    return BotEvidence(proof=form.altcha.data or "", honeypot=form.website.data or "")
