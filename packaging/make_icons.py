"""Draws FoleyStudio's application icon and writes it at every size a desktop asks for.

    python packaging/make_icons.py [--out resources/icons]

The icon is our own drawing, made here in code so nothing third-party is bundled: a dark rounded
square in the app's theme colours, a burst of waveform bars (the take) and a loudness curve with
breakpoints over it (the curve editor, FoleyStudio's signature gesture).

Design choices:

* One source of truth: the SVG text is generated from the geometry below, written as
  ``foleystudio.svg`` (the scalable icon Linux desktops prefer) and every PNG is rendered *from
  that SVG* with Qt's SVG renderer, so the sizes cannot drift apart.
* Small sizes (16 and 24 px) get a simplified drawing: fewer, wider bars and no breakpoint dots,
  which would otherwise blur into grey at that scale.
* Windows' ``.ico`` and macOS's ``.icns`` are containers of PNGs; both formats are simple enough to
  write by hand (a few struct fields), which avoids needing Pillow or iconutil at build time.
* Rendering uses QImage only (no window), so it runs headless; ``QT_QPA_PLATFORM=offscreen`` is set
  in case a platform plugin is ever touched.
"""

from __future__ import annotations

import argparse
import logging
import os
import struct
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "resources" / "icons"
ICON_NAME = "foleystudio"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
SMALL_SIZES = frozenset({16, 24})
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# icns chunk types that hold PNG data, by pixel size (Apple's "icp4".."ic09").
ICNS_TYPES = {16: b"icp4", 32: b"icp5", 64: b"icp6", 128: b"ic07", 256: b"ic08", 512: b"ic09"}

VIEW = 512  # the SVG's coordinate system
BACKGROUND_TOP, BACKGROUND_BOTTOM = "#34373f", "#1c1e22"  # the theme's Button and Base colours
BAR_COLOUR = "#f0a23a"  # warm amber: the take's waveform
CURVE_COLOUR = "#4084d6"  # the theme's highlight: the loudness curve
DOT_COLOUR = "#f4f6fa"

# The waveform's envelope: an impact (a door, a footstep) that decays, as bar half-heights 0..1.
FULL_BARS = (0.22, 0.38, 0.95, 0.82, 0.64, 0.5, 0.38, 0.28, 0.2, 0.13)
SMALL_BARS = (0.3, 0.95, 0.7, 0.45, 0.25)
# The loudness curve's breakpoints (x, y) in view units, riding above the bars like an envelope.
CURVE_POINTS = ((76, 268), (166, 164), (300, 226), (436, 300))


def _bars(heights: tuple[float, ...], gap_ratio: float) -> list[tuple[float, float, float, float]]:
    """Rectangles (x, y, width, height) of bars centred on the middle line, inside the margins."""
    left, right, middle, reach = 76.0, 436.0, 318.0, 118.0
    pitch = (right - left) / len(heights)
    width = pitch * (1.0 - gap_ratio)
    return [(left + i * pitch + (pitch - width) / 2, middle - h * reach, width, 2 * h * reach)
            for i, h in enumerate(heights)]


def icon_svg(small: bool = False) -> str:
    """The icon as SVG text (deterministic: the same text every run)."""
    heights, gap = (SMALL_BARS, 0.3) if small else (FULL_BARS, 0.38)
    radius = 40 if small else 22
    curve_width = 34 if small else 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{VIEW}" height="{VIEW}" viewBox="0 0 {VIEW} {VIEW}">',
        "<title>FoleyStudio</title>",
        '<defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{BACKGROUND_TOP}"/><stop offset="1" stop-color="{BACKGROUND_BOTTOM}"/>'
        "</linearGradient></defs>",
        f'<rect x="16" y="16" width="{VIEW - 32}" height="{VIEW - 32}" rx="{96 if small else 112}" fill="url(#bg)"/>',
    ]
    for x, y, w, h in _bars(heights, gap):
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{min(radius, w / 2):.1f}" '
                     f'fill="{BAR_COLOUR}"/>')
    points = " ".join(f"{x},{y}" for x, y in CURVE_POINTS)
    parts.append(f'<polyline points="{points}" fill="none" stroke="{CURVE_COLOUR}" stroke-width="{curve_width}" '
                 'stroke-linecap="round" stroke-linejoin="round"/>')
    if not small:
        for x, y in CURVE_POINTS:
            parts.append(f'<circle cx="{x}" cy="{y}" r="22" fill="{DOT_COLOUR}" stroke="{CURVE_COLOUR}" '
                         'stroke-width="10"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def render_png(svg_text: str, size: int) -> bytes:
    """The SVG rendered to a size x size PNG with a transparent background."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg_text.encode("utf-8")))
    if not renderer.isValid():
        raise ValueError("the generated icon SVG does not parse")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"Qt could not encode a {size} px PNG")
    return bytes(buffer.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding PNG images (allowed since Vista); 256 px is written as 0 by the format."""
    sizes = [size for size in ICO_SIZES if size in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = [], []
    for size in sizes:
        data = pngs[size]
        side = 0 if size >= 256 else size
        entries.append(struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset))
        blobs.append(data)
        offset += len(data)
    return header + b"".join(entries) + b"".join(blobs)


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns: a big-endian 'icns' header and one PNG chunk per size."""
    chunks = b"".join(kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
                      for size, kind in ICNS_TYPES.items() if size in pngs)
    return b"icns" + struct.pack(">I", 8 + len(chunks)) + chunks


def png_name(size: int) -> str:
    return f"{ICON_NAME}-{size}.png"


def write_icons(out: Path) -> list[Path]:
    """Write the SVG, every PNG size, the .ico and the .icns into ``out``; returns the paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out.mkdir(parents=True, exist_ok=True)
    full, small = icon_svg(small=False), icon_svg(small=True)
    pngs = {size: render_png(small if size in SMALL_SIZES else full, size) for size in PNG_SIZES}
    written = {out / f"{ICON_NAME}.svg": full.encode("utf-8"),
               out / f"{ICON_NAME}.ico": ico_bytes(pngs),
               out / f"{ICON_NAME}.icns": icns_bytes(pngs)}
    written.update({out / png_name(size): data for size, data in pngs.items()})
    for path, data in written.items():
        path.write_bytes(data)
        logger.info("wrote %s (%d bytes)", path, len(data))
    return sorted(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for the icons (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for path in write_icons(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
