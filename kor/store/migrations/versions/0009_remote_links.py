"""Remote outcome forms: one-time links (hashed token and short code) and the drafts
the client sends from their phone, for the clinician to confirm or discard.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remote_link",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("episode_id", sa.Integer, nullable=False),
        sa.Column("measure", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_remote_link"),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episode.id"], name="fk_remote_link_episode_id_episode"
        ),
        sa.UniqueConstraint("token_hash", name="uq_remote_link_token_hash"),
        sa.UniqueConstraint("code_hash", name="uq_remote_link_code_hash"),
    )
    op.create_index("ix_remote_link_episode_id", "remote_link", ["episode_id"])
    op.create_table(
        "remote_draft",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("link_id", sa.Integer, nullable=False),
        sa.Column("episode_id", sa.Integer, nullable=False),
        sa.Column("measure", sa.String(16), nullable=False),
        sa.Column("item_values", sa.Text, nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", sa.DateTime, nullable=True),
        sa.Column("session_id", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_remote_draft"),
        sa.ForeignKeyConstraint(
            ["link_id"], ["remote_link.id"], name="fk_remote_draft_link_id_remote_link"
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episode.id"], name="fk_remote_draft_episode_id_episode"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name="fk_remote_draft_session_id_session"
        ),
        sa.UniqueConstraint("link_id", name="uq_remote_draft_link_id"),
    )
    op.create_index("ix_remote_draft_episode_id", "remote_draft", ["episode_id"])


def downgrade() -> None:
    op.drop_index("ix_remote_draft_episode_id", table_name="remote_draft")
    op.drop_table("remote_draft")
    op.drop_index("ix_remote_link_episode_id", table_name="remote_link")
    op.drop_table("remote_link")
