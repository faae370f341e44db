"""The ``gridmap`` command: database, boundaries, demo data, serving.

``DATABASE_URL`` (``postgresql://`` or ``postgresql+psycopg://``) selects the database; without it
the project-local cluster on ``GRIDMAP_PGPORT`` is used. Each command is one transaction: it
commits when it succeeds and changes nothing when it fails.

``context`` builds what every command shares (settings, engine, error handling, ``main``); each
other module is one command group, named by its noun, and registers itself on ``main``.
"""

from __future__ import annotations

from webmap.cli import (  # noqa: F401 - imported for their commands, which they register on main
    addresses,
    backup,
    boundaries,
    callbacks,
    cases,
    db,
    demo,
    jobs,
    outbox,
    reference,
    serve,
    stats,
    tokens,
    users,
)
from webmap.cli.context import main

__all__ = ["main"]
