"""Case photos: accept JPEG and PNG only, re-encode them so nothing but pixels is kept.

A phone photo carries EXIF (GPS position, device, owner name), XMP and comments. The stored
copy is decoded and encoded again from its pixels, after turning it upright by its EXIF
orientation, so none of that metadata (nor anything appended after the image data) survives.
Very large pictures are scaled down to ``MAX_EDGE`` pixels on the long side.

>>> from io import BytesIO
>>> from PIL import Image
>>> buf = BytesIO(); Image.new("RGB", (40, 30), "red").save(buf, "PNG")
>>> photo = clean_photo(buf.getvalue(), max_bytes=1024 * 1024)
>>> (photo.content_type, photo.width, photo.height)
('image/png', 40, 30)
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from geo.domain.errors import InvalidInput, TooLarge

__all__ = ["MAX_EDGE", "MAX_PIXELS", "CleanPhoto", "clean_photo", "sniff_type"]

#: Long edge of a stored photo; larger pictures are scaled down (a phone's 4000 px is kept as 4096).
MAX_EDGE = 4096
#: Pictures with more pixels than this are refused before decoding (decompression bombs).
MAX_PIXELS = 60_000_000
#: Above this many pixels a picture must carry some detail per byte: a photo of 20 MP is megabytes;
#: a PNG of one colour at 8000 × 7000 is a few hundred kilobytes and costs a gigabyte to decode.
BOMB_PIXELS = 20_000_000
BOMB_PIXELS_PER_BYTE = 200

_SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}


@dataclass(frozen=True)
class CleanPhoto:
    content_type: str
    width: int
    height: int
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def sniff_type(data: bytes) -> str | None:
    """The content type from the file's first bytes (never from its name or the client's claim)."""
    return next((kind for magic, kind in _SIGNATURES.items() if data.startswith(magic)), None)


def clean_photo(data: bytes, *, max_bytes: int, field: str = "photo") -> CleanPhoto:
    """Check one uploaded picture and return its metadata-free copy.

    Raises TooLarge above ``max_bytes`` and InvalidInput for anything that is not a readable
    JPEG or PNG, naming ``field`` and what to send instead.
    """
    if len(data) > max_bytes:
        raise TooLarge(f"照片太大：{len(data) / 1048576:.1f} MB，每张最多 {max_bytes / 1048576:.0f} MB。"
                       "请压缩后再传。", field=field, code="photo_too_large")
    kind = sniff_type(data)
    if kind is None:
        raise InvalidInput("只能上传 JPEG 或 PNG 照片（按文件内容判断，不看扩展名）。", field=field,
                           code="photo_type")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data))
            pixels_in = image.width * image.height
            if pixels_in > MAX_PIXELS or (pixels_in > BOMB_PIXELS and pixels_in > BOMB_PIXELS_PER_BYTE * len(data)):
                raise InvalidInput(f"照片像素太多（{image.width}×{image.height}），最多 {MAX_PIXELS // 1_000_000} "
                                   "百万像素，且须是真实照片。", field=field, code="photo_pixels")
            if kind == "image/jpeg":  # decode a big JPEG at a reduced scale straight away
                image.draft("RGB", (MAX_EDGE, MAX_EDGE))
            image.load()
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise InvalidInput(f"照片无法读取（文件不完整或已损坏）：{exc}", field=field, code="photo_unreadable") from exc
    upright = ImageOps.exif_transpose(image)
    pixels = _pixels_only(upright if upright is not None else image, kind)
    if max(pixels.size) > MAX_EDGE:
        pixels.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    out = BytesIO()
    if kind == "image/jpeg":
        pixels.save(out, "JPEG", quality=88, optimize=True)
    else:
        transparency = pixels.info.get("transparency")
        options = {"transparency": transparency} if transparency is not None else {}
        pixels.save(out, "PNG", optimize=True, **options)
    return CleanPhoto(kind, pixels.width, pixels.height, out.getvalue())


def _pixels_only(image: Image.Image, kind: str) -> Image.Image:
    """A new image holding only the pixels (and PNG transparency), never the source's metadata."""
    if kind == "image/jpeg" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if kind == "image/png" and image.mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16"):
        image = image.convert("RGBA")
    clean = image.copy()
    transparency = image.info.get("transparency")
    clean.info = {"transparency": transparency} if kind == "image/png" and transparency is not None else {}
    return clean
