"""
`POST /user/metadata`: a signed-in user's own `unsafe_metadata`, from the page's script
(Clerk's `user.update({unsafeMetadata})`). `{"unsafe_metadata": {...}}` replaces it;
with `"merge": true` it is merged (null removes a key). Public and private metadata are
the server's: naming them is refused. Answers `{"unsafe_metadata": ...}` as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..access import current_user
from ..context import context_of
from ..flows.metadata import replace_metadata, update_metadata
from .helpers import meta_of
from .json_api import NO_STORE, json_endpoint, json_error

__all__ = ["metadata_endpoint"]

_KNOWN = {"unsafe_metadata", "merge"}


async def _update_own_metadata(request: Request, data: Mapping[str, Any]) -> Response:
    # A banned user's token lives out its minute: the account is read, not the token.
    user = await current_user(request)
    if user is None:
        return json_error(request, "signed_out", 401)
    if set(data) - _KNOWN or "unsafe_metadata" not in data:
        return json_error(request, "metadata_forbidden", 403)
    svc = context_of(request).services
    patch = data["unsafe_metadata"]
    meta = meta_of(request)
    if data.get("merge") is True:
        stored = await update_metadata(
            svc, user.id, {"unsafe_metadata": patch}, meta=meta, by="user"
        )
    else:
        stored = await replace_metadata(
            svc, user.id, {"unsafe_metadata": patch}, meta=meta, by="user"
        )
    if stored is None:
        return json_error(request, "signed_out", 401)
    return JSONResponse({"unsafe_metadata": stored["unsafe_metadata"]}, headers=NO_STORE)


metadata_endpoint = json_endpoint(_update_own_metadata, malformed="metadata_not_object")
