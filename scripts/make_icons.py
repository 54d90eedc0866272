"""Draw the app's icons (frontend/icons/*.png) with Pillow.

A speech bubble holding a house, white on the app's blue. `icon-*` has
rounded corners; `maskable-512` fills the square and keeps the drawing in
the central 80 % circle that launchers may crop to (the "safe zone" of the
W3C manifest spec's maskable icons). Run: python scripts/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BLUE = (29, 95, 174, 255)
WHITE = (255, 255, 255, 255)
OUT = Path(__file__).resolve().parents[1] / "frontend" / "icons"
# Drawn large, then scaled down: Pillow's shapes are not anti-aliased.
SCALE = 4


def drawing(size: int, *, maskable: bool) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable:
        pen.rectangle((0, 0, big, big), fill=BLUE)
        content = 0.56  # of the side: well inside the 80 % safe circle
    else:
        pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=BLUE)
        content = 0.7
    side = big * content
    left = (big - side) / 2
    top = (big - side) / 2 - side * 0.04
    bubble = (left, top, left + side, top + side * 0.78)
    pen.rounded_rectangle(bubble, radius=side * 0.2, fill=WHITE)
    tail_x = left + side * 0.26
    tail_y = top + side * 0.76
    pen.polygon(
        [
            (tail_x, tail_y),
            (tail_x + side * 0.2, tail_y),
            (tail_x - side * 0.02, tail_y + side * 0.2),
        ],
        fill=WHITE,
    )
    cx = left + side / 2
    roof_top = top + side * 0.14
    roof_base = top + side * 0.4
    half = side * 0.26
    pen.polygon(
        [(cx, roof_top), (cx + half, roof_base), (cx - half, roof_base)], fill=BLUE
    )
    body_half = side * 0.18
    pen.rectangle(
        (cx - body_half, roof_base - 1, cx + body_half, top + side * 0.64), fill=BLUE
    )
    door = side * 0.06
    pen.rectangle(
        (cx - door, top + side * 0.5, cx + door, top + side * 0.64), fill=WHITE
    )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        drawing(size, maskable=False).save(OUT / f"icon-{size}.png", optimize=True)
    drawing(512, maskable=True).save(OUT / "maskable-512.png", optimize=True)


if __name__ == "__main__":
    main()
