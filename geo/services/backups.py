"""Backups: the whole database (schema, PostGIS, boundaries, cases, events, photos) as one
pg_dump custom-format file, and its restore into an empty database.

Photos live in PostgreSQL (``case_photo.data``), so the one file carries everything a district
needs to carry on; nothing else on disk needs saving.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from geo.domain.errors import Conflict, NotFound, preview
from geo.domain.exports import private_output
from geo.store import backups as store
from geo.store.migrate import grant_runtime

__all__ = ["COUNT_NAMES", "BackupReport", "backup_database", "counts_line", "restore_database"]

#: What the counted tables hold, as a backup or restore reports them.
COUNT_NAMES = {"cases": "案件", "case_event": "事件", "boundary_version": "边界版本", "case_photo": "照片",
               "whistle": "吹哨"}


def counts_line(counts: dict[str, int | None]) -> str:
    """{"cases": 1200, "case_event": 9000} → "案件 1,200，事件 9,000" (absent tables left out)."""
    return "，".join(f"{COUNT_NAMES.get(k, k)} {v:,}" for k, v in counts.items() if v is not None)


@dataclass
class BackupReport:
    path: Path
    database: str
    counts: dict[str, int | None] = field(default_factory=dict)
    size_bytes: int = 0
    seconds: float = 0.0


def backup_database(connection: Connection, url: str, output: Path) -> BackupReport:
    """Dump the database of ``url`` to ``output`` as of one snapshot, counted in the same snapshot.

    ``connection`` must be in a REPEATABLE READ transaction that has run nothing yet: it exports
    its snapshot, so the counts reported are exactly the rows in the file. Example::

        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as c, c.begin():
            report = backup_database(c, url, Path("gridmap.dump"))
    """
    started = time.perf_counter()
    snapshot = str(connection.execute(text("SELECT pg_export_snapshot()")).scalar_one())
    counts = store.row_counts(connection)
    output.parent.mkdir(parents=True, exist_ok=True)
    with private_output(output):  # a backup holds everything, password hashes included
        store.dump(url, output, major=store.server_major(connection), snapshot=snapshot)
    return BackupReport(path=output, database=store.libpq(url).database, counts=counts,
                        size_bytes=output.stat().st_size, seconds=time.perf_counter() - started)


def _refuse_non_empty(database: str, relations: list[tuple[str, str]], counts: dict[str, int | None]) -> None:
    tables = [name for name, kind in relations if kind != "S"] or [name for name, _ in relations]
    rows = counts_line(counts)
    raise Conflict(
        f"目标数据库 {database} 不是空的：已有 {len(tables)} 个表（{preview(tables, 5)}）"
        f"{'，其中 ' + rows if rows else ''}。"
        f"请恢复到一个新建的空数据库（如 createdb {database}_restored，再把 DATABASE_URL 指向它），"
        "或确认要覆盖时加 --force（先删除备份里也有的对象再恢复，在一个事务里完成，失败则不变）。",
        field="database", code="not_empty")


def restore_database(engine: Engine, path: Path, *, force: bool = False, app_role: str | None = None) -> BackupReport:
    """Restore a ``backup_database`` file into the database of ``engine`` (the schema's owner):
    refused (nothing changed) when that database already holds tables, unless ``force``; one
    transaction either way. The dump carries no grants: ``app_role`` gets the app's again."""
    if not path.is_file():
        raise NotFound(f"备份文件 {path} 不存在。", field="file", code="not_found")
    started = time.perf_counter()
    url = engine.url.render_as_string(hide_password=False)
    database = store.libpq(url).database
    with engine.connect() as conn:
        relations = store.user_relations(conn)
        major = store.server_major(conn)
        counts = store.row_counts(conn) if relations else {}
    if relations and not force:
        _refuse_non_empty(database, relations, counts)
    store.restore(url, path, major=major, clean=bool(relations))
    with engine.begin() as conn:
        if app_role:
            grant_runtime(conn, app_role)
        counts = store.row_counts(conn)
    return BackupReport(path=path, database=database, counts=counts, size_bytes=path.stat().st_size,
                        seconds=time.perf_counter() - started)
