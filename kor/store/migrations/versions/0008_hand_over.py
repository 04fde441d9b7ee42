"""Hand-over mode survives a page reload: one row per hand-over of the tablet.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hand_over",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("episode_id", sa.Integer, nullable=False),
        sa.Column("form", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.Column("ended_how", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hand_over"),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episode.id"], name="fk_hand_over_episode_id_episode"
        ),
    )
    op.create_index("ix_hand_over_username", "hand_over", ["username"])


def downgrade() -> None:
    op.drop_index("ix_hand_over_username", table_name="hand_over")
    op.drop_table("hand_over")
