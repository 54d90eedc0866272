"""Upload fixtures made in the tests with Pillow: nothing binary is committed."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image, ImageCms
from PIL.PngImagePlugin import PngInfo

SECRET = "Rue des Lilas 12, absent until Sunday"
# A PDF's smallest honest shape: header, an empty catalogue, trailer.
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


def icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg_with_gps(size: tuple[int, int] = (64, 48), orientation: int = 1) -> bytes:
    """A JPEG carrying what a phone writes: camera, GPS position, XMP, a
    comment, an ICC profile, and the orientation tag."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (46.0, 12.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (5.0, 13.0, 40.0)
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(
        out,
        format="JPEG",
        exif=exif,
        comment=SECRET.encode(),
        xmp=f"<x:xmpmeta><rdf:Description>{SECRET}</rdf:Description></x:xmpmeta>".encode(),
        icc_profile=icc_profile(),
    )
    return out.getvalue()


def png_with_text(size: tuple[int, int] = (40, 30), mode: str = "RGBA") -> bytes:
    """A PNG with a text chunk and an ICC profile."""
    info = PngInfo()
    info.add_text("Comment", SECRET)
    out = io.BytesIO()
    Image.new(mode, size, "blue").save(
        out, format="PNG", pnginfo=info, icc_profile=icc_profile()
    )
    return out.getvalue()


def webp(size: tuple[int, int] = (50, 50)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "green").save(out, format="WEBP", exif=Image.Exif())
    return out.getvalue()


def animated_png(frames: int = 3) -> bytes:
    images = [Image.new("RGB", (20, 20), (i * 80, 0, 0)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, format="PNG", save_all=True, append_images=images[1:])
    return out.getvalue()


def png_bomb(width: int = 8000, height: int = 7500) -> bytes:
    """A valid 1-bit PNG of width x height (60 MP by default) that weighs a
    few kilobytes: rows are compressed one at a time, so making it takes
    no memory either."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes((width + 7) // 8)
    idat = b"".join(compressor.compress(row) for _ in range(height))
    idat += compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
