"""
The profile picture: upload (`POST /user/avatar`, a multipart form that works without
JavaScript), remove (`POST /user/avatar/remove`), and serve it
(`GET /avatars/<user_id>/<hash>.webp`). Served pictures are public, like Clerk's image
URLs: the hash in the URL is unguessable and changes with every upload, so a URL is
cached for ever and a stale one answers 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from wtforms import Form

from ..context import context_of
from ..errors import FieldError
from ..flows.avatars import FIELD, avatar_image, remove_avatar, set_avatar
from ..forms import AvatarForm, ConfirmForm
from ..images import AVATAR_MAX_BYTES
from ..request_auth import USER_KEY
from ..users import User, get_user
from .account import account_page
from .form_post import Posted, Upload, post_form
from .helpers import meta_of, redirect
from .profile_pages import signed_in_page

__all__ = [
    "NOT_FOUND_HEADERS",
    "UPLOAD",
    "avatar_endpoint",
    "avatar_image_endpoint",
    "avatar_remove_endpoint",
    "image_response",
]

#: How the picture is served: cached for ever (its URL changes with it), never sniffed
#: as anything but an image, and no script or frame if it is opened on its own.
IMAGE_HEADERS: Mapping[str, str] = {
    "Content-Type": "image/webp",
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
}
NOT_FOUND_HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
MAX_MB = AVATAR_MAX_BYTES // 2**20
UPLOAD = Upload(
    max_bytes=AVATAR_MAX_BYTES, too_large=FieldError("image_too_large", field=FIELD, max_mb=MAX_MB)
)


def _renderer(
    request: Request, user: User
) -> Callable[[Form, dict[str, str], int], Awaitable[Response]]:
    async def render(form: Form, errors: dict[str, str], status: int) -> Response:
        # A form-wide message (an expired form) belongs beside this form's own field,
        # not the names form's.
        message = errors.get(FIELD) or errors.get("__all__") or ""
        return await account_page(request, user, errors={FIELD: message}, status_code=status)

    return render


async def _done(request: Request, flag: str) -> Response:
    # Redirected after the post, so a reload does not upload again; htmx follows the
    # 303 and swaps the section in place.
    svc = context_of(request).services
    return redirect(request, f"{svc.mount_path}/user?done={flag}", navigate=False)


@signed_in_page
async def avatar_endpoint(request: Request, user: User) -> Response:
    """POST `/user/avatar`: make the uploaded file the user's picture."""
    svc = context_of(request).services

    async def action(posted: Posted[AvatarForm]) -> Response:
        upload = posted.form.image.data
        data = b""
        if isinstance(upload, UploadFile):
            # One byte more than allowed is enough to know it is too large.
            data = await upload.read(AVATAR_MAX_BYTES + 1)
        await set_avatar(svc, user_id=user.id, data=data, meta=meta_of(request))
        request.scope[USER_KEY] = await get_user(svc, user.id)  # the cached copy is stale
        return await _done(request, "avatar_updated")

    return await post_form(request, AvatarForm, _renderer(request, user), action, upload=UPLOAD)


@signed_in_page
async def avatar_remove_endpoint(request: Request, user: User) -> Response:
    """POST `/user/avatar/remove`: back to initials. Only ever the signed-in user's."""
    svc = context_of(request).services

    async def action(posted: Posted[ConfirmForm]) -> Response:
        await remove_avatar(svc, user_id=user.id, meta=meta_of(request))
        request.scope[USER_KEY] = await get_user(svc, user.id)
        return await _done(request, "avatar_removed")

    return await post_form(request, ConfirmForm, _renderer(request, user), action)


async def avatar_image_endpoint(request: Request) -> Response:
    """GET `/avatars/<user_id>/<hash>.webp`: the picture, public; 404 once replaced."""
    svc = context_of(request).services
    user_id = request.path_params["user_id"]
    content_hash = request.path_params["content_hash"]
    data = await avatar_image(svc, user_id, content_hash)
    if data is None:
        return Response(status_code=404, headers=dict(NOT_FOUND_HEADERS))
    return image_response(request, data, content_hash)


def image_response(request: Request, data: bytes, content_hash: str) -> Response:
    """A stored WebP (a picture or a logo) named by its hash: cached for ever, 304 when
    the browser has it."""
    etag = f'"{content_hash}"'
    headers = {**IMAGE_HEADERS, "ETag": etag}
    if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    return Response(data, headers=headers)
