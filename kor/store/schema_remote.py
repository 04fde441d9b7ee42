"""The ``remote_link`` and ``remote_draft`` tables, on :data:`kor.store.schema.metadata`
(migration ``0009``).

A remote link lets a client fill in their outcome form (ORS, CORS, ...) on their own
phone before the next session. Only hashes (SHA-256, hex) of the link's token and of
its short code are stored, so a copy of the database cannot be turned into working
links. A link works once (``used_at``) and until ``expires_at``. What the client sent
is a draft (``remote_draft``) that the clinician confirms as a normal session or
discards; it is never an outcome measurement before that.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, Text

from kor.store.schema import metadata

__all__ = ["DRAFT_STATUSES", "remote_draft", "remote_link"]

#: A draft is pending until the clinician confirms it (a session) or discards it.
DRAFT_STATUSES: tuple[str, ...] = ("pending", "confirmed", "discarded")

remote_link = Table(
    "remote_link",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("episode_id", ForeignKey("episode.id"), nullable=False, index=True),
    Column("measure", String(16), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime, nullable=True),
)

remote_draft = Table(
    "remote_draft",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("link_id", ForeignKey("remote_link.id"), nullable=False, unique=True),
    Column("episode_id", ForeignKey("episode.id"), nullable=False, index=True),
    Column("measure", String(16), nullable=False),
    Column("item_values", Text, nullable=False),  # JSON: {item: points}
    Column("submitted_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("resolved_by", String(64), nullable=True),
    Column("resolved_at", DateTime, nullable=True),
    Column("session_id", ForeignKey("session.id"), nullable=True),
)
