"""Time-limited access grants (a clinician to a team's clients, a quality lead to client level).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_grant",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("team_id", sa.Integer, nullable=True),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.DateTime, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_access_grant"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name="fk_access_grant_user_id_app_user"
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name="fk_access_grant_team_id_team"),
    )
    op.create_index("ix_access_grant_user_id", "access_grant", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_access_grant_user_id", table_name="access_grant")
    op.drop_table("access_grant")
