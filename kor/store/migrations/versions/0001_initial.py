"""Initial schema: teams, users, clients, episodes, sessions, measurements, audit, models.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "team",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_team"),
        sa.UniqueConstraint("code", name="uq_team_code"),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("team_id", sa.Integer, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_app_user"),
        sa.UniqueConstraint("username", name="uq_app_user_username"),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name="fk_app_user_team_id_team"),
    )
    op.create_table(
        "client",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("birth_year", sa.Integer, nullable=True),
        sa.Column("age_group", sa.String(12), nullable=False),
        sa.Column("team_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_client"),
        sa.UniqueConstraint("code", name="uq_client_code"),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name="fk_client_team_id_team"),
    )
    op.create_index("ix_client_team_id", "client", ["team_id"])
    op.create_table(
        "episode",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("client_id", sa.Integer, nullable=False),
        sa.Column("clinician_id", sa.Integer, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=True),
        sa.Column("end_reason", sa.String(20), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_episode"),
        sa.ForeignKeyConstraint(["client_id"], ["client.id"], name="fk_episode_client_id_client"),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["app_user.id"], name="fk_episode_clinician_id_app_user"
        ),
    )
    op.create_index("ix_episode_client_id", "episode", ["client_id"])
    op.create_index("ix_episode_clinician_id", "episode", ["clinician_id"])
    op.create_table(
        "session",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("episode_id", sa.Integer, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("session_date", sa.Date, nullable=False),
        sa.Column("clinician_id", sa.Integer, nullable=False),
        sa.Column("format", sa.String(12), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_session"),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episode.id"], name="fk_session_episode_id_episode"
        ),
        sa.ForeignKeyConstraint(
            ["clinician_id"], ["app_user.id"], name="fk_session_clinician_id_app_user"
        ),
        sa.UniqueConstraint("episode_id", "number", name="uq_session_episode_number"),
    )
    op.create_index("ix_session_session_date", "session", ["session_date"])
    op.create_table(
        "measurement",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("session_id", sa.Integer, nullable=False),
        sa.Column("measure", sa.String(12), nullable=False),
        sa.Column("item1", sa.Float, nullable=False),
        sa.Column("item2", sa.Float, nullable=True),
        sa.Column("item3", sa.Float, nullable=True),
        sa.Column("item4", sa.Float, nullable=True),
        sa.Column("total", sa.Float, nullable=False),
        sa.Column("entered_by", sa.Integer, nullable=False),
        sa.Column("entered_at", sa.DateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_measurement"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["session.id"], name="fk_measurement_session_id_session"
        ),
        sa.ForeignKeyConstraint(
            ["entered_by"], ["app_user.id"], name="fk_measurement_entered_by_app_user"
        ),
        sa.UniqueConstraint("session_id", "measure", name="uq_measurement_session_measure"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_table(
        "model",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("fitted_on", sa.Date, nullable=False),
        sa.Column("n_episodes", sa.Integer, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model"),
    )
    op.create_index("ix_model_kind", "model", ["kind"])


def downgrade() -> None:
    for name in (
        "model",
        "audit",
        "measurement",
        "session",
        "episode",
        "client",
        "app_user",
        "team",
    ):
        op.drop_table(name)
