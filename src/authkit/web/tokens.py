"""
`GET /tokens/<name>`: a JWT template's token for the signed-in user, for the page's own
fetch to a third party (`{{ authkit.token_url("<name>") }}`): `{"jwt": "..."}` with
`Cache-Control: no-store`; 401 signed out, 404 for a name no template has. A GET that
changes nothing: another site's page cannot read the answer (no CORS headers).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..access import auth, current_user
from ..context import context_of
from ..jwt_templates.minting import mint_for_session
from .json_api import NO_STORE, json_error

__all__ = ["token_endpoint"]


async def token_endpoint(request: Request) -> Response:
    svc = context_of(request).services
    template = svc.jwt_templates.get(str(request.path_params["name"]))
    if template is None:
        return json_error(request, "token_template_unknown", 404)
    user = await current_user(request)
    if user is None:
        return json_error(request, "signed_out", 401)
    token = await mint_for_session(svc, template, user, auth(request))
    return JSONResponse({"jwt": token}, headers=NO_STORE)
