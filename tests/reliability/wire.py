"""Raw wire helpers: frames a well-behaved client library refuses to send."""

from __future__ import annotations

import os
import struct


def masked_text_frame(payload: bytes) -> bytes:
    """One final text frame, masked as a client must, with any bytes."""
    mask = os.urandom(4)
    header = bytes([0x81])
    length = len(payload)
    if length < 126:
        header += bytes([0x80 | length])
    elif length < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked
