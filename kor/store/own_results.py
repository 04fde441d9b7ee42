"""Store methods for a clinician's own results (mixed into :class:`kor.store.Store`).

Who may ask for whose results (feedback-informed supervision, issue 18):

* a clinician: only their own;
* a team lead: one clinician of their own team at a time;
* a quality lead and an admin: any clinician (what :mod:`kor.access` lets them read);
* a researcher: nobody (they work on pseudonymised extracts, with
  :func:`kor.own_results.own_results` directly).

A refusal is audited (who asked for whom) before it is raised, so a lead probing other
teams' clinicians leaves a trace. The figures are aggregates only; the expected change
comes from :meth:`kor.store.Store.severity_reference`, the whole service's line.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from kor.access import Actor
from kor.errors import AccessDenied, ValidationError
from kor.frames import session_table
from kor.indicators import data_as_of
from kor.own_results import OwnResults, own_results
from kor.store import schema

__all__ = ["OWN_RESULTS_ROLES", "OwnResultsStoreMixin"]

#: Roles that may read a clinician's own results (each within its reach, see module doc).
OWN_RESULTS_ROLES: tuple[str, ...] = ("clinician", "team_lead", "quality_lead", "admin")


class OwnResultsStoreMixin:
    """A clinician's own results, and the clinicians an actor may ask about."""

    def _refuse_own_results(self, actor: Actor, clinician: str | None) -> AccessDenied:
        """Audit a refused request and return the error to raise."""
        with self.engine.begin() as conn:
            self._audit(conn, actor, "refuse", "own_results", None, clinician=clinician)
        return AccessDenied()

    def own_results_clinicians(self, actor: Actor) -> list[str]:
        """The clinicians whose results ``actor`` may see, by username (not by result).

        A clinician: themselves; a team lead: the active clinicians of their team; a
        quality lead or admin: every active clinician. Refused (and audited) otherwise.
        """
        if actor.role not in OWN_RESULTS_ROLES:
            raise self._refuse_own_results(actor, None)
        if actor.role == "clinician":
            return [actor.username]
        u, t = schema.app_user, schema.team
        query = (
            sa.select(u.c.username)
            .select_from(u.outerjoin(t))
            .where(u.c.role == "clinician", u.c.active)
            .order_by(u.c.username)
        )
        if actor.role == "team_lead":
            query = query.where(t.c.code == (actor.team or ""))
        with self._read() as conn:
            return [row.username for row in conn.execute(query)]

    def own_results(
        self, actor: Actor, clinician: str | None = None, *, years: int = 3
    ) -> OwnResults:
        """The results of ``clinician`` (default: the actor) over the last ``years`` years.

        Only aggregates leave the store (:class:`kor.own_results.OwnResults`, with groups
        of fewer than 5 episodes or clients left without figures). The data are as of the
        service's last session date (never after today); the read and any refusal are
        audited.
        """
        target = actor.username if clinician is None else clinician
        if not isinstance(target, str) or not target.strip():
            raise ValidationError("error.bad_filter", field="clinician")
        if target not in self.own_results_clinicians(actor):
            raise self._refuse_own_results(actor, target)
        frames = self._read_tables(actor, analysis_only=True, clinician=target)
        sessions = session_table(frames)
        reference = self.severity_reference(actor)
        with self._read() as conn:
            last = conn.execute(sa.select(sa.func.max(schema.session.c.session_date))).scalar()
        as_of = data_as_of(pd.Timestamp(last) if last is not None else None, date.today())
        result = own_results(sessions, target, reference=reference, years=years, as_of=as_of)
        with self.engine.begin() as conn:
            self._audit(conn, actor, "read", "own_results", None, clinician=target, years=years)
        return result
