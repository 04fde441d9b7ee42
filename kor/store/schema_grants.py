"""The ``access_grant`` table, on :data:`kor.store.schema.metadata` (migration ``0005``).

A grant widens one user's client-level access for a limited time: ``team_clients``
lets a clinician read the clients of ``team_id``; ``client_level`` lets a quality lead
read real client codes instead of pseudonyms. A grant counts while ``expires_on`` is
today or later and ``revoked_at`` is empty; revoked grants are kept, so who could see
what, when, stays answerable.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Integer, String, Table, Text

from kor.store.schema import metadata

__all__ = ["access_grant"]

access_grant = Table(
    "access_grant",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("app_user.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("team_id", ForeignKey("team.id"), nullable=True),
    Column("granted_by", String(64), nullable=False),
    Column("granted_at", DateTime, nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("reason", Text, nullable=False),
    Column("revoked_by", String(64), nullable=True),
    Column("revoked_at", DateTime, nullable=True),
)
