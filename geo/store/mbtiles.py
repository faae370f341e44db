"""MBTiles files (SQLite: ``metadata`` name/value, ``tiles`` zoom_level/tile_column/tile_row/tile_data, rows
counted from the south as TMS does): the offline basemap an intranet serves without a tile server.
Opened read-only, one short-lived connection per read (SQLite connections are cheap and not thread-safe)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["metadata", "tile"]


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)


def metadata(path: Path) -> dict[str, str]:
    """The metadata table as a dict (raises sqlite3.DatabaseError when the file is no MBTiles)."""
    with _connect(path) as conn:
        conn.execute("SELECT 1 FROM tiles LIMIT 1").fetchall()
        return {str(k): str(v) for k, v in conn.execute("SELECT name, value FROM metadata").fetchall()}


def tile(path: Path, z: int, x: int, tms_y: int) -> bytes | None:
    """The tile's bytes at zoom ``z``, column ``x``, TMS row ``tms_y``, or None."""
    with _connect(path) as conn:
        row = conn.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                           (z, x, tms_y)).fetchone()
    return bytes(row[0]) if row else None
