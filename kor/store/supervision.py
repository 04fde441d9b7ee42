"""Store methods for «drøftet» marks on the supervision list (mixed into :class:`kor.store.Store`).

A team lead brings the supervision list (:func:`kor.report.supervision_list`) to
supervision and marks each case discussed there, with a short note for the clinician
(«Drøftet i veiledning: prøv å ta opp målene på nytt»). A mark is one row, written
with its audit row in one transaction, and never changed.

Access: a team lead marks and reads the episodes of their own team; a quality lead
those of the whole service; the clinician of an episode reads its marks (their own
clients only) and cannot mark. Researchers and admins have no access: a mark is about
one client's care.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kor.access import Actor, require_role
from kor.errors import AccessDenied, ValidationError
from kor.pseudonyms import national_ids_in
from kor.store import schema
from kor.store import schema_supervision as ss

__all__ = ["MARK_COLUMNS", "MARK_ROLES", "READ_ROLES", "SupervisionStoreMixin"]

#: Who may mark a case discussed (in their scope).
MARK_ROLES: tuple[str, ...] = ("team_lead", "quality_lead")
#: Who may read marks (a clinician: of their own episodes).
READ_ROLES: tuple[str, ...] = (*MARK_ROLES, "clinician")
#: Columns of :meth:`SupervisionStoreMixin.supervision_marks`.
MARK_COLUMNS: tuple[str, ...] = ("mark_id", "episode", "marked_by", "marked_at", "note")


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _note(value: Any) -> str | None:
    """The note: optional, short, and never a national identity number."""
    text = " ".join(str(value or "").split())
    if not text:
        return None
    if len(text) > ss.NOTE_MAX:
        raise ValidationError("error.supervision.note_too_long", field="note", max=ss.NOTE_MAX)
    if national_ids_in(text):
        raise ValidationError("error.national_id_in_text", field="note")
    return text


class SupervisionStoreMixin:
    """«Drøftet» marks with a short note, per episode of the supervision list."""

    def _episode_scope(self, conn: Connection, actor: Actor, episode_id: int) -> None:
        """Refuse unless ``episode_id`` is in ``actor``'s scope (see the module docstring)."""
        row = conn.execute(
            sa.select(
                schema.team.c.code.label("team"),
                schema.app_user.c.username.label("clinician"),
            )
            .select_from(
                schema.episode.join(schema.client)
                .join(schema.team)
                .join(schema.app_user, schema.episode.c.clinician_id == schema.app_user.c.id)
            )
            .where(schema.episode.c.id == int(episode_id))
        ).first()
        if row is None:
            raise ValidationError("error.not_found", field="episode", what="episode")
        if actor.role == "team_lead" and (not actor.team or row.team != actor.team):
            raise AccessDenied()
        if actor.role == "clinician" and row.clinician != actor.username:
            raise AccessDenied()

    def mark_discussed(self, actor: Actor, episode_id: int, note: str | None = None) -> int:
        """Mark the episode's case as discussed in supervision, with an optional note.

        Returns the mark's id. The note (at most 500 characters) is read by the case's
        clinician; a national identity number in it is refused.
        """
        require_role(actor, *MARK_ROLES)
        text = _note(note)
        m = ss.supervision_mark
        with self.engine.begin() as conn:
            self._episode_scope(conn, actor, episode_id)
            mark_id = conn.execute(
                m.insert()
                .values(
                    episode_id=int(episode_id),
                    marked_by=actor.username,
                    marked_at=_now(),
                    note=text,
                )
                .returning(m.c.id)
            ).scalar_one()
            self._audit(conn, actor, "mark", "supervision_mark", mark_id, episode=int(episode_id))
        return mark_id

    def supervision_marks(
        self, actor: Actor, episodes: Iterable[int] | None = None
    ) -> pd.DataFrame:
        """The marks the actor may read, newest first (columns :data:`MARK_COLUMNS`).

        episodes: only these episode ids (default: all in scope). A team lead reads
        their team's episodes, a quality lead all, a clinician their own episodes'.
        """
        require_role(actor, *READ_ROLES)
        m = ss.supervision_mark
        query = (
            sa.select(
                m.c.id.label("mark_id"),
                m.c.episode_id.label("episode"),
                m.c.marked_by,
                m.c.marked_at,
                m.c.note,
            )
            .select_from(
                m.join(schema.episode)
                .join(schema.client)
                .join(schema.team)
                .join(schema.app_user, schema.episode.c.clinician_id == schema.app_user.c.id)
            )
            .order_by(m.c.marked_at.desc(), m.c.id.desc())
        )
        if actor.role == "team_lead":
            query = query.where(schema.team.c.code == (actor.team or ""))
        elif actor.role == "clinician":
            query = query.where(schema.app_user.c.username == actor.username)
        if episodes is not None:
            wanted = sorted({int(e) for e in episodes})
            if not wanted:
                return pd.DataFrame({c: pd.Series(dtype=object) for c in MARK_COLUMNS})
            query = query.where(m.c.episode_id.in_(wanted))
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        out = pd.DataFrame([dict(r) for r in rows], columns=list(MARK_COLUMNS))
        out["marked_at"] = pd.to_datetime(out["marked_at"])
        return out
