"""Table definitions (SQLAlchemy Core). Migrations in ``migrations/versions`` create them.

Client data are pseudonymous: a client has a code, a birth year or age group and a
team; never a name or a national identity number. ``version`` columns give
optimistic locking, so a second person editing the same record gets a conflict
instead of silently overwriting the first.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

team = Table(
    "team",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
)

app_user = Table(
    "app_user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("team_id", ForeignKey("team.id"), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
)

client = Table(
    "client",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(20), nullable=False, unique=True),
    Column("birth_year", Integer, nullable=True),
    Column("age_group", String(12), nullable=False),
    Column("team_id", ForeignKey("team.id"), nullable=False, index=True),
)

episode = Table(
    "episode",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", ForeignKey("client.id"), nullable=False, index=True),
    Column("clinician_id", ForeignKey("app_user.id"), nullable=False, index=True),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=True),
    Column("end_reason", String(20), nullable=True),
    Column("version", Integer, nullable=False, default=1),
)

session = Table(
    "session",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("episode_id", ForeignKey("episode.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("session_date", Date, nullable=False, index=True),
    Column("clinician_id", ForeignKey("app_user.id"), nullable=False),
    Column("format", String(12), nullable=False),
    UniqueConstraint("episode_id", "number", name="uq_session_episode_number"),
)

measurement = Table(
    "measurement",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", ForeignKey("session.id"), nullable=False),
    Column("measure", String(12), nullable=False),
    Column("item1", Float, nullable=False),
    Column("item2", Float, nullable=True),
    Column("item3", Float, nullable=True),
    Column("item4", Float, nullable=True),
    Column("total", Float, nullable=False),
    Column("entered_by", ForeignKey("app_user.id"), nullable=False),
    Column("entered_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    # items 5-10 of wider measures (plug-ins), added by migration 0006, hence last
    *(Column(f"item{k}", Float, nullable=True) for k in range(5, 11)),
    # who rated (kor.raters.RATERS), added by migration 0010: one measure per rater
    Column("rater", String(12), nullable=False, default="client", server_default="client"),
    UniqueConstraint("session_id", "measure", "rater", name="uq_measurement_session_measure_rater"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("username", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("action", String(32), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", Integer, nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_audit_at", "at"),
)

model = Table(
    "model",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(40), nullable=False, index=True),
    Column("fitted_on", Date, nullable=False),
    Column("n_episodes", Integer, nullable=False),
    Column("params", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)
