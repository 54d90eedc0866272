"""What an upload is, and what of it is kept.

The type is judged from the content alone (magic bytes, then the decoder of
that one format), never from the name or the declared type. Images are
re-encoded from their pixels, so nothing else of the original survives:
EXIF (GPS included), XMP, comments, text chunks, ICC profiles. PDFs are kept
as they are once their header is checked. Pure: no database, no storage.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any

import filetype
from pathvalidate import sanitize_filename
from PIL import Image, ImageCms, ImageOps

from .errors import ChatError, TooLarge, UnsupportedType

logger = logging.getLogger(__name__)

THUMBNAIL_PX = 320
# The longest name stem kept: Attachment.name holds 200 characters, and
# pathvalidate counts bytes (an accented letter takes two).
MAX_STEM_BYTES = 150


@dataclass(frozen=True, slots=True)
class Kind:
    """An accepted type: its MIME type, extension and Pillow format (None
    for documents, which are not decoded)."""

    content_type: str
    extension: str
    pillow_format: str | None

    @property
    def is_image(self) -> bool:
        return self.pillow_format is not None


KINDS: dict[str, Kind] = {
    "image/jpeg": Kind("image/jpeg", "jpg", "JPEG"),
    "image/png": Kind("image/png", "png", "PNG"),
    "image/webp": Kind("image/webp", "webp", "WEBP"),
    "application/pdf": Kind("application/pdf", "pdf", None),
}
# filetype names animated PNGs apart; they are PNGs (stored as their first
# frame).
MAGIC_ALIASES = {"image/apng": "image/png"}

# What each format is saved with: nothing is carried over from the original.
SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 85, "optimize": True},
    "PNG": {},
    "WEBP": {"quality": 85},
}

SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True, slots=True)
class PreparedUpload:
    """What is stored: the bytes, their type, and for images their size in
    pixels and a thumbnail of the same type."""

    kind: Kind
    data: bytes
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None


def judge_kind(data: bytes) -> Kind:
    """The accepted type of these bytes, from their magic numbers; else
    UnsupportedType. A PDF must start with the `%PDF-` header itself."""
    mime = filetype.guess_mime(data) or ""
    kind = KINDS.get(MAGIC_ALIASES.get(mime, mime))
    if kind is None or (not kind.is_image and not data.startswith(b"%PDF-")):
        raise UnsupportedType("Send a photo (JPEG, PNG or WebP) or a PDF document.")
    return kind


def prepare_upload(data: bytes, *, max_pixels: int) -> PreparedUpload:
    """Judge the upload and make what is stored of it.

    Raises UnsupportedType (empty, another type, an image that does not
    decode) or TooLarge (an image over `max_pixels`).
    """
    if not data:
        raise UnsupportedType("The file is empty.")
    kind = judge_kind(data)
    if kind.pillow_format is None:
        return PreparedUpload(kind=kind, data=data)
    try:
        return _prepare_image(data, kind, kind.pillow_format, max_pixels=max_pixels)
    except ChatError:
        raise
    except Image.DecompressionBombError:
        raise TooLarge("This image has too many pixels.") from None
    except Exception:
        # Malformed images make Pillow raise many types (OSError,
        # SyntaxError, struct.error, ValueError...): all mean "not an image".
        raise UnsupportedType("This image cannot be read.") from None


def _prepare_image(
    data: bytes, kind: Kind, pillow_format: str, *, max_pixels: int
) -> PreparedUpload:
    # Only the decoder of the judged format: a file that claims to be a PNG
    # is never handed to another of Pillow's many decoders.
    with Image.open(io.BytesIO(data), formats=[pillow_format]) as source:
        # The header gives the size before any pixel is decoded: a
        # decompression bomb is refused here, at no cost.
        width, height = source.size
        if width * height > max_pixels:
            raise TooLarge(
                f"This image has more than {max_pixels // 1_000_000} megapixels."
            )
        # Animated PNG and WebP keep their first frame (the one decoded).
        source.load()
        clean = _pixels_only(_upright(source), pillow_format)
    thumbnail = clean.copy()
    thumbnail.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    return PreparedUpload(
        kind=kind,
        data=_encode(clean, pillow_format),
        width=clean.width,
        height=clean.height,
        thumbnail=_encode(thumbnail, pillow_format),
    )


def _upright(image: Image.Image) -> Image.Image:
    """Turn the pixels as the EXIF orientation says, since that tag goes
    with the rest of the metadata. A malformed EXIF block leaves the image
    as it is rather than refusing a photo."""
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:
        logger.info("unreadable EXIF orientation ignored")
    return image


def _pixels_only(image: Image.Image, pillow_format: str) -> Image.Image:
    """A new image with the pixels and nothing else, in a mode the format
    stores (JPEG has no transparency; WebP has no grey mode)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if image.mode == "L" and pillow_format in ("JPEG", "PNG"):
        mode = "L"
    elif has_alpha and pillow_format != "JPEG":
        mode = "RGBA"
    else:
        mode = "RGB"
    clean = _in_srgb(image, mode).convert(mode)
    # convert() always returns a new image that copies only `info` from the
    # old one (Image._new); emptying it leaves nothing but the pixels, and
    # the encoders then have no EXIF, XMP, comment, text or profile to write.
    clean.info = {}
    return clean


def _in_srgb(image: Image.Image, mode: str) -> Image.Image:
    """Colours converted to sRGB when the image carries an ICC profile:
    the profile is dropped with the rest, and a wide-gamut photo (Display
    P3) read as sRGB would look washed out."""
    profile = image.info.get("icc_profile")
    if not profile or mode == "L" or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        converted = ImageCms.profileToProfile(
            image, io.BytesIO(profile), SRGB, outputMode=mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        logger.info("unusable ICC profile ignored")
        return image
    return converted if converted is not None else image


def _encode(image: Image.Image, pillow_format: str) -> bytes:
    out = io.BytesIO()
    image.save(out, format=pillow_format, **SAVE_OPTIONS[pillow_format])
    return out.getvalue()


def display_name(client_name: str | None, kind: Kind) -> str:
    """The name shown to participants and offered when saving the file: no
    folders, no control or invisible characters (a right-to-left override
    can disguise an extension), none that file systems refuse, and the
    extension of the judged type whatever the client called it."""
    base = (client_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = unicodedata.normalize("NFC", stem)
    stem = "".join(c for c in stem if not unicodedata.category(c).startswith("C"))
    stem = sanitize_filename(stem, platform="universal", max_len=MAX_STEM_BYTES)
    stem = " ".join(stem.split()).strip(" .")
    if not stem:
        stem = "photo" if kind.is_image else "document"
    return f"{stem}.{kind.extension}"
