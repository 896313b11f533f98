"""The drawn signature: the signature pad posts a PNG data URL, which is stored with the
signature, shown on the pages and embedded in the signed PDF. Before anything is written it
must decode to a real PNG of the pad's size; anything else was not drawn in the box."""

import base64
import binascii
import io
import struct

from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# The pad is at most 36rem × 11rem (576 × 176 CSS pixels), drawn at up to 4 device pixels each.
MAX_WIDTH, MAX_HEIGHT = 2400, 1000
MAX_BYTES = 200_000  # a drawn signature compresses to a few tens of kB
NOT_DRAWN = "The signature must be drawn in the box."


def check_drawing(data_url: str) -> str:
    """The data URL when it holds a PNG the pad could have drawn; ValidationError otherwise."""
    if not data_url.startswith(PREFIX) or len(data_url) > len(PREFIX) + MAX_BYTES * 4 // 3 + 4:
        raise ValidationError(NOT_DRAWN, code="not_drawn")
    try:
        raw = base64.b64decode(data_url[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(NOT_DRAWN, code="not_drawn") from None
    if not _png_of_pad_size(raw) or not _decodes(raw):
        raise ValidationError(NOT_DRAWN, code="not_drawn")
    return data_url


def _png_of_pad_size(raw: bytes) -> bool:
    # The signature, then the IHDR chunk (length 13) with the width and height: read before
    # Pillow decodes anything, so a huge image is refused without allocating its pixels.
    if len(raw) > MAX_BYTES or len(raw) < 33 or not raw.startswith(PNG_MAGIC):
        return False
    length, kind, width, height = struct.unpack(">I4sII", raw[8:24])
    return length == 13 and kind == b"IHDR" and 0 < width <= MAX_WIDTH and 0 < height <= MAX_HEIGHT


def _decodes(raw: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as image:
            image.verify()  # the chunks and their checksums
        with Image.open(io.BytesIO(raw), formats=["PNG"]) as image:
            image.load()  # the pixels themselves
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return False
    return True
