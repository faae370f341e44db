"""The address gazetteer (地址库) and the address a case was placed by.

pg_trgm (a trusted contrib extension: the database owner may create it, no superuser needed)
gives the fuzzy match on the address's match key (geo.domain.addresses.match_key).

Revision ID: 0019_addresses
Revises: 0018_analyze
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0019_addresses"
down_revision = "0018_analyze"
branch_labels = None
depends_on = None

#: Frozen copy of geo.domain.addresses.ADDRESS_MAX at this revision.
ADDRESS_MAX = 200


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "address",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("address", sa.String(ADDRESS_MAX), nullable=False),
        sa.Column("norm", sa.String(ADDRESS_MAX), nullable=False),
        sa.Column("key", sa.String(ADDRESS_MAX), nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("orig_x", sa.Float),
        sa.Column("orig_y", sa.Float),
        sa.Column("orig_crs", sa.String(32)),
        sa.Column("grid_code", sa.String(32)),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("norm", name="uq_address_norm"),
    )
    op.create_index("ix_address_geom", "address", ["geom"], postgresql_using="gist")
    op.create_index("ix_address_key_trgm", "address", ["key"], postgresql_using="gin",
                    postgresql_ops={"key": "gin_trgm_ops"})
    op.create_index("ix_address_key", "address", ["key"])
    op.add_column("cases", sa.Column("address", sa.String(ADDRESS_MAX)))


def downgrade() -> None:
    op.drop_column("cases", "address")
    op.drop_table("address")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
