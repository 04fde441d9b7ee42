"""The ``hand_over`` table, on :data:`kor.store.schema.metadata` (migration ``0008``).

A hand-over is the time the clinician's tablet is in the client's hands, showing only
that client's own form (:class:`widgets.clinician._HandOver`). It is stored so that a
page reload, a dropped connection or a restarted kernel opens the tablet in hand-over
mode again instead of showing the caseload to the client. One row per hand-over: who
handed over (the acting user), which episode, which form, when it started and when and
how it ended. Rows are kept: they are part of the audit of who saw what.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table

from kor.store.schema import metadata

__all__ = ["hand_over"]

hand_over = Table(
    "hand_over",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("episode_id", ForeignKey("episode.id"), nullable=False),
    Column("form", String(16), nullable=False),  # the form's kind: "outcome" or "alliance"
    Column("started_at", DateTime, nullable=False),
    Column("ended_at", DateTime, nullable=True),
    Column("ended_how", String(16), nullable=True),  # "confirmed" or "expired"
)
