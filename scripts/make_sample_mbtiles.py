"""Write a tiny offline basemap (MBTiles: SQLite + PNG tiles) for tests and demos.

    python scripts/make_sample_mbtiles.py data/basemap/sample.mbtiles [--zooms 0-3]

Each tile is a 256 × 256 PNG tinted by its zoom with its z/x/y written on it, stored under its TMS
row (counted from the south, as MBTiles requires), so a test can tell a flipped row from a right one.
"""

from __future__ import annotations

import argparse
import io
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw

TILE = 256
COLOURS = ((232, 240, 254), (227, 242, 253), (232, 245, 233), (255, 243, 224), (243, 229, 245))


def _png(z: int, x: int, y: int) -> bytes:
    image = Image.new("RGB", (TILE, TILE), COLOURS[z % len(COLOURS)])
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, TILE - 1, TILE - 1), outline=(144, 164, 174))
    draw.text((10, 10), f"{z}/{x}/{y}", fill=(38, 50, 56))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def make_mbtiles(path: str | Path, *, zooms: Iterable[int] = (0, 1, 2), name: str = "示例离线底图") -> Path:
    """Every tile of the given zooms (XYZ rows stored as TMS rows); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    zooms = sorted(zooms)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        conn.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        conn.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        conn.executemany("INSERT INTO metadata VALUES (?, ?)", [
            ("name", name), ("format", "png"), ("type", "baselayer"), ("minzoom", str(zooms[0])),
            ("maxzoom", str(zooms[-1])), ("bounds", "-180,-85.0511,180,85.0511"), ("attribution", name)])
        for z in zooms:
            for x in range(1 << z):
                for y in range(1 << z):
                    conn.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, _png(z, x, y)))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--zooms", default="0-3", help="e.g. 0-3")
    args = parser.parse_args()
    low, high = (int(v) for v in args.zooms.split("-"))
    print(make_mbtiles(args.path, zooms=range(low, high + 1)))


if __name__ == "__main__":
    main()
