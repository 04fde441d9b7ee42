"""«Drøftet» marks on the supervision list, with a short note for the clinician.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supervision_mark",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("episode_id", sa.Integer, nullable=False),
        sa.Column("marked_by", sa.String(64), nullable=False),
        sa.Column("marked_at", sa.DateTime, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_supervision_mark"),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episode.id"], name="fk_supervision_mark_episode_id_episode"
        ),
    )
    op.create_index("ix_supervision_mark_episode_id", "supervision_mark", ["episode_id"])


def downgrade() -> None:
    op.drop_index("ix_supervision_mark_episode_id", table_name="supervision_mark")
    op.drop_table("supervision_mark")
