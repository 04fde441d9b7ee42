"""The ``supervision_mark`` table, on :data:`kor.store.schema.metadata` (migration ``0007``).

A mark says that a case on the supervision list was discussed in supervision: which
episode, who marked it, when, and a short note the clinician of the case can read.
Marks are kept (never edited): the list of marks is the history of the case's
supervision.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, Text

from kor.store.schema import metadata

__all__ = ["NOTE_MAX", "supervision_mark"]

#: The longest note (characters): a line for the clinician, not a case record.
NOTE_MAX = 500

supervision_mark = Table(
    "supervision_mark",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("episode_id", ForeignKey("episode.id"), nullable=False, index=True),
    Column("marked_by", String(64), nullable=False),
    Column("marked_at", DateTime, nullable=False),
    Column("note", Text, nullable=True),
)
