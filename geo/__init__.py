"""gridmap's framework-free core: spatial logic, use cases and PostGIS storage.

See geo/README.md for the import rule.
"""
