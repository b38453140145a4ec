"""Draws the looks' icons (fieldapp/looks.py) into static/icons/: python3 scripts/draw_icons.py

Ordinary pictures on purpose: a notepad, the weather, a calculator, so that a phone's home screen says
nothing of what the app is for. Pure Python (zlib and struct, no image library), and deterministic: the
same script writes the same bytes. Each picture stays inside the central circle of 80 % of the icon, the
safe zone of a maskable icon, on a background that fills the square, so one file serves "any maskable".
Shapes are edged by their distance to each pixel (no supersampling), and the result is a palette PNG,
which keeps each file to a few KB.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "static" / "icons"
SIZES = (192, 512)
SAFE_RADIUS = 0.4  # of the icon's side: a maskable icon may be cut to this circle
EDGE_STEPS = 8  # coverage at an edge in eighths: few colours, so a small palette

Colour = tuple[int, int, int]
Distance = Callable[[float, float], float]  # signed distance in icon units, negative inside
Box = tuple[float, float, float, float]  # x0, y0, x1, y1: where a shape may paint


def hex_colour(text: str) -> Colour:
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def circle(cx: float, cy: float, r: float) -> tuple[Distance, Box]:
    return (lambda x, y: math.hypot(x - cx, y - cy) - r), (cx - r, cy - r, cx + r, cy + r)


def rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float) -> tuple[Distance, Box]:
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2

    def distance(x: float, y: float) -> float:
        qx, qy = abs(x - cx) - hx + r, abs(y - cy) - hy + r
        return math.hypot(max(qx, 0.0), max(qy, 0.0)) + min(max(qx, qy), 0.0) - r

    return distance, (x0, y0, x1, y1)


def capsule(ax: float, ay: float, bx: float, by: float, r: float) -> tuple[Distance, Box]:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy

    def distance(x: float, y: float) -> float:
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        return math.hypot(x - ax - t * dx, y - ay - t * dy) - r

    return distance, (min(ax, bx) - r, min(ay, by) - r, max(ax, bx) + r, max(ay, by) + r)


Shape = tuple[str, tuple[Distance, Box]]


def notas() -> tuple[str, list[Shape]]:
    """A lined notepad with its binding, on yellow."""
    shapes: list[Shape] = [
        ("#fffbeb", rounded_rect(0.29, 0.23, 0.71, 0.77, 0.035)),
        ("#c98f1c", rounded_rect(0.29, 0.23, 0.71, 0.32, 0.035)),
        ("#c98f1c", rounded_rect(0.29, 0.28, 0.71, 0.32, 0.0)),
    ]
    shapes += [("#f7e9c1", circle(0.36 + 0.07 * i, 0.275, 0.018)) for i in range(5)]
    shapes += [("#8fa9c2", capsule(0.38, y, 0.655, y, 0.009)) for y in (0.42, 0.5, 0.58, 0.66)]
    shapes.append(("#e07a6a", capsule(0.35, 0.36, 0.35, 0.73, 0.006)))
    return "#f2c14e", shapes


def clima() -> tuple[str, list[Shape]]:
    """A sun half behind a cloud, on blue."""
    sun_x, sun_y = 0.42, 0.42
    shapes: list[Shape] = [("#ffd54a", circle(sun_x, sun_y, 0.13))]
    for i in range(8):
        angle = i * math.pi / 4
        c, s = math.cos(angle), math.sin(angle)
        shapes.append(
            ("#ffd54a", capsule(sun_x + 0.175 * c, sun_y + 0.175 * s, sun_x + 0.225 * c, sun_y + 0.225 * s, 0.016))
        )
    shapes += [
        ("#ffffff", circle(0.5, 0.585, 0.1)),
        ("#ffffff", circle(0.615, 0.55, 0.125)),
        ("#ffffff", circle(0.71, 0.625, 0.075)),
        ("#ffffff", rounded_rect(0.4, 0.58, 0.76, 0.7, 0.06)),
    ]
    return "#2f7fc1", shapes


def calculadora() -> tuple[str, list[Shape]]:
    """A calculator: its display and a keypad of four rows, on grey."""
    shapes: list[Shape] = [
        ("#e3e6e8", rounded_rect(0.3, 0.2, 0.7, 0.8, 0.045)),
        ("#7f9c88", rounded_rect(0.34, 0.245, 0.66, 0.35, 0.02)),
        ("#2f3a33", rounded_rect(0.5, 0.285, 0.63, 0.31, 0.008)),
    ]
    width, height, gap = (0.32 - 2 * 0.03) / 3, (0.35 - 3 * 0.03) / 4, 0.03
    for row in range(4):
        for column in range(3):
            x0, y0 = 0.34 + column * (width + gap), 0.4 + row * (height + gap)
            colour = "#f0883e" if (row, column) == (3, 2) else "#ffffff" if row else "#b9c0c6"
            shapes.append((colour, rounded_rect(x0, y0, x0 + width, y0 + height, 0.014)))
    return "#4a4f55", shapes


LOOKS = {"notas": notas, "clima": clima, "calculadora": calculadora}


def check_safe_zone(name: str, shapes: list[Shape]) -> None:
    """Every shape's box within the safe circle, so that no launcher's mask cuts the picture."""
    for _, (_, (x0, y0, x1, y1)) in shapes:
        for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
            if math.hypot(x - 0.5, y - 0.5) > SAFE_RADIUS:
                raise SystemExit(f"{name}: a shape reaches outside the safe zone at ({x:.3f}, {y:.3f})")


def render(background: str, shapes: list[Shape], size: int) -> list[list[Colour]]:
    """Paints the shapes in order over the background, each edge blended by its pixel coverage."""
    canvas = [[hex_colour(background)] * size for _ in range(size)]
    for colour_text, (distance, (x0, y0, x1, y1)) in shapes:
        colour = hex_colour(colour_text)
        for py in range(max(0, int(y0 * size) - 1), min(size, int(y1 * size) + 2)):
            row = canvas[py]
            for px in range(max(0, int(x0 * size) - 1), min(size, int(x1 * size) + 2)):
                inside = 0.5 - distance((px + 0.5) / size, (py + 0.5) / size) * size
                steps = round(max(0.0, min(1.0, inside)) * EDGE_STEPS)
                if steps == EDGE_STEPS:
                    row[px] = colour
                elif steps:
                    a = steps / EDGE_STEPS
                    row[px] = tuple(round(o * (1 - a) + c * a) for o, c in zip(row[px], colour, strict=True))
    return canvas


def png(canvas: list[list[Colour]]) -> bytes:
    """The canvas as an 8-bit palette PNG, colours in order of first use."""
    palette: dict[Colour, int] = {}
    raw = bytearray()
    for row in canvas:
        raw.append(0)  # filter: none (the best for palette images)
        for colour in row:
            raw.append(palette.setdefault(colour, len(palette)))
    if len(palette) > 256:
        raise SystemExit(f"{len(palette)} colours: too many for a palette")

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    size = len(canvas)
    header = struct.pack(">IIBBBBB", size, size, 8, 3, 0, 0, 0)
    plte = b"".join(bytes(colour) for colour in palette)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", plte)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, draw in LOOKS.items():
        background, shapes = draw()
        check_safe_zone(name, shapes)
        for size in SIZES:
            path = OUT / f"{name}-{size}.png"
            path.write_bytes(png(render(background, shapes, size)))
            print(f"{path.relative_to(OUT.parent.parent)}: {path.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
