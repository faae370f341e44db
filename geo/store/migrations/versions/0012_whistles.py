"""Whistles by streets, communities and departments; rounds (a whistle opens again when a case goes
back to work); the whistler's scores of summoned departments; summons and closes as case events.

Revision ID: 0012_whistles
Revises: 0011_requester

Whistles blown before this revision were street whistles: their whistler is their street. 报到及时率
is computed from case_event from now on, so the summons and closes of those whistles, which only
the whistle tables knew, are written as events once here (details carry ``"backfilled": true``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_whistles"
down_revision = "0011_requester"
branch_labels = None
depends_on = None

#: Frozen copy of geo.domain.whistles.SCORE_ASPECTS, SCORE_MIN and SCORE_MAX at this revision.
SCORE_ASPECTS = ("arrival", "cooperation", "result")
SCORE_MIN, SCORE_MAX = 1, 5


def upgrade() -> None:
    op.add_column("whistle", sa.Column("round", sa.Integer, nullable=False, server_default="1"))
    op.add_column("whistle", sa.Column("whistler_role", sa.String(32), nullable=False,
                                       server_default="street_leader"))
    op.add_column("whistle", sa.Column("whistler_area", sa.String(32)))
    op.add_column("whistle", sa.Column("whistler_department", sa.String(32), sa.ForeignKey("department.code")))
    op.execute("UPDATE whistle SET whistler_area = street_code")
    op.create_check_constraint("ck_whistle_whistler", "whistle",
                               "(whistler_area IS NULL) <> (whistler_department IS NULL)")
    op.create_table(
        "whistle_score",
        sa.Column("whistle_id", sa.Integer, sa.ForeignKey("whistle.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("round", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("department_code", sa.String(32), sa.ForeignKey("department.code"), primary_key=True),
        *(sa.Column(aspect, sa.Integer, nullable=False) for aspect in SCORE_ASPECTS),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("scored_by", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        *(sa.CheckConstraint(f"{aspect} BETWEEN {SCORE_MIN} AND {SCORE_MAX}", name=f"ck_whistle_score_{aspect}")
          for aspect in SCORE_ASPECTS),
    )
    # The events earlier whistles did not write: each summons (with its due time) and each close.
    op.execute("""
        INSERT INTO case_event (case_id, at, actor_user_id, actor_name, actor_role, action, details)
        SELECT wc.case_id, w.created_at, w.created_by, coalesce(u.username, ''), coalesce(u.role, ''), 'summons',
               jsonb_build_object('whistle_id', w.id, 'department', s.department_code, 'role', s.role,
                                  'due_at', s.due_at, 'backfilled', true)
        FROM whistle w JOIN whistle_case wc ON wc.whistle_id = w.id
        JOIN whistle_summons s ON s.whistle_id = w.id LEFT JOIN app_user u ON u.id = w.created_by
        ORDER BY w.id, wc.case_id, s.role DESC, s.department_code""")
    op.execute("""
        INSERT INTO case_event (case_id, at, action, details)
        SELECT wc.case_id, w.closed_at, 'whistle_close', jsonb_build_object('whistle_id', w.id, 'round', 1,
                                                                            'backfilled', true)
        FROM whistle w JOIN whistle_case wc ON wc.whistle_id = w.id
        WHERE w.status = 'closed' AND w.closed_at IS NOT NULL
        ORDER BY w.id, wc.case_id""")


def downgrade() -> None:
    # case_event is append-only: the backfilled events stay (the measures of 0011 and before ignore them).
    op.drop_table("whistle_score")
    op.drop_constraint("ck_whistle_whistler", "whistle", type_="check")
    for column in ("whistler_department", "whistler_area", "whistler_role", "round"):
        op.drop_column("whistle", column)
