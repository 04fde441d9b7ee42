"""Items 5-10 of a measurement, for measures with more than four items (plug-ins).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = [f"item{k}" for k in range(5, 11)]


def upgrade() -> None:
    with op.batch_alter_table("measurement") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("measurement") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
