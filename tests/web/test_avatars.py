"""
The profile picture: upload (PNG, JPEG, GIF, WebP) re-encoded to a clean 256 px WebP,
served publicly with long-lived caching under a URL that changes with it, removed again;
bad uploads refused beside the field, never a 500; CSRF, throttling, another user's
picture untouched; the Python API. On SQLite and PostgreSQL. The test images are made
with Pillow here.
"""

from __future__ import annotations

import io
import re
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from PIL import Image, ImageCms
from sqlmodel import select
from starlette.applications import Starlette

from authkit import AuthKit
from authkit import images as images_module
from authkit.errors import FieldError
from authkit.images import AVATAR_MAX_BYTES, DECODE_CONCURRENCY, make_avatar, make_avatar_sync
from authkit.store.models import AuditEventRow, AvatarRow

from .flow_helpers import PASSWORD, sign_in
from .pipeline_helpers import hidden_fields

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
OTHER = "grace@example.com"
UPLOAD = "/auth/user/avatar"
REMOVE = "/auth/user/avatar/remove"
ERROR = re.compile(r'id="ak-user-profile-image-error">([^<]*)<')
IMAGE_URL = re.compile(r'src="(/auth/avatars/[^"]+\.webp)"')
RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (40, 60, 230)


# -- images made here ----------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png(size: tuple[int, int] = (320, 200), color: tuple[int, ...] = RED) -> bytes:
    return encode(Image.new("RGB", size, color), "PNG")


def animated_gif() -> bytes:
    """Three frames, red first: only the first may be kept."""
    frames = [Image.new("RGB", (120, 120), c) for c in (RED, GREEN, BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)


def jpeg_with_exif() -> bytes:
    """Landscape with a blue top strip, EXIF orientation 6 (turn 90° clockwise to
    display) and a GPS position: shown upright, the strip is on the right."""
    image = Image.new("RGB", (400, 200), RED)
    image.paste(BLUE, (0, 0, 400, 50))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    exif[0x010F] = "Camera maker"
    return encode(image, "JPEG", exif=exif.tobytes(), quality=95)


def webp_with_alpha() -> bytes:
    return encode(Image.new("RGBA", (200, 300), (*GREEN, 128)), "WEBP")


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )


def webp_declaring(width: int, height: int) -> bytes:
    """A small extended WebP whose header claims a width x height canvas."""
    data = bytearray(webp_with_alpha())
    assert data[12:16] == b"VP8X"
    data[24:27] = (width - 1).to_bytes(3, "little")
    data[27:30] = (height - 1).to_bytes(3, "little")
    return bytes(data)


def gif_js_polyglot() -> bytes:
    """A valid GIF that is also a script, built as GIF/JS polyglots are: the logical
    screen width is the bytes `/*`, so `GIF89a/*` opens a JS comment, which a GIF
    comment block closes before `=1;alert(1);`."""
    gif = bytearray(encode(Image.new("P", (40, 40), 1), "GIF"))
    gif[6:8] = b"/*"
    script = b"*/=1;alert(1);//"
    comment = b"\x21\xfe" + bytes([len(script)]) + script + b"\x00"
    return bytes(gif[:-1]) + comment + b"\x3b"


def png_with_zip() -> bytes:
    """A PNG with a ZIP archive appended (it opens as either)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("payload.html", "<script>alert(1)</script>")
    return png() + archive.getvalue()


def webp_chunks(data: bytes) -> list[bytes]:
    """The RIFF chunk names of a WebP file."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", data[:16]
    names, i = [], 12
    while i < len(data):
        size = int.from_bytes(data[i + 4 : i + 8], "little")
        names.append(data[i : i + 4])
        i += 8 + size + (size & 1)
    return names


# -- steps -----------------------------------------------------------------------------------


@pytest.fixture
async def started(kit: AuthKit) -> AsyncIterator[AuthKit]:
    await kit.ensure_started()
    yield kit
    await kit.aclose()  # no pooled connection outlives the test's event loop


@pytest.fixture
def site(app: Starlette, started: AuthKit) -> Starlette:
    return app


def browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def signed_in(kit: AuthKit, client: httpx.AsyncClient, email: str = EMAIL) -> str:
    user = await kit.users.create(email=email, password=PASSWORD, first_name="Ada")
    assert (await sign_in(client, email)).status_code == 303
    return user.id


async def account(client: httpx.AsyncClient) -> str:
    r = await client.get("/auth/user")
    assert r.status_code == 200, r.text
    return r.text


async def upload(
    client: httpx.AsyncClient,
    data: bytes,
    *,
    filename: str = "picture.png",
    content_type: str = "image/png",
    csrf: bool = True,
) -> httpx.Response:
    fields = hidden_fields(await account(client)) if csrf else {}
    return await client.post(UPLOAD, data=fields, files={"image": (filename, data, content_type)})


async def remove(client: httpx.AsyncClient, **extra: str) -> httpx.Response:
    return await client.post(REMOVE, data={**hidden_fields(await account(client)), **extra})


async def image_url(client: httpx.AsyncClient) -> str | None:
    found = IMAGE_URL.search(await account(client))
    return found.group(1) if found else None


async def served(client: httpx.AsyncClient) -> Image.Image:
    url = await image_url(client)
    assert url is not None
    r = await client.get(url)
    assert r.status_code == 200, r.status_code
    assert r.headers["content-type"] == "image/webp"
    assert set(webp_chunks(r.content)) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}, webp_chunks(
        r.content
    )
    image = Image.open(io.BytesIO(r.content))
    assert image.format == "WEBP" and image.size == (256, 256)
    assert not getattr(image, "is_animated", False)
    assert not image.getexif() and "xmp" not in image.info and "icc_profile" not in image.info
    return image


def near(pixel: tuple[int, ...], color: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 30 for a, b in zip(pixel[:3], color, strict=True))


async def events(kit: AuthKit) -> list[str]:
    async with kit.services.db.session() as s:
        return list((await s.exec(select(AuditEventRow.event))).all())


# -- upload and serving ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("picture.png", png(), "image/png"),
        ("photo.jpg", jpeg_with_exif(), "image/jpeg"),
        ("moving.gif", animated_gif(), "image/gif"),
        ("see-through.webp", webp_with_alpha(), "image/webp"),
    ],
    ids=["png", "jpeg-exif-gps", "animated-gif", "webp-alpha"],
)
async def test_each_format_becomes_a_clean_256_px_webp(
    site: Starlette, kit: AuthKit, name: str, data: bytes, content_type: str
) -> None:
    """PNG, JPEG, GIF and WebP are re-encoded: 256x256 WebP, one frame, no metadata."""
    async with browser(site) as c:
        user_id = await signed_in(kit, c)
        assert await image_url(c) is None
        r = await upload(c, data, filename=name, content_type=content_type)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/auth/user?done=avatar_updated"
        page = (await c.get(r.headers["location"])).text
        assert "Your profile picture was updated." in page
        assert f'src="/auth/avatars/{user_id}/' in page
        assert re.search(r'<img class="ak-avatar ak-avatar--xl" src="[^"]+" alt="Ada"', page)
        image = await served(c)
    centre = image.convert("RGB").getpixel((128, 128))
    assert isinstance(centre, tuple)
    if name.endswith(".gif"):
        assert near(centre, RED), centre  # the first frame
    if name.endswith(".jpg"):
        # Turned upright: the blue strip that was on top is now on the right.
        right = image.convert("RGB").getpixel((250, 128))
        left = image.convert("RGB").getpixel((5, 128))
        assert isinstance(right, tuple) and isinstance(left, tuple)
        assert near(right, BLUE) and near(left, RED), (left, right)
    if name.endswith(".webp"):
        assert image.mode == "RGBA"
    assert "profile.image_updated" in await events(kit)


async def test_the_picture_is_served_public_immutable_and_never_sniffed(
    site: Starlette, kit: AuthKit
) -> None:
    """Cached for a year (the URL changes with it), ETag, nosniff, a CSP of 'none'."""
    async with browser(site) as c:
        await signed_in(kit, c)
        assert (await upload(c, png())).status_code == 303
        url = await image_url(c)
        assert url is not None
    async with browser(site) as anonymous:  # public, like Clerk's image URLs
        r = await anonymous.get(url)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
        assert "set-cookie" not in r.headers
        etag = r.headers["etag"]
        assert etag.strip('"') in url
        again = await anonymous.get(url, headers={"if-none-match": etag})
        assert again.status_code == 304 and again.content == b""
        head = await anonymous.head(url)
        assert head.status_code == 200 and head.headers["content-type"] == "image/webp"


async def test_a_replaced_picture_and_unknown_names_are_404(site: Starlette, kit: AuthKit) -> None:
    """The old URL dies with a new upload; made-up users, hashes and suffixes are 404."""
    async with browser(site) as c:
        user_id = await signed_in(kit, c)
        assert (await upload(c, png(color=RED))).status_code == 303
        old = await image_url(c)
        assert (await upload(c, png(color=GREEN))).status_code == 303
        new = await image_url(c)
        assert old and new and old != new
        assert (await c.get(old)).status_code == 404
        assert (await c.get(new)).status_code == 200
        content_hash = new.rsplit("/", 1)[1].removesuffix(".webp")
        for path in (
            f"/auth/avatars/user_nobody/{content_hash}.webp",
            f"/auth/avatars/{user_id}/{'0' * 64}.webp",
            f"/auth/avatars/{user_id}/{content_hash[:10]}.webp",
            f"/auth/avatars/{user_id}/{content_hash}.png",
            f"/auth/avatars/{user_id}/{content_hash}",
        ):
            r = await c.get(path)
            assert r.status_code == 404, path
            assert r.headers["cache-control"] == "no-store"


async def test_removing_brings_the_initials_back(site: Starlette, kit: AuthKit) -> None:
    """Remove deletes the row; the page shows initials and no Remove button."""
    async with browser(site) as c:
        await signed_in(kit, c)
        assert 'action="/auth/user/avatar/remove"' not in await account(c)
        assert (await upload(c, png())).status_code == 303
        url = await image_url(c)
        assert url and 'action="/auth/user/avatar/remove"' in await account(c)
        r = await remove(c)
        assert r.status_code == 303 and r.headers["location"] == "/auth/user?done=avatar_removed"
        page = (await c.get(r.headers["location"])).text
        assert "Your profile picture was removed." in page
        assert IMAGE_URL.search(page) is None
        assert re.search(r'<span class="ak-avatar ak-avatar--xl" aria-hidden="true">A</span>', page)
        assert (await c.get(url)).status_code == 404
    async with kit.services.db.session() as s:
        assert (await s.exec(select(AvatarRow))).all() == []
    assert "profile.image_removed" in await events(kit)


async def test_the_user_button_shows_the_picture(site: Starlette, kit: AuthKit) -> None:
    """Everywhere the avatar appears (the UserButton on a host page too)."""
    async with browser(site) as c:
        await signed_in(kit, c)
        assert (
            'class="ak-avatar ak-avatar--md" aria-hidden="true">A<'
            in (await c.get("/embedded")).text
        )
        assert (await upload(c, png())).status_code == 303
        url = await image_url(c)
        host_page = (await c.get("/embedded")).text
        assert f'<img class="ak-avatar ak-avatar--md" src="{url}" alt="Ada" width="32"' in host_page


async def test_the_embedded_profile_has_the_picture_row(site: Starlette, kit: AuthKit) -> None:
    """`{{ authkit.user_profile(profile) }}` in a host page: the same row and picture."""
    async with browser(site) as c:
        await signed_in(kit, c)
        assert (await upload(c, png())).status_code == 303
        url = await image_url(c)
        embedded = (await c.get("/embedded-profile")).text
        assert 'action="/auth/user/avatar"' in embedded
        assert 'enctype="multipart/form-data"' in embedded
        assert f'src="{url}"' in embedded and 'action="/auth/user/avatar/remove"' in embedded


async def test_htmx_upload_swaps_the_section_in_place(site: Starlette, kit: AuthKit) -> None:
    """With htmx the 303 is followed and only the component comes back."""
    async with browser(site) as c:
        await signed_in(kit, c)
        page = await account(c)
        assert 'enctype="multipart/form-data" hx-encoding="multipart/form-data"' in page
        headers = {"HX-Request": "true", "HX-Target": "div#ak-user-profile"}
        r = await c.post(
            UPLOAD,
            data=hidden_fields(page),
            files={"image": ("a.png", png(), "image/png")},
            headers=headers,
            follow_redirects=True,
        )
        assert r.status_code == 200, r.text
        assert "<html" not in r.text and "Your profile picture was updated." in r.text


# -- refused -------------------------------------------------------------------------------


async def test_without_the_csrf_token_nothing_is_stored(site: Starlette, kit: AuthKit) -> None:
    """Upload and removal both need the form's token."""
    async with browser(site) as c:
        await signed_in(kit, c)
        r = await upload(c, png(), csrf=False)
        assert r.status_code == 403
        message = ERROR.search(r.text)
        assert message and "form expired" in message.group(1)
        assert await image_url(c) is None
        assert (await upload(c, png())).status_code == 303
        r = await c.post(REMOVE, data={"confirm": "1"})
        assert r.status_code == 403
        assert await image_url(c) is not None


BAD_UPLOADS = [
    ("empty", "empty.png", b"", "Choose an image"),
    ("10-MB-plus-1", "big.png", png() + b"\0" * (AVATAR_MAX_BYTES + 1 - len(png())), "10 MB"),
    ("truncated-png", "cut.png", png((600, 600))[:400], "could not be read"),
    ("text-named-png", "notes.png", b"just some text, honest\n" * 20, "not an image we accept"),
    (
        "svg",
        "logo.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "not an image we accept",
    ),
    ("bmp", "old.bmp", encode(Image.new("RGB", (50, 50)), "BMP"), "not an image we accept"),
    ("bomb", "bomb.png", png_declaring(100_000, 100_000), "too many pixels"),
    ("over-our-cap", "wide.png", png_declaring(8_000, 6_000), "too many pixels"),
    ("webp-canvas-bomb", "big.webp", webp_declaring(16_000, 16_000), "too many pixels"),
]


@pytest.mark.parametrize(
    ("name", "filename", "data", "words"), BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS]
)
async def test_bad_uploads_are_refused_beside_the_field(
    site: Starlette, kit: AuthKit, name: str, filename: str, data: bytes, words: str
) -> None:
    """Non-images, damaged files, bombs and other formats: a sentence, never a 500."""
    async with browser(site) as c:
        await signed_in(kit, c)
        r = await upload(c, data, filename=filename)
        assert r.status_code == 422, (name, r.status_code)
        message = ERROR.search(r.text)
        assert message and words in message.group(1), (name, message)
        assert 'aria-invalid="true"' in r.text
        assert await image_url(c) is None
    async with kit.services.db.session() as s:
        assert (await s.exec(select(AvatarRow))).all() == []


@pytest.mark.parametrize(
    "data", [gif_js_polyglot(), png_with_zip()], ids=["gif-js-polyglot", "png-with-zip"]
)
async def test_polyglots_come_out_as_clean_webp(site: Starlette, kit: AuthKit, data: bytes) -> None:
    """A file that is an image and a script or archive too keeps only its pixels."""
    async with browser(site) as c:
        await signed_in(kit, c)
        r = await upload(c, data)
        assert r.status_code == 303, r.text
        await served(c)
        url = await image_url(c)
        assert url is not None
        body = (await c.get(url)).content
        assert b"alert" not in body and b"PK\x03\x04" not in body and b"script" not in body


async def test_a_body_over_the_limit_is_refused_before_it_is_all_read(
    site: Starlette, kit: AuthKit
) -> None:
    """30 MB sent in pieces: answered 413 with the sentence beside the field, and most
    of it never read; a declared Content-Length over the limit is refused at once."""
    async with browser(site) as c:
        await signed_in(kit, c)
        fields = hidden_fields(await account(c))
        boundary = "avatarboundary"
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
            'filename="huge.png"\r\nContent-Type: image/png\r\n\r\n'
        )
        sent = 0
        piece = b"\0" * (1024 * 1024)

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            yield head.encode()
            for _ in range(30):
                sent += 1
                yield piece

        headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
        r = await c.post(UPLOAD, content=body(), headers=headers)
        assert r.status_code == 413
        message = ERROR.search(r.text)
        assert message and "10 MB" in message.group(1)
        assert sent < 15, sent
        declared = {**headers, "content-length": str(40 * 1024 * 1024)}
        r = await c.post(UPLOAD, content=b"", headers=declared)
        assert r.status_code == 413 and ERROR.search(r.text)
        assert await image_url(c) is None


async def test_another_user_cannot_remove_yours(site: Starlette, kit: AuthKit) -> None:
    """Removal only ever touches the signed-in user's picture, whatever the form says."""
    async with browser(site) as ada, browser(site) as grace:
        ada_id = await signed_in(kit, ada)
        await signed_in(kit, grace, OTHER)
        assert (await upload(ada, png())).status_code == 303
        url = await image_url(ada)
        r = await remove(grace, user_id=ada_id)
        assert r.status_code == 303
        assert (await grace.get(url or "")).status_code == 200
        assert await image_url(ada) == url
    user = await kit.users.get(ada_id)
    assert user is not None and user.image_url == url


async def test_uploads_are_throttled_per_account(site: Starlette, kit: AuthKit) -> None:
    """Each upload costs a decode: 5 a minute, then 429 with Retry-After, beside the field."""
    async with browser(site) as c:
        await signed_in(kit, c)
        answers = [(await upload(c, png(color=(i * 40, 0, 0)))).status_code for i in range(5)]
        assert answers == [303] * 5
        r = await upload(c, png())
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        message = ERROR.search(r.text)
        assert message and "Too many attempts" in message.group(1)


# -- the Python API and the decoder ----------------------------------------------------------


async def test_the_python_api_sets_and_removes_a_picture(started: AuthKit) -> None:
    """`authkit.users.set_image` / `remove_image`, with the same checks as the form."""
    kit = started
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    assert user.image_url is None
    updated = await kit.users.set_image(user.id, jpeg_with_exif())
    assert updated is not None and updated.image_url is not None
    assert updated.image_url.startswith(f"/auth/avatars/{user.id}/")
    listed = await kit.users.list()
    assert listed[0].image_url == updated.image_url
    with pytest.raises(FieldError) as refused:
        await kit.users.set_image(user.id, b"not an image")
    assert refused.value.code == "image_format" and refused.value.field == "image"
    assert await kit.users.set_image("user_nobody", png()) is None
    assert await kit.users.remove_image(user.id) is True
    assert await kit.users.remove_image(user.id) is False
    again = await kit.users.get(user.id)
    assert again is not None and again.image_url is None
    assert (await events(kit)).count("profile.image_updated") == 1


@pytest.mark.parametrize("broken", [False, True], ids=["srgb-profile", "broken-profile"])
def test_an_embedded_colour_profile_is_applied_then_dropped(broken: bool) -> None:
    """Colours are moved into sRGB (the WebP carries no profile); a broken profile is
    ignored rather than refusing the picture."""
    profile = (
        b"not an ICC profile"
        if broken
        else ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    )
    data = encode(Image.new("RGB", (300, 300), GREEN), "JPEG", icc_profile=profile)
    out = Image.open(io.BytesIO(make_avatar_sync(data)))
    assert "icc_profile" not in out.info
    pixel = out.convert("RGB").getpixel((128, 128))
    assert isinstance(pixel, tuple) and near(pixel, GREEN), pixel


async def test_decoding_runs_in_threads_at_most_two_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CPU work stays off the event loop, and a burst of uploads queues."""
    running = 0
    most = 0
    lock = threading.Lock()
    loop_thread = threading.get_ident()

    def slow(data: bytes) -> bytes:
        nonlocal running, most
        assert threading.get_ident() != loop_thread
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return data

    monkeypatch.setattr(images_module, "make_avatar_sync", slow)
    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(make_avatar, b"x")
    assert most == DECODE_CONCURRENCY
