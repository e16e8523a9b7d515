"""The application icon: every size a desktop asks for exists and is that size, the committed files
are what packaging/make_icons.py draws, and the .ico/.icns containers hold what they claim."""

import struct
import xml.etree.ElementTree as ET

import pytest

from tests.packaging._load import ROOT, load

make_icons = load("make_icons")
ICONS = ROOT / "resources" / "icons"


def png_header(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height, _depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, colour_type


@pytest.mark.parametrize("size", (16, 24, 32, 48, 64, 128, 256, 512))
def test_every_standard_size_exists_with_transparency_at_that_size(size):
    assert size in make_icons.PNG_SIZES
    width, height, colour_type = png_header((ICONS / make_icons.png_name(size)).read_bytes())
    assert (width, height) == (size, size)
    assert colour_type == 6, "RGBA: the rounded corners must be transparent"


def test_the_committed_svg_is_the_one_the_script_draws():
    committed = (ICONS / "foleystudio.svg").read_text(encoding="utf-8")
    assert committed == make_icons.icon_svg()
    root = ET.fromstring(committed)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 512 512"


def test_the_small_drawing_is_simpler():
    # Breakpoint dots blur at 16/24 px, so the small variant has none and fewer bars.
    assert make_icons.icon_svg(small=True).count("<circle") == 0 < make_icons.icon_svg().count("<circle")
    assert make_icons.icon_svg(small=True).count("<rect") < make_icons.icon_svg().count("<rect")


def test_rendering_gives_transparent_corners_and_an_opaque_middle(qapp):
    from PySide6.QtGui import QImage

    image = QImage.fromData(make_icons.render_png(make_icons.icon_svg(), 64), "PNG")
    assert (image.width(), image.height()) == (64, 64)
    assert image.pixelColor(0, 0).alpha() == 0
    assert image.pixelColor(32, 32).alpha() == 255


def test_the_ico_holds_a_png_per_size_it_lists():
    data = (ICONS / "foleystudio.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind, count) == (0, 1, len(make_icons.ICO_SIZES))
    for index, size in enumerate(make_icons.ICO_SIZES):
        side, _, _, _, _, _, length, offset = struct.unpack("<BBBBHHII", data[6 + 16 * index: 22 + 16 * index])
        assert side == (0 if size >= 256 else size)
        assert png_header(data[offset: offset + length])[:2] == (size, size)


def test_the_icns_chunks_hold_pngs_of_their_sizes():
    data = (ICONS / "foleystudio.icns").read_bytes()
    assert data[:4] == b"icns" and struct.unpack(">I", data[4:8])[0] == len(data)
    sizes, position = {}, 8
    while position < len(data):
        kind, length = struct.unpack(">4sI", data[position: position + 8])
        sizes[kind] = png_header(data[position + 8: position + length])[:2]
        position += length
    assert sizes == {kind: (size, size) for size, kind in make_icons.ICNS_TYPES.items()}


def test_write_icons_writes_every_file_the_bundle_uses(tmp_path, qapp):
    written = {path.name for path in make_icons.write_icons(tmp_path)}
    assert written == {path.name for path in ICONS.iterdir()}
