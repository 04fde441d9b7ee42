"""Store methods for hand-over mode (mixed into :class:`kor.store.Store`).

While the clinician's tablet is in the client's hands the app shows only that client's
own form. The hand-over is stored so that a reload opens the tablet in hand-over mode
again (never the caseload). Only the user who handed over reads or ends their open
hand-over; start and end are audited.

Expiry: a hand-over started on an earlier day, or more than :data:`MAX_AGE` ago, is
closed (``ended_how = "expired"``, audited) when the app next asks for the open one.
Why: a tablet forgotten in hand-over mode overnight should come back to its clinician
the next morning, and no client holds a tablet for twelve hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kor.access import Actor, require_role
from kor.errors import ValidationError
from kor.store import schema_hand_over as sh

__all__ = ["FORMS", "HAND_OVER_ROLES", "MAX_AGE", "HandOverStoreMixin"]

#: Who may hand the tablet over (the roles that use the clinician app, in their scope).
HAND_OVER_ROLES: tuple[str, ...] = ("clinician", "team_lead", "quality_lead")
#: The forms a client fills in on their own.
FORMS: tuple[str, ...] = ("outcome", "alliance")
#: The oldest hand-over still resumed (see the module docstring).
MAX_AGE = timedelta(hours=12)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _expired(started: datetime, now: datetime) -> bool:
    return started.date() != now.date() or now - started > MAX_AGE


class HandOverStoreMixin:
    """The acting user's hand-over of the tablet: start, the open one, end."""

    def start_hand_over(self, actor: Actor, episode_id: int, form: str) -> int:
        """Record that ``actor`` hands the tablet to the client of ``episode_id``.

        form: ``"outcome"`` or ``"alliance"``. Returns the hand-over's id. An open
        hand-over of the same user is ended first (``"replaced"``): one tablet, one client.
        """
        require_role(actor, *HAND_OVER_ROLES)
        if form not in FORMS:
            raise ValidationError("error.hand_over.form", field="form", value=str(form)[:20])
        h = sh.hand_over
        now = _now()
        with self.engine.begin() as conn:
            self._episode_scope(conn, actor, episode_id)
            for row in conn.execute(
                sa.select(h.c.id).where(h.c.username == actor.username, h.c.ended_at.is_(None))
            ):
                self._end(conn, actor, row.id, now, "replaced")
            new_id = conn.execute(
                h.insert()
                .values(
                    username=actor.username,
                    episode_id=int(episode_id),
                    form=form,
                    started_at=now,
                )
                .returning(h.c.id)
            ).scalar_one()
            self._audit(
                conn, actor, "start", "hand_over", new_id, episode=int(episode_id), form=form
            )
        return new_id

    def open_hand_over(self, actor: Actor) -> dict[str, Any] | None:
        """The acting user's open hand-over (``id``, ``episode``, ``form``, ``started_at``).

        None when there is none. An expired one (another day, or older than
        :data:`MAX_AGE`) is ended as ``"expired"`` here, audited, and not returned.
        """
        require_role(actor, *HAND_OVER_ROLES)
        h = sh.hand_over
        now = _now()
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(h.c.id, h.c.episode_id, h.c.form, h.c.started_at)
                .where(h.c.username == actor.username, h.c.ended_at.is_(None))
                .order_by(h.c.started_at.desc(), h.c.id.desc())
            ).all()
            found = None
            for row in rows:
                if found is None and not _expired(row.started_at, now):
                    found = row
                else:
                    self._end(conn, actor, row.id, now, "expired")
        if found is None:
            return None
        return {
            "id": found.id,
            "episode": found.episode_id,
            "form": found.form,
            "started_at": found.started_at,
        }

    def end_hand_over(self, actor: Actor, hand_over_id: int) -> None:
        """End the hand-over (the clinician confirmed taking the tablet back).

        Only the user who handed over ends it; ending an ended one changes nothing.
        """
        require_role(actor, *HAND_OVER_ROLES)
        h = sh.hand_over
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(h.c.username, h.c.ended_at).where(h.c.id == int(hand_over_id))
            ).first()
            if row is None or row.username != actor.username:
                raise ValidationError("error.not_found", field="hand_over", what="hand-over")
            if row.ended_at is None:
                self._end(conn, actor, int(hand_over_id), _now(), "confirmed")

    def _end(self, conn: Any, actor: Actor, hand_over_id: int, now: datetime, how: str) -> None:
        h = sh.hand_over
        conn.execute(h.update().where(h.c.id == hand_over_id).values(ended_at=now, ended_how=how))
        self._audit(conn, actor, "end", "hand_over", hand_over_id, how=how)
