"""Promises about the project itself: settings documented, schema and models agree, assets locked."""

import json
import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from geo.store.models import Base
from webmap.config import DEFAULTS, load_config

ROOT = Path(__file__).resolve().parent.parent
EXPRESSION_INDEXES = ("ix_cases_next_due",)


def test_every_setting_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in DEFAULTS if f"`{name}`" not in readme]
    assert missing == []


def test_environment_overrides_defaults_and_mapping_overrides_environment():
    config = load_config({"GRIDMAP_PGPORT": 1234}, environ={"GRIDMAP_PGPORT": "999", "GRIDMAP_BASEMAP": "osm"})
    assert config["GRIDMAP_PGPORT"] == 1234 and config["GRIDMAP_BASEMAP"] == "osm"
    assert config["DATABASE_URL"].endswith("@127.0.0.1:1234/gridmap")


def test_models_match_the_migrations(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    # Ignore PostGIS's own tables (spatial_ref_sys and friends).
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "spatial_ref_sys")]
    # An expression index comes back as PostgreSQL's rewrite of it (casts, ANY (ARRAY…)), never equal to
    # the model's text: ix_cases_next_due (0020) lives in its migration, pinned by tests/test_one_home.py.
    diff = [d for d in diff if not (d[0] == "remove_index" and d[1].name in EXPRESSION_INDEXES)]
    assert diff == []


def test_front_end_assets_are_pinned_in_the_lockfile():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name in ("leaflet", "leaflet.markercluster", "jquery"):
        entry = lock["packages"][f"node_modules/{name}"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", entry["version"]) and entry["integrity"].startswith("sha512-")


def test_geo_is_three_layer_folders_and_the_domain_contract_names_its_folder():
    """Pure modules live in geo/domain (the contract names the folder): a module dropped into geo/
    itself would sit outside every layer contract."""
    import tomllib

    assert sorted(p.name for p in (ROOT / "geo").glob("*.py")) == ["__init__.py"]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    assert layers["layers"] == ["webmap", "geo.services", "geo.store", "geo.domain"]
    pure = next(c for c in config["tool"]["importlinter"]["contracts"] if c["name"].startswith("the domain is pure"))
    assert pure["source_modules"] == ["geo.domain"]


def test_no_module_passes_400_lines_without_saying_why_at_its_top():
    """STYLE: a module past ~400 lines is a prompt to split by noun; one that stays says why."""
    long = []
    for path in [*ROOT.glob("geo/**/*.py"), *ROOT.glob("webmap/**/*.py"), *ROOT.glob("webmap/static/js/*.js")]:
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > 420 and not any("past 400 lines" in line for line in lines[:12]):
            long.append(f"{path.relative_to(ROOT)} ({len(lines)})")
    assert long == []
