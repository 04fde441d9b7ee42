"""Tables of improvement projects (the five-phase cycle), on :data:`kor.store.schema.metadata`.

No client data: members are staff and user representatives by name or username;
goals refer to a measure key and a team, and their baseline is an aggregate the
small-cell rule has already let through. ``version`` columns give optimistic locking.
Migration ``0003`` creates these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from kor.store.schema import metadata

__all__ = [
    "cycle_project",
    "cycle_project_team",
    "cycle_member",
    "cycle_checklist",
    "cycle_note",
    "cycle_goal",
    "cycle_change",
    "cycle_evaluation",
]

cycle_project = Table(
    "cycle_project",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("theme", String(200), nullable=True),
    Column("question", Text, nullable=True),
    Column("source", String(20), nullable=True),
    Column("status", String(20), nullable=False),
    Column("phase", String(20), nullable=False),
    Column("evaluations_per_year", Integer, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False, default=1),
)

cycle_project_team = Table(
    "cycle_project_team",
    metadata,
    Column("project_id", ForeignKey("cycle_project.id"), primary_key=True),
    Column("team_id", ForeignKey("team.id"), primary_key=True),
)

cycle_member = Table(
    "cycle_member",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("cycle_project.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("username", String(64), nullable=True),
    Column("role", String(30), nullable=False),
)

cycle_checklist = Table(
    "cycle_checklist",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("cycle_project.id"), nullable=False, index=True),
    Column("phase", String(20), nullable=False),
    Column("position", Integer, nullable=False),
    Column("item_key", String(80), nullable=True),
    Column("text", Text, nullable=True),
    Column("done", Boolean, nullable=False, default=False),
    Column("done_by", String(64), nullable=True),
    Column("done_at", DateTime, nullable=True),
)

cycle_note = Table(
    "cycle_note",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("cycle_project.id"), nullable=False, index=True),
    Column("phase", String(20), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
)

cycle_goal = Table(
    "cycle_goal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("cycle_project.id"), nullable=False, index=True),
    Column("measure", String(80), nullable=False),
    Column("team", String(20), nullable=True),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("baseline", Float, nullable=True),
    Column("target", Float, nullable=True),
    Column("deadline", Date, nullable=True),
    Column("agreed_by", String(200), nullable=True),
    Column("agreed_at", DateTime, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False, default=1),
)

cycle_change = Table(
    "cycle_change",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("cycle_project.id"), nullable=False, index=True),
    Column("change_date", Date, nullable=False),
    Column("text", Text, nullable=False),
    Column("author", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
)

cycle_evaluation = Table(
    "cycle_evaluation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", ForeignKey("cycle_project.id"), nullable=False, index=True),
    Column("due", Date, nullable=False),
    Column("done_at", DateTime, nullable=True),
    Column("done_by", String(64), nullable=True),
    Column("verdict", String(20), nullable=True),
    Column("summary", Text, nullable=True),
    UniqueConstraint("project_id", "due", name="uq_cycle_evaluation_project_due"),
)
