"""Improvement projects: phases, checklists, SMART goals, change log, evaluations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _project_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id"], ["cycle_project.id"], name=f"fk_{table}_project_id_cycle_project"
    )


def upgrade() -> None:
    op.create_table(
        "cycle_project",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("theme", sa.String(200), nullable=True),
        sa.Column("question", sa.Text, nullable=True),
        sa.Column("source", sa.String(20), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("evaluations_per_year", sa.Integer, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cycle_project"),
    )
    op.create_table(
        "cycle_project_team",
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("team_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("project_id", "team_id", name="pk_cycle_project_team"),
        _project_fk("cycle_project_team"),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name="fk_cycle_project_team_team_id_team"
        ),
    )
    op.create_table(
        "cycle_member",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("role", sa.String(30), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cycle_member"),
        _project_fk("cycle_member"),
    )
    op.create_table(
        "cycle_checklist",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("item_key", sa.String(80), nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("done", sa.Boolean, nullable=False),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.Column("done_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cycle_checklist"),
        _project_fk("cycle_checklist"),
    )
    op.create_table(
        "cycle_note",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("phase", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cycle_note"),
        _project_fk("cycle_note"),
    )
    op.create_table(
        "cycle_goal",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("measure", sa.String(80), nullable=False),
        sa.Column("team", sa.String(20), nullable=True),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("baseline", sa.Float, nullable=True),
        sa.Column("target", sa.Float, nullable=True),
        sa.Column("deadline", sa.Date, nullable=True),
        sa.Column("agreed_by", sa.String(200), nullable=True),
        sa.Column("agreed_at", sa.DateTime, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cycle_goal"),
        _project_fk("cycle_goal"),
    )
    op.create_table(
        "cycle_change",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("change_date", sa.Date, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cycle_change"),
        _project_fk("cycle_change"),
    )
    op.create_table(
        "cycle_evaluation",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("done_at", sa.DateTime, nullable=True),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cycle_evaluation"),
        sa.UniqueConstraint("project_id", "due", name="uq_cycle_evaluation_project_due"),
        _project_fk("cycle_evaluation"),
    )
    for table in (
        "cycle_member",
        "cycle_checklist",
        "cycle_note",
        "cycle_goal",
        "cycle_change",
        "cycle_evaluation",
    ):
        op.create_index(f"ix_{table}_project_id", table, ["project_id"])


def downgrade() -> None:
    for table in (
        "cycle_evaluation",
        "cycle_change",
        "cycle_goal",
        "cycle_note",
        "cycle_checklist",
        "cycle_member",
        "cycle_project_team",
        "cycle_project",
    ):
        op.drop_table(table)
