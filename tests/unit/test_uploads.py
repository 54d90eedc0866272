"""What of an upload is kept: the type from the content, pixels only, names."""

from __future__ import annotations

import time

import pytest
from PIL import ExifTags

from conversations.errors import TooLarge, UnsupportedType
from conversations.uploads import KINDS, display_name, judge_kind, prepare_upload
from tests.support.images import (
    PDF,
    SECRET,
    animated_png,
    jpeg_with_gps,
    opened,
    png_bomb,
    png_with_text,
    webp,
)

MAX_PIXELS = 40_000_000


def assert_no_metadata(data: bytes) -> None:
    image = opened(data)
    assert not image.getexif(), dict(image.getexif())
    leftovers = set(image.info) & {
        "exif",
        "xmp",
        "XML:com.adobe.xmp",
        "comment",
        "icc_profile",
        "Comment",
    }
    assert not leftovers, leftovers
    assert SECRET.encode() not in data


def test_jpeg_metadata_is_gone_and_it_stays_a_jpeg() -> None:
    """A phone JPEG keeps its pixels and type; EXIF (GPS), XMP, comment and
    ICC profile are gone, from the file and its thumbnail."""
    original = jpeg_with_gps()
    assert opened(original).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    prepared = prepare_upload(original, max_pixels=MAX_PIXELS)
    assert prepared.kind.content_type == "image/jpeg"
    assert opened(prepared.data).format == "JPEG"
    assert (prepared.width, prepared.height) == (64, 48)
    assert prepared.thumbnail is not None
    assert_no_metadata(prepared.data)
    assert_no_metadata(prepared.thumbnail)


def test_exif_orientation_is_applied_before_it_is_dropped() -> None:
    """A photo taken sideways (orientation 6) is stored upright."""
    prepared = prepare_upload(
        jpeg_with_gps(size=(60, 40), orientation=6), max_pixels=MAX_PIXELS
    )
    assert (prepared.width, prepared.height) == (40, 60)
    assert opened(prepared.data).size == (40, 60)


def test_png_text_and_profile_are_gone_transparency_kept() -> None:
    """A PNG loses its text chunk and ICC profile and keeps its alpha."""
    prepared = prepare_upload(png_with_text(), max_pixels=MAX_PIXELS)
    assert prepared.kind.content_type == "image/png"
    assert opened(prepared.data).mode == "RGBA"
    assert_no_metadata(prepared.data)


def test_webp_stays_webp() -> None:
    """A WebP is re-encoded as WebP with a thumbnail."""
    prepared = prepare_upload(webp(), max_pixels=MAX_PIXELS)
    assert prepared.kind.content_type == "image/webp"
    assert prepared.thumbnail is not None
    assert opened(prepared.thumbnail).format == "WEBP"


def test_thumbnail_fits_in_320_pixels() -> None:
    """The thumbnail keeps the proportions within 320 x 320."""
    prepared = prepare_upload(jpeg_with_gps(size=(1000, 500)), max_pixels=MAX_PIXELS)
    assert prepared.thumbnail is not None
    assert opened(prepared.thumbnail).size == (320, 160)


def test_animated_png_keeps_its_first_frame() -> None:
    """An animated PNG is stored as a still image of its first frame."""
    prepared = prepare_upload(animated_png(), max_pixels=MAX_PIXELS)
    image = opened(prepared.data)
    assert getattr(image, "n_frames", 1) == 1
    assert image.getpixel((0, 0))[:3] == (0, 0, 0)


def test_pdf_is_kept_byte_for_byte() -> None:
    """A PDF is stored as it came, without thumbnail or size."""
    prepared = prepare_upload(PDF, max_pixels=MAX_PIXELS)
    assert prepared.kind.content_type == "application/pdf"
    assert prepared.data == PDF
    assert (prepared.width, prepared.height, prepared.thumbnail) == (None, None, None)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"Bonjour, ceci est un texte.\n",
        b"GIF89a" + bytes(100),
        b"  %PDF-1.4 not at the start",
        b"\xef\xbb\xbf%PDF-1.4 behind a byte order mark",
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
    ],
    ids=["empty", "text", "gif", "pdf-late", "pdf-bom", "svg"],
)
def test_other_content_is_unsupported(data: bytes) -> None:
    """Anything but JPEG, PNG, WebP and a PDF header is refused."""
    with pytest.raises(UnsupportedType):
        prepare_upload(data, max_pixels=MAX_PIXELS)


def test_truncated_image_is_unsupported() -> None:
    """PNG magic bytes with a broken image behind them are refused."""
    data = png_with_text(size=(300, 300), mode="RGB")
    with pytest.raises(UnsupportedType):
        prepare_upload(data[: len(data) // 2], max_pixels=MAX_PIXELS)


def test_decompression_bomb_is_refused_from_its_header() -> None:
    """A 60-megapixel PNG of a few kilobytes is refused before decoding."""
    bomb = png_bomb()
    assert len(bomb) < 100_000
    started = time.monotonic()
    with pytest.raises(TooLarge):
        prepare_upload(bomb, max_pixels=MAX_PIXELS)
    assert time.monotonic() - started < 2


def test_type_comes_from_the_content() -> None:
    """The magic bytes decide, whatever the bytes are called."""
    assert judge_kind(png_with_text()).content_type == "image/png"
    assert judge_kind(PDF).content_type == "application/pdf"


@pytest.mark.parametrize(
    ("client_name", "kind", "expected"),
    [
        ("chat-perdu.jpg", "image/jpeg", "chat-perdu.jpg"),
        ("photo.pdf", "image/png", "photo.png"),
        ("../../etc/passwd", "application/pdf", "passwd.pdf"),
        ("C:\\Users\\Zoé\\reçu.PDF", "application/pdf", "reçu.pdf"),
        ("facture\u202egpj.exe", "application/pdf", "facturegpj.pdf"),
        ("a\x00b\nc.jpg", "image/jpeg", "abc.jpg"),
        ('what?*:"<>|.png', "image/png", "what.png"),
        ("   ...  ", "image/webp", "photo.webp"),
        (None, "application/pdf", "document.pdf"),
        (".hidden", "image/jpeg", "hidden.jpg"),
    ],
)
def test_display_name_is_safe(
    client_name: str | None, kind: str, expected: str
) -> None:
    """Names lose folders, control and invisible characters, and take the
    judged type's extension."""
    assert display_name(client_name, KINDS[kind]) == expected


def test_display_name_is_bounded() -> None:
    """A very long name is cut to fit the column."""
    name = display_name("é" * 500 + ".jpg", KINDS["image/jpeg"])
    assert len(name) <= 200
    assert name.endswith(".jpg")
