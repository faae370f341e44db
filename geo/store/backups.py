"""PostgreSQL's own backup tools (pg_dump / pg_restore, custom format) run against a database URL.

The client tools must be at least the server's major version, so they are taken from
``/usr/lib/postgresql/<server major>/bin`` (Debian's layout) or, failing that, from PATH when new
enough. They connect over the URL's host and port; the password goes to them in ``PGPASSWORD``,
never on a command line (where ``ps`` would show it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from geo.domain.errors import Unavailable

__all__ = ["COUNTED", "Libpq", "client_tool", "dump", "libpq", "restore", "row_counts", "server_major",
           "user_relations"]

#: The tables whose rows a backup and a restore report, in the order they are printed.
COUNTED = ("cases", "case_event", "boundary_version", "case_photo", "whistle")
PG_ROOT = Path("/usr/lib/postgresql")
_TOOL_SECONDS = 6 * 3600  # a dump or restore of a city's years fits well inside this


@dataclass(frozen=True)
class Libpq:
    """How a libpq client reaches the database: a conninfo string without the password, and the
    environment that carries the password."""

    conninfo: str
    env: dict[str, str]
    database: str


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def libpq(url: str) -> Libpq:
    """``postgresql+psycopg://u:secret@h:5433/db?sslmode=require`` → conninfo
    ``host='h' port='5433' user='u' dbname='db' sslmode='require'`` and ``PGPASSWORD=secret``."""
    parsed = make_url(url)
    parts = {"host": parsed.host, "port": str(parsed.port) if parsed.port else None, "user": parsed.username,
             "dbname": parsed.database}
    for key, value in parsed.query.items():
        parts[key] = value if isinstance(value, str) else value[-1]
    conninfo = " ".join(f"{k}={_quote(v)}" for k, v in parts.items() if v)
    env = {k: v for k, v in os.environ.items() if k not in ("PGPASSWORD", "PGDATABASE", "PGSERVICE")}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return Libpq(conninfo=conninfo, env=env, database=parsed.database or "")


def server_major(connection: Connection) -> int:
    return int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _major_of(tool: Path) -> int | None:
    try:
        out = subprocess.run([str(tool), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else None


def client_tool(name: str, major: int) -> Path:
    """``pg_dump`` or ``pg_restore`` of the server's major version (or newer)."""
    exact = PG_ROOT / str(major) / "bin" / name
    if exact.exists():
        return exact
    candidates = sorted(PG_ROOT.glob(f"*/bin/{name}"), key=lambda p: int(p.parent.parent.name)
                        if p.parent.parent.name.isdigit() else 0)
    on_path = shutil.which(name)
    for tool in [*reversed(candidates), *([Path(on_path)] if on_path else [])]:
        version = _major_of(tool)
        if version is not None and version >= major:
            return tool
    raise Unavailable(f"找不到 PostgreSQL {major} 或更新版本的 {name}：请安装 postgresql-client-{major}"
                      f"（Debian/Ubuntu：apt-get install postgresql-client-{major}）。", field=name,
                      code="missing_tool")


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=_TOOL_SECONDS)
    if proc.returncode != 0:
        detail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise Unavailable(f"{what}失败（{Path(args[0]).name} 退出码 {proc.returncode}）：\n{detail}",
                          code="backup_tool_failed")


def dump(url: str, output: Path, *, major: int, snapshot: str | None = None) -> None:
    """``pg_dump --format=custom`` of the whole database (schema, the postgis extension, data) to
    ``output``; with ``snapshot`` (pg_export_snapshot of an open transaction) it dumps exactly
    what that transaction sees."""
    conn = libpq(url)
    args = [str(client_tool("pg_dump", major)), "--format=custom", "--no-password", f"--file={output}"]
    if snapshot:
        args.append(f"--snapshot={snapshot}")
    _run([*args, f"--dbname={conn.conninfo}"], conn.env, "备份")


def restore(url: str, path: Path, *, major: int, clean: bool = False) -> None:
    """``pg_restore`` of a custom-format dump into the database of ``url`` in one transaction (a
    failure leaves the database as it was). Objects are owned by the restoring user and carry no
    grants (``--no-owner --no-acl``), so a dump restores on another cluster whose roles differ;
    no comments either (the superuser's comment on the PostGIS extension is not the owner's to set).
    ``clean`` first drops the dump's objects that exist in the target."""
    conn = libpq(url)
    args = [str(client_tool("pg_restore", major)), "--single-transaction", "--exit-on-error", "--no-owner",
            "--no-acl", "--no-comments", "--no-password"]
    if clean:
        args += ["--clean", "--if-exists"]
    _run([*args, f"--dbname={conn.conninfo}", str(path)], conn.env, "恢复")


def user_relations(connection: Connection) -> list[tuple[str, str]]:
    """(schema.name, kind) of every table, view or sequence not belonging to an extension
    (PostGIS's spatial_ref_sys does not make a database non-empty)."""
    rows = connection.execute(text("""
        SELECT n.nspname || '.' || c.relname, c.relkind::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1""")).all()
    return [(str(r[0]), str(r[1])) for r in rows]


def row_counts(connection: Connection) -> dict[str, int | None]:
    """Rows of each COUNTED table (None when the table is absent)."""
    present = {str(r[0]) for r in connection.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(:names)"), {"names": list(COUNTED)})}
    return {name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            if name in present else None for name in COUNTED}
