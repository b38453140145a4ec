"""Writes the app's icons (neutral on purpose: a phone's home screen should not say what the app is for).

A plain PNG writer, so no image library is needed: python scripts/make-icons.py
"""

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"
BACKGROUND = (0x1F, 0x5C, 0x4A)
SHAPE = (0xF2, 0xEF, 0xE6)


def png(size: int, inset: float) -> bytes:
    """A filled circle on a square, the circle within `inset` of the edge (maskable icons need a safe zone)."""
    centre, radius = (size - 1) / 2, size * (0.5 - inset)
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius**2
            row.extend(SHAPE if inside else BACKGROUND)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (OUT / f"icon-{size}.png").write_bytes(png(size, 0.12))
        (OUT / f"maskable-{size}.png").write_bytes(png(size, 0.25))
