"""The domain, pure: rules and computations with no database, no web and no file system of its own.

Every domain rule has its one home here (geo/README.md names them); storage, services, SQL,
templates and JavaScript derive from these modules or are pinned to them by a test.
"""
