"""The rater of a measurement: the client (default) or a parent, teacher or other adult.

Every measurement stored before this revision is the client's own (``'client'``). A
session may then hold one measurement per measure *and rater* (a child's CORS and a
parent's CORS of the same session), so the uniqueness becomes (session, measure, rater).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("measurement") as batch:
        batch.add_column(sa.Column("rater", sa.String(12), nullable=False, server_default="client"))
        batch.drop_constraint("uq_measurement_session_measure", type_="unique")
        batch.create_unique_constraint(
            "uq_measurement_session_measure_rater", ["session_id", "measure", "rater"]
        )


def downgrade() -> None:
    op.execute("DELETE FROM measurement WHERE rater <> 'client'")
    with op.batch_alter_table("measurement") as batch:
        batch.drop_constraint("uq_measurement_session_measure_rater", type_="unique")
        batch.create_unique_constraint("uq_measurement_session_measure", ["session_id", "measure"])
        batch.drop_column("rater")
