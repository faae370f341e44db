"""Settings, layered: defaults → environment (GRIDMAP_*, DATABASE_URL) → instance file → mapping.

Nothing here runs at import time; ``load_config`` is called by ``create_app`` and the CLI.
Every setting is documented in README.md (a test checks the two agree).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from geo.domain.errors import InvalidInput
from geo.domain.notices import parse_channels
from geo.domain.stats import Weights
from geo.services.boundaries import BoundarySettings
from geo.services.cases import CaseSettings
from geo.services.channels import SmtpSettings
from geo.services.outbox import DeliverySettings

__all__ = ["DEFAULTS", "ENV_SETTINGS", "boundary_settings", "case_settings", "delivery_settings", "load_config",
           "local_database_url", "score_weights"]

#: Setting name → default. Environment variables use the same names.
DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: the project-local cluster (var/pg.env, written by make run), else GRIDMAP_PGPORT
    "GRIDMAP_MIGRATE_URL": None,  # None: DATABASE_URL; set: the schema owner's URL for `db upgrade` and restores
    "GRIDMAP_READ_DATABASE_URL": None,  # None: reads go to DATABASE_URL; set: a streaming replica for map/stats reads
    "GRIDMAP_PGPORT": 54329,
    "GRIDMAP_SECRET_KEY": None,  # None: a random key per process (sessions end on restart)
    "GRIDMAP_SECURE_COOKIES": "",  # set (1) behind HTTPS so cookies are never sent in clear
    "GRIDMAP_BASEMAP": "none",  # none | osm | tianditu | an XYZ URL template
    "GRIDMAP_TIANDITU_KEY": "",
    "GRIDMAP_METRIC_CRS": "EPSG:4548",
    "GRIDMAP_GRID_MAX_AREA_M2": 1_000_000.0,
    "GRIDMAP_CHECK_MIN_AREA_M2": 1.0,
    "GRIDMAP_CHECK_MIN_WIDTH_M": 0.05,
    "GRIDMAP_TIMEZONE": "Asia/Shanghai",  # naive times in requests and imports are local to it
    "GRIDMAP_DUPLICATE_RADIUS_M": 50.0,
    "GRIDMAP_DUPLICATE_DAYS": 7.0,
    "GRIDMAP_IMPORT_BATCH": 100_000,
    "GRIDMAP_IMPORT_LOCK_SECONDS": 30,  # a bulk load waits this long for readers of the case tables
    "GRIDMAP_WHISTLE_ARRIVAL_MINUTES": 30.0,
    "GRIDMAP_CHECKIN_MAX_M": 200.0,
    "GRIDMAP_MAX_UPLOAD_MB": 50,
    "GRIDMAP_PHOTO_MAX_MB": 5.0,
    "GRIDMAP_SCORE_WEIGHTS": "0.10,0.45,0.45",  # composite score: response, resolution, satisfaction
    "GRIDMAP_STATS_MAX_BACKLOG": 200_000,  # more new events: read the facts as they stand, marked behind
    "GRIDMAP_RANK_MIN_CASES": 10,  # fewer cases in the period: shown, not ranked
    "GRIDMAP_SESSION_IDLE_MINUTES": 120,  # a signed-in browser unused this long is signed out
    "GRIDMAP_LOGIN_RATE": "60 per minute;600 per hour",  # sign-in attempts per client address
    "GRIDMAP_IMPORT_SOURCES": "12345",  # sources only imports and hotline integration tokens may use
    "GRIDMAP_PHOTOS_PER_CASE": 20,
    "GRIDMAP_DB_POOL_SIZE": 5,
    "GRIDMAP_DB_TRANSACTION_POOLER": "",  # set (1) when DATABASE_URL is a PgBouncer in transaction mode
    "GRIDMAP_DIRECT_DATABASE_URL": None,  # None: DATABASE_URL; the CLI and the jobs worker connect here
    "GRIDMAP_SERVE_WORKERS": 2,
    "GRIDMAP_SERVE_THREADS": 4,
    "GRIDMAP_LOG_FORMAT": "json",  # json (one object a line) | text (for people at a terminal)
    "GRIDMAP_LOG_LEVEL": "INFO",
    "GRIDMAP_METRICS_TOKEN": "",  # set: Authorization: Bearer <it> may read /metrics from anywhere
    "GRIDMAP_JOBS": "1",  # 1: `gridmap serve` starts the job worker beside the server; 0: run `gridmap worker` yourself
    "GRIDMAP_JOB_STATS_SECONDS": 30.0,  # fold new case events into the statistics this often (0: off)
    "GRIDMAP_JOB_OVERDUE_SECONDS": 60.0,  # write overdue notices this often (0: off)
    "GRIDMAP_JOB_OUTBOX_SECONDS": 15.0,  # deliver outbox notices this often (0: off)
    "GRIDMAP_JOB_CLEANUP_SECONDS": 3600.0,  # forgive old failed logins this often (0: off)
    "GRIDMAP_BACKUP_DIR": None,  # set: the backup job writes a pg_dump here every GRIDMAP_BACKUP_HOURS
    "GRIDMAP_BACKUP_HOURS": 24.0,
    "GRIDMAP_BACKUP_KEEP": 7,  # newest backup files kept in GRIDMAP_BACKUP_DIR
    "GRIDMAP_OUTBOX_CHANNELS": "",  # JSON list of delivery channels (geo.domain.notices)
    "GRIDMAP_OUTBOX_MAX_ATTEMPTS": 8,  # a delivery failing this many times is dead (dead letter)
    "GRIDMAP_OUTBOX_BACKOFF_SECONDS": 30.0,  # wait after the first failure; doubles per failure, at most 1 h
    "GRIDMAP_SMTP_HOST": "",
    "GRIDMAP_SMTP_PORT": 25,
    "GRIDMAP_SMTP_USER": "",
    "GRIDMAP_SMTP_PASSWORD": "",
    "GRIDMAP_SMTP_FROM": "",
    "GRIDMAP_SMTP_SECURITY": "none",  # none | starttls | ssl
    "GRIDMAP_INSTANCE_CONFIG": None,  # path of a Python file of overrides
}

ENV_SETTINGS = tuple(DEFAULTS)

_INT = {"GRIDMAP_PGPORT", "GRIDMAP_STATS_MAX_BACKLOG", "GRIDMAP_RANK_MIN_CASES", "GRIDMAP_SESSION_IDLE_MINUTES",
        "GRIDMAP_MAX_UPLOAD_MB",
        "GRIDMAP_PHOTOS_PER_CASE", "GRIDMAP_DB_POOL_SIZE", "GRIDMAP_SERVE_THREADS", "GRIDMAP_SERVE_WORKERS",
        "GRIDMAP_IMPORT_BATCH", "GRIDMAP_IMPORT_LOCK_SECONDS",
        "GRIDMAP_BACKUP_KEEP", "GRIDMAP_OUTBOX_MAX_ATTEMPTS", "GRIDMAP_SMTP_PORT"}
_FLOAT = {"GRIDMAP_GRID_MAX_AREA_M2", "GRIDMAP_CHECK_MIN_AREA_M2", "GRIDMAP_CHECK_MIN_WIDTH_M",
          "GRIDMAP_DUPLICATE_RADIUS_M", "GRIDMAP_DUPLICATE_DAYS", "GRIDMAP_WHISTLE_ARRIVAL_MINUTES",
          "GRIDMAP_CHECKIN_MAX_M", "GRIDMAP_PHOTO_MAX_MB", "GRIDMAP_JOB_STATS_SECONDS", "GRIDMAP_JOB_OVERDUE_SECONDS",
          "GRIDMAP_JOB_OUTBOX_SECONDS", "GRIDMAP_JOB_CLEANUP_SECONDS", "GRIDMAP_BACKUP_HOURS",
          "GRIDMAP_OUTBOX_BACKOFF_SECONDS"}


def _coerce(name: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        if name in _INT:
            return int(value)
        if name in _FLOAT:
            return float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"设置 {name}={value!r} 不是数字") from exc
    return value


#: Written by ``scripts/pg.sh secure`` (make run), 0600: the app's and the schema owner's URLs.
LOCAL_CLUSTER_ENV = Path(__file__).resolve().parent.parent / "var" / "pg.env"


def local_database_url(port: int) -> str:
    """A project-local cluster without credentials (a throwaway test cluster on ``port``)."""
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/gridmap"


def _local_cluster_urls(path: Path) -> dict[str, str]:
    """DATABASE_URL and GRIDMAP_MIGRATE_URL of the cluster `make run` keeps under var/, if any."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {k: v for k, v in pairs if k in ("DATABASE_URL", "GRIDMAP_MIGRATE_URL")}


def load_config(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Resolve every setting; ``overrides`` (tests, callers) win over everything."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    config.update({k: environ[k] for k in ENV_SETTINGS if environ.get(k)})
    instance = (overrides or {}).get("GRIDMAP_INSTANCE_CONFIG") or config.get("GRIDMAP_INSTANCE_CONFIG")
    if instance:
        config.update(_read_instance_file(Path(instance)))
    config.update(overrides or {})
    config = {k: _coerce(k, v) for k, v in config.items()}
    if not config.get("DATABASE_URL"):
        local = _local_cluster_urls(LOCAL_CLUSTER_ENV)
        config["DATABASE_URL"] = local.get("DATABASE_URL") or local_database_url(config["GRIDMAP_PGPORT"])
        config["GRIDMAP_MIGRATE_URL"] = config.get("GRIDMAP_MIGRATE_URL") or local.get("GRIDMAP_MIGRATE_URL")
    if not config.get("GRIDMAP_MIGRATE_URL"):
        config["GRIDMAP_MIGRATE_URL"] = config["DATABASE_URL"]
    if not config.get("GRIDMAP_DIRECT_DATABASE_URL"):
        config["GRIDMAP_DIRECT_DATABASE_URL"] = config["DATABASE_URL"]
    return config


def _read_instance_file(path: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # noqa: S102 - operator's own file
    return {k: v for k, v in namespace.items() if k.isupper()}


def case_settings(config: dict[str, Any]) -> CaseSettings:
    reserved = tuple(s.strip().lower() for s in str(config["GRIDMAP_IMPORT_SOURCES"]).split(",") if s.strip())
    return CaseSettings(timezone=config["GRIDMAP_TIMEZONE"], duplicate_radius_m=config["GRIDMAP_DUPLICATE_RADIUS_M"],
                        duplicate_days=config["GRIDMAP_DUPLICATE_DAYS"], reserved_sources=reserved)


def score_weights(config: dict[str, Any]) -> Weights:
    """GRIDMAP_SCORE_WEIGHTS: "response,resolution,satisfaction" (default 0.10,0.45,0.45)."""
    raw = str(config["GRIDMAP_SCORE_WEIGHTS"])
    try:
        return Weights(*(float(v) for v in raw.split(",")))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"设置 GRIDMAP_SCORE_WEIGHTS={raw!r} 无效：应为三个非负数（响应率、解决率、满意率的权重），"
                           "如 0.10,0.45,0.45。", field="GRIDMAP_SCORE_WEIGHTS", code="bad_setting") from exc


def boundary_settings(config: dict[str, Any]) -> BoundarySettings:
    return BoundarySettings(
        metric_crs=config["GRIDMAP_METRIC_CRS"],
        min_finding_area_m2=config["GRIDMAP_CHECK_MIN_AREA_M2"],
        min_finding_width_m=config["GRIDMAP_CHECK_MIN_WIDTH_M"],
        max_grid_area_m2=config["GRIDMAP_GRID_MAX_AREA_M2"],
    )


def photo_max_bytes(config: Mapping[str, Any]) -> int:
    """GRIDMAP_PHOTO_MAX_MB in bytes: the upload check and the browser's check before sending."""
    return int(float(config["GRIDMAP_PHOTO_MAX_MB"]) * 1024 * 1024)


SMTP_SECURITY = ("none", "starttls", "ssl")


def delivery_settings(config: dict[str, Any]) -> DeliverySettings:
    """The outbox's channels, SMTP server and retry policy; a bad setting is refused naming it."""
    security = str(config["GRIDMAP_SMTP_SECURITY"]).lower()
    if security not in SMTP_SECURITY:
        raise InvalidInput(f"设置 GRIDMAP_SMTP_SECURITY={security!r} 无效：应为 none、starttls 或 ssl。",
                           field="GRIDMAP_SMTP_SECURITY", code="bad_setting")
    return DeliverySettings(
        channels=parse_channels(config["GRIDMAP_OUTBOX_CHANNELS"]),
        smtp=SmtpSettings(host=str(config["GRIDMAP_SMTP_HOST"] or ""), port=int(config["GRIDMAP_SMTP_PORT"]),
                          user=str(config["GRIDMAP_SMTP_USER"] or ""),
                          password=str(config["GRIDMAP_SMTP_PASSWORD"] or ""),
                          sender=str(config["GRIDMAP_SMTP_FROM"] or ""), security=security),
        max_attempts=max(int(config["GRIDMAP_OUTBOX_MAX_ATTEMPTS"]), 1),
        backoff_seconds=float(config["GRIDMAP_OUTBOX_BACKOFF_SECONDS"]))
