"""Reading the boundary files districts hand over: Shapefile (often GBK without a .cpg, sometimes
zipped), GeoPackage (one of several layers) or GeoJSON. Refuses what cannot be read with the file
and the fix named; the layer is cleaned afterwards by geo.domain.boundaries.prepare_layer.
"""

from __future__ import annotations

import codecs
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio

from geo.domain.errors import BoundaryFileError, preview

__all__ = ["read_boundary_file"]

#: Shapefile encodings we recognise when a file has neither .cpg nor an LDID byte.
_SNIFF_ENCODINGS = ("utf-8", "gb18030")


def read_boundary_file(
    path: str | Path, *, layer: str | None = None, encoding: str | None = None
) -> gpd.GeoDataFrame:
    """Read a Shapefile (or zipped Shapefile), GeoPackage or GeoJSON into a GeoDataFrame.

    ``encoding`` applies to Shapefiles; without it a .cpg or the DBF language byte is used,
    and failing both the text is sniffed (UTF-8, else GBK/GB18030), so Chinese never turns
    into mojibake silently.
    """
    path = Path(path)
    if not path.exists():
        raise BoundaryFileError(f"文件不存在：{path}", field="path", code="file_not_found")
    if path.suffix.lower() == ".shp":
        missing = [ext for ext in (".dbf", ".shx") if not _sibling(path, ext).exists()]
        if missing:
            what = "属性表" if ".dbf" in missing else "索引"
            raise BoundaryFileError(
                f"Shapefile {path.name} 缺少同名的 {'、'.join(missing)} 文件（{what}）。Shapefile 由几个文件组成："
                "请把 .shp、.shx、.dbf（和 .prj、.cpg）放在同一目录，或打包成 .zip 再导入。",
                field="path", code="incomplete_shapefile")
    encoding = _resolve_encoding(path, encoding)
    layer = _resolve_layer(path, layer)
    try:
        return pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except UnicodeDecodeError as exc:
        raise BoundaryFileError(
            f"文件中的文字无法按编码 {encoding} 读取（{exc.reason}）。请用 --encoding 指定正确的编码，"
            "国内 Shapefile 常见的是 gbk。",
            field="encoding",
            code="bad_encoding",
        ) from exc
    except pyogrio.errors.DataSourceError as exc:
        raise _unreadable(path, exc) from exc


def _sibling(path: Path, ext: str) -> Path:
    """The file beside ``path`` with extension ``ext``, in either case (.dbf or .DBF)."""
    lower = path.with_suffix(ext)
    return lower if lower.exists() else path.with_suffix(ext.upper())


def _unreadable(path: Path, exc: Exception) -> BoundaryFileError:
    return BoundaryFileError(
        f"无法打开 {path.name}：{exc}。支持 Shapefile（.shp 或 .zip）、GeoPackage、GeoJSON。",
        field="path",
        code="unreadable_file",
    )


def _resolve_encoding(path: Path, encoding: str | None) -> str | None:
    if encoding:
        try:
            return codecs.lookup(encoding).name
        except LookupError as exc:
            raise BoundaryFileError(
                f"不认识的编码名 {encoding!r}。常用的有 gbk、gb18030、utf-8。",
                field="encoding",
                code="bad_encoding",
            ) from exc
    dbf = _shapefile_dbf(path)
    if dbf is None:
        return None  # GeoPackage and GeoJSON are UTF-8 by definition
    has_cpg, raw = dbf
    if has_cpg or len(raw) < 32 or raw[29] != 0:
        return None  # GDAL honours the .cpg or the LDID byte itself
    return _sniff_dbf_encoding(raw, path)


def _shapefile_dbf(path: Path) -> tuple[bool, bytes] | None:
    """(has .cpg, .dbf bytes) of a Shapefile or a zip holding one; None for other formats."""
    suffix = path.suffix.lower()
    if suffix == ".shp":
        dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
        if dbf is None:
            return None
        cpg = any(p.exists() for p in (path.with_suffix(".cpg"), path.with_suffix(".CPG")))
        return cpg, dbf.read_bytes()
    if suffix == ".zip" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            dbfs = [n for n in names if n.lower().endswith(".dbf")]
            if len(dbfs) != 1:
                return None
            cpg = any(n.lower().endswith(".cpg") for n in names)
            return cpg, zf.read(dbfs[0])
    return None


def _sniff_dbf_encoding(raw: bytes, path: Path) -> str:
    header_len = struct.unpack("<H", raw[8:10])[0]
    names = b"".join(raw[i : i + 11].split(b"\0")[0] for i in range(32, header_len - 1, 32))
    text = names + raw[header_len:]
    for candidate in _SNIFF_ENCODINGS:
        try:
            text.decode(candidate)
        except UnicodeDecodeError:
            continue
        return candidate
    raise BoundaryFileError(
        f"{path.name} 没有 .cpg 文件，且文字既不是 UTF-8 也不是 GBK。请用 --encoding 指定编码。",
        field="encoding",
        code="bad_encoding",
    )


def _resolve_layer(path: Path, layer: str | None) -> str | None:
    try:
        layers = pyogrio.list_layers(path)
    except pyogrio.errors.DataSourceError as exc:
        raise _unreadable(path, exc) from exc
    names = [str(name) for name, _ in layers]
    if layer is not None:
        if layer not in names:
            raise BoundaryFileError(
                f"文件中没有图层 {layer!r}。现有图层：{preview(names)}。",
                field="layer",
                code="missing_layer",
            )
        return layer
    spatial = [str(name) for name, geom_type in layers if geom_type]
    if len(spatial) > 1:
        raise BoundaryFileError(
            f"文件有多个图层：{preview(spatial)}。请用 --layer 指定要加载的一个。",
            field="layer",
            code="ambiguous_layer",
        )
    return spatial[0] if spatial else None
