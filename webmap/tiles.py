"""The offline basemap: tiles of the .mbtiles files named in GRIDMAP_BASEMAP, at /tiles/{z}/{x}/{y} (the
first file) and /tiles/{n}/{z}/{x}/{y} (file n, from 0). A tile the file lacks is 204 (the map shows
nothing there, no error); an address outside the pyramid, or no such file, is 404. Tiles may be cached
by the browser for a day and revalidated by their ETag."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, request

from geo.domain.errors import NotFound
from geo.services import tiles as tile_service
from webmap.mapbuilder import mbtiles_paths

bp = Blueprint("tiles", __name__)

#: A day: tiles change only when the file is replaced.
TILE_MAX_AGE = 24 * 3600


@lru_cache(maxsize=16)
def _tileset(path: str, _mtime_ns: int) -> tile_service.TileSet:
    return tile_service.describe(path)


def _file(n: int) -> tile_service.TileSet:
    paths = mbtiles_paths(current_app.config["GRIDMAP_BASEMAP"])
    if not 0 <= n < len(paths):
        raise NotFound("没有配置这个离线底图文件（GRIDMAP_BASEMAP 中的 .mbtiles）。", field="tiles", code="not_found")
    path = paths[n]
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError:
        mtime = 0
    return _tileset(path, mtime)


@bp.get("/tiles/<int:z>/<int:x>/<int:y>")
def first_tile(z: int, x: int, y: int) -> Response:
    """A tile of the first .mbtiles file."""
    return tile(0, z, x, y)


@bp.get("/tiles/<int:n>/<int:z>/<int:x>/<int:y>")
def tile(n: int, z: int, x: int, y: int) -> Response:
    """A tile of .mbtiles file ``n`` (XYZ address; the file's TMS rows are flipped here)."""
    tiles = _file(n)
    data = tile_service.read_tile(tiles, z, x, y)
    if data is None:
        response = Response(status=204)
        response.headers["Cache-Control"] = f"public, max-age={TILE_MAX_AGE}"
        return response
    etag = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    response = Response(data, mimetype=tiles.content_type)
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={TILE_MAX_AGE}"
    response.make_conditional(request)  # 304 when the browser's ETag matches
    return response
