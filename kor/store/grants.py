"""Store methods for access grants (mixed into :class:`kor.store.Store`).

A grant widens one user's client-level access until a date: a clinician to the
clients of a team (``team_clients``, e.g. covering for a colleague on leave), a
quality lead to real client codes (``client_level``, e.g. a case review). Only admins
grant, revoke and list grants, each call audited; :meth:`Store.dataset` looks up the
actor's unexpired grants every time it decides the scope, so an expired or revoked
grant stops counting at once. Rules: :func:`kor.access.client_scope`.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa

from kor.access import GRANT_KINDS, GRANTABLE, Actor, Grant, require_role
from kor.errors import ValidationError
from kor.store import schema_grants as sg
from kor.store.schema import app_user, team

__all__ = ["GrantStoreMixin", "GRANT_COLUMNS"]

#: Columns of :meth:`GrantStoreMixin.grants`.
GRANT_COLUMNS: tuple[str, ...] = (
    "grant_id",
    "username",
    "kind",
    "team",
    "granted_by",
    "granted_at",
    "expires_on",
    "reason",
    "revoked_by",
    "revoked_at",
    "active",
)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _today() -> date:
    """Today, in one place (a grant counts through its ``expires_on`` day)."""
    return date.today()


class GrantStoreMixin:
    """Time-limited grants that widen a role's client-level access (admin only, audited)."""

    def grant_access(
        self,
        actor: Actor,
        username: str,
        kind: str,
        *,
        team: str | None = None,
        until: date,
        reason: str,
    ) -> int:
        """Grant ``username`` access of ``kind`` until ``until`` (inclusive); returns the id.

        ``kind`` is ``"team_clients"`` (a clinician; ``team`` is the team code) or
        ``"client_level"`` (a quality lead; no team). ``reason`` is required (it is what a
        later review of the audit asks for). Refused with :class:`ValidationError` when
        the kind does not fit the user's role, the date has passed or the reason is empty.
        """
        require_role(actor, "admin")
        if kind not in GRANT_KINDS:
            raise ValidationError("grants.unknown_kind", field="kind", kind=kind)
        if kind == "team_clients" and not team:
            raise ValidationError("grants.team_needed", field="team")
        if kind == "client_level" and team:
            raise ValidationError("grants.no_team", field="team")
        if not isinstance(until, date) or until < _today():
            raise ValidationError("grants.until_past", field="until")
        if not (reason or "").strip():
            raise ValidationError("grants.reason_needed", field="reason")
        with self.engine.begin() as conn:
            user = conn.execute(
                sa.select(app_user.c.id, app_user.c.role).where(app_user.c.username == username)
            ).first()
            if user is None:
                raise ValidationError("error.unknown_user", field="username", username=username)
            if user.role != GRANTABLE[kind]:
                raise ValidationError("grants.wrong_role", field="kind", kind=kind)
            team_id = self._team_id(conn, team) if team else None
            grant_id = conn.execute(
                sg.access_grant.insert()
                .values(
                    user_id=user.id,
                    kind=kind,
                    team_id=team_id,
                    granted_by=actor.username,
                    granted_at=_now(),
                    expires_on=until,
                    reason=reason.strip(),
                )
                .returning(sg.access_grant.c.id)
            ).scalar_one()
            self._audit(
                conn,
                actor,
                "grant",
                "access_grant",
                grant_id,
                user=username,
                kind=kind,
                team=team,
                until=until,
            )
        return grant_id

    def revoke_access(self, actor: Actor, grant_id: int) -> None:
        """End a grant now (admin). The row is kept with who revoked it and when."""
        require_role(actor, "admin")
        g = sg.access_grant
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(g.c.revoked_at).where(g.c.id == grant_id)).first()
            if row is None:
                raise ValidationError("error.not_found", field="grant", what=str(grant_id))
            if row.revoked_at is None:
                conn.execute(
                    g.update()
                    .where(g.c.id == grant_id)
                    .values(revoked_by=actor.username, revoked_at=_now())
                )
            self._audit(conn, actor, "revoke", "access_grant", grant_id)

    def grants(self, actor: Actor) -> pd.DataFrame:
        """Every grant, newest first, with ``active`` (unexpired and not revoked) (admin)."""
        require_role(actor, "admin")
        g = sg.access_grant
        query = (
            sa.select(
                g.c.id.label("grant_id"),
                app_user.c.username,
                g.c.kind,
                team.c.code.label("team"),
                g.c.granted_by,
                g.c.granted_at,
                g.c.expires_on,
                g.c.reason,
                g.c.revoked_by,
                g.c.revoked_at,
            )
            .select_from(g.join(app_user).outerjoin(team, g.c.team_id == team.c.id))
            .order_by(g.c.id.desc())
        )
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
            self._audit(conn, actor, "read", "access_grant", None, grants=len(rows))
        frame = pd.DataFrame([r._asdict() for r in rows], columns=list(GRANT_COLUMNS[:-1]))
        today = pd.Timestamp(_today())
        frame["expires_on"] = pd.to_datetime(frame["expires_on"])
        frame["active"] = (frame["expires_on"] >= today) & frame["revoked_at"].isna()
        return frame.loc[:, list(GRANT_COLUMNS)]

    def _active_grants(self, actor: Actor) -> tuple[Grant, ...]:
        """The unexpired, unrevoked grants of ``actor`` (already verified), as scope input."""
        if actor.role not in GRANTABLE.values():
            return ()
        g = sg.access_grant
        query = (
            sa.select(g.c.kind, team.c.code)
            .select_from(g.join(app_user).outerjoin(team, g.c.team_id == team.c.id))
            .where(
                app_user.c.username == actor.username,
                g.c.revoked_at.is_(None),
                g.c.expires_on >= _today(),
            )
        )
        with self._read() as conn:
            return tuple(Grant(kind=r.kind, team=r.code) for r in conn.execute(query))
