"""Background jobs and outbox delivery.

- ``scheduler_job``: APScheduler's SQLAlchemy job store (its own column layout), so the next run of
  each periodic job survives restarts and a change of leader; created here so the application role
  needs no CREATE right at run time.
- ``job_run``: one row per job: runs, failures, the last run's start, duration and error — what
  ``/metrics`` and ``gridmap jobs list`` report, whichever process or machine ran it.
- ``outbox_delivery``: one row per notice and delivery channel (webhook, e-mail): attempts, the next
  attempt, the last error, ``pending`` → ``sent`` or ``dead`` (the dead-letter state).
- ``outbox.routed_at``: when the delivery job matched the notice to its channels.

Revision ID: 0016_jobs
Revises: 0015_record
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_jobs"
down_revision = "0015_record"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_job",
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25)),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_scheduler_job_next_run_time", "scheduler_job", ["next_run_time"])
    op.create_table(
        "job_run",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("runs", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failures", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_started_at", sa.DateTime(timezone=True)),
        sa.Column("last_seconds", sa.Float),
        sa.Column("last_ok", sa.Boolean),
        sa.Column("last_error", sa.Text),
        sa.Column("last_result", sa.BigInteger),
        sa.Column("last_host", sa.Text),
    )
    op.add_column("outbox", sa.Column("routed_at", sa.DateTime(timezone=True)))
    op.create_index("ix_outbox_unrouted", "outbox", ["id"],
                    postgresql_where=sa.text("sent_at IS NULL AND routed_at IS NULL"))
    op.create_table(
        "outbox_delivery",
        sa.Column("outbox_id", sa.BigInteger, sa.ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("state IN ('pending', 'sent', 'dead')", name="ck_outbox_delivery_state"),
    )
    op.create_index("ix_outbox_delivery_due", "outbox_delivery", ["next_attempt_at"],
                    postgresql_where=sa.text("state = 'pending'"))


def downgrade() -> None:
    op.drop_table("outbox_delivery")
    op.drop_index("ix_outbox_unrouted", table_name="outbox")
    op.drop_column("outbox", "routed_at")
    op.drop_table("job_run")
    op.drop_table("scheduler_job")
