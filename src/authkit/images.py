"""
Profile pictures from untrusted uploads. Only PNG, JPEG, GIF and WebP are decoded (no
other Pillow plugin is ever tried), under a pixel cap checked before any pixel data is
read; the first frame, turned upright by its EXIF orientation, converted to sRGB,
centre-cropped to a square, becomes a 256 px WebP drawn from pixels alone. Nothing of the
uploaded bytes survives: not its metadata (EXIF GPS, XMP, comments), not whatever else a
polyglot file hides (HTML, script, a ZIP appended after the image).

Decoding is CPU work on hostile input: it runs in worker threads, at most
`DECODE_CONCURRENCY` at once per event loop, never on the event loop itself.
"""

from __future__ import annotations

import io
import logging

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

__all__ = [
    "AVATAR_MAX_BYTES",
    "AVATAR_SIZE",
    "MAX_PIXELS",
    "ImageRefused",
    "make_avatar",
    "make_avatar_sync",
]

logger = logging.getLogger("authkit.images")

#: The largest upload accepted (the form's body may be a little larger: its other fields).
AVATAR_MAX_BYTES = 10 * 1024 * 1024
#: Width and height of every stored avatar.
AVATAR_SIZE = 256
#: Declared width x height above this is refused before decoding: a 10 MB file can claim
#: billions of pixels (a decompression bomb). 40 MP covers camera photos; decoding one
#: as RGBA takes 160 MB, so with DECODE_CONCURRENCY it bounds the memory we spend.
MAX_PIXELS = 40_000_000
#: Images decoded at once per event loop; more wait their turn.
DECODE_CONCURRENCY = 2
#: Pillow's names for the formats we accept; its JPEG reader also opens a JPEG holding
#: more than one picture (as some phones write them), which it calls MPO.
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
WEBP_QUALITY = 85

_SRGB = ImageCms.createProfile("sRGB")
_limiter: RunVar[anyio.CapacityLimiter] = RunVar("authkit_image_limiter")


class ImageRefused(Exception):
    """
    The upload is not an image we accept; `code` keys into messages.py: `image_required`,
    `image_too_large`, `image_format`, `image_damaged` or `image_too_many_pixels`.
    """

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def make_avatar(data: bytes) -> bytes:
    """
    The avatar made from the uploaded `data`: a 256x256 WebP without metadata. Runs in a
    worker thread, at most DECODE_CONCURRENCY at once.

    Raises:
        ImageRefused: the upload is empty, too large, not one of the four formats,
            damaged, or declares more than MAX_PIXELS pixels.
    """
    try:
        limiter = _limiter.get()
    except LookupError:
        # One limiter per event loop, made inside it: a limiter belongs to its loop.
        limiter = anyio.CapacityLimiter(DECODE_CONCURRENCY)
        _limiter.set(limiter)
    return await anyio.to_thread.run_sync(make_avatar_sync, data, limiter=limiter)


def make_avatar_sync(data: bytes) -> bytes:
    """`make_avatar` in the calling thread (for scripts and tests); same errors."""
    if not data:
        raise ImageRefused("image_required")
    if len(data) > AVATAR_MAX_BYTES:
        raise ImageRefused("image_too_large")
    declared = _webp_canvas(data)
    if declared is not None and declared[0] * declared[1] > MAX_PIXELS:
        # Opening a WebP already allocates its whole canvas: check before that.
        raise ImageRefused("image_too_many_pixels")
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
            return _reencode(image)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own cap (process-wide, the host's to set) met before ours.
        raise ImageRefused("image_too_many_pixels") from None
    except UnidentifiedImageError:
        # Not one of the four formats, whatever its name says: text, SVG, BMP, a PDF...
        raise ImageRefused("image_format") from None
    except Exception as exc:
        # Decoders meet hostile bytes here and fail in many ways (OSError for a
        # truncated file, SyntaxError, ValueError, struct.error, EOFError...): each is
        # a refused upload, never a 500. Only the type is logged: a decoder's message
        # may quote the hostile bytes.
        logger.info("image refused: %s", type(exc).__name__)
        raise ImageRefused("image_damaged") from None


def _reencode(image: Image.Image) -> bytes:
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise ImageRefused("image_too_many_pixels")
    image.seek(0)  # an animation's first frame
    if image.format in ("JPEG", "MPO"):
        # Decode a large JPEG at 1/2, 1/4 or 1/8 scale, still at least AVATAR_SIZE on
        # each side: far less memory and time for the same result.
        image.draft("RGB", (AVATAR_SIZE, AVATAR_SIZE))
    image.load()
    icc_profile = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    pixels = _to_srgb(upright, icc_profile)
    side = min(pixels.size)
    left = (pixels.width - side) / 2
    top = (pixels.height - side) / 2
    square = pixels.resize(
        (AVATAR_SIZE, AVATAR_SIZE),
        Image.Resampling.LANCZOS,
        box=(left, top, left + side, top + side),
        reducing_gap=3.0,
    )
    # A new image from the raw pixels: no `info` (EXIF, XMP, ICC, comments) can follow.
    clean = Image.frombytes(square.mode, square.size, square.tobytes())
    out = io.BytesIO()
    clean.save(out, format="WEBP", quality=WEBP_QUALITY, method=4)
    return out.getvalue()


def _webp_canvas(data: bytes) -> tuple[int, int] | None:
    """The width and height a WebP file's header declares, or None (not a WebP, or a
    header too damaged to say: the decoder will refuse it)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: the canvas, 24 bits each, minus one
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy key frame
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return width, height
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14 bits each, minus one
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _to_srgb(image: Image.Image, icc_profile: object) -> Image.Image:
    """RGB, or RGBA when the image has transparency; colours moved into sRGB when it
    carries another ICC profile (a phone's Display P3), since the WebP carries none."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    mode = "RGBA" if has_alpha else "RGB"
    if isinstance(icc_profile, bytes) and icc_profile and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            converted = ImageCms.profileToProfile(
                image, source, _SRGB, outputMode="RGBA" if image.mode == "RGBA" else "RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None  # a broken profile: keep the colours as they are
        if converted is not None:
            image = converted
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit and float greyscale: scaled to 8 bits before colour conversion.
        image = image.point(lambda v: v / 256).convert("L")
    return image if image.mode == mode else image.convert(mode)
