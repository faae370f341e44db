"""PostGIS storage: engine, models, migrations and queries. Never commits (the edge does)."""
