"""Store methods for remote outcome forms (mixed into :class:`kor.store.Store`).

A clinician creates a one-time link for a client's next session
(:meth:`RemoteStoreMixin.create_remote_link`); the client opens it on their own phone,
fills in their age group's outcome form (ORS, CORS, ...) and sends it; what they sent
becomes a *draft* on the episode, which the clinician confirms as a normal session
(:meth:`RemoteStoreMixin.confirm_remote_draft`) or discards.

Access: creating a link, reading and resolving drafts follow the clinician app's rules
(:meth:`kor.store.Store._episode_for_write`: a clinician their own clients, a team lead
their team's). The remote web app acts as :data:`REMOTE_FORM`, a system actor that may
only look up and submit to a valid link (and nothing else: its role is ``researcher``,
which reads no client's data). Every creation, use and refusal is audited, with the
link's id and never a token, code or client code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kor import measures
from kor.access import Actor, require_role
from kor.errors import AccessDenied, KorError, ValidationError
from kor.remote import tokens
from kor.store import schema_remote as sr

__all__ = [
    "DEFAULT_LINK_HOURS",
    "REMOTE_FORM",
    "LinkRefused",
    "NewLink",
    "RemoteStoreMixin",
]

#: How long a link works, hours (``[remote] link_hours`` in the service's config).
DEFAULT_LINK_HOURS = 72.0

#: The remote web app's actor. Passes the acting check by identity only (a constructed
#: ``Actor("remote-form", ...)`` is looked up as a user like any other and refused).
REMOTE_FORM = Actor(username="remote-form", role="researcher")

_CREATE_ROLES = ("clinician", "team_lead")


class LinkRefused(KorError):
    """A link or code that does not work: ``reason`` is ``unknown``, ``expired`` or ``used``.

    The remote app shows one plain sentence for it (404 for unknown, 410 otherwise).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"remote.refused.{reason}")


@dataclass(frozen=True)
class NewLink:
    """A link just created: the only time ``token`` and ``code`` exist outside the client's
    hands (the store keeps their hashes)."""

    link_id: int
    token: str
    code: str
    measure: str
    expires_at: datetime


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _require_remote(actor: Actor) -> None:
    if actor is not REMOTE_FORM:
        raise AccessDenied()


class RemoteStoreMixin:
    """One-time remote form links and the drafts sent through them."""

    # ------------------------------------------------------------ clinician
    def create_remote_link(
        self, actor: Actor, episode_id: int, *, hours: float | None = None
    ) -> NewLink:
        """A one-time link (token) and short code for the client of ``episode_id``.

        hours: how long it works (default :data:`DEFAULT_LINK_HOURS`, or the service's
        ``[remote] link_hours``). The form is the client's age group's outcome measure.
        """
        require_role(actor, *_CREATE_ROLES)
        hours = float(hours if hours is not None else self._link_hours())
        if not 0 < hours <= 24 * 14:
            raise ValidationError("error.remote.bad_hours", field="hours")
        now = _now()
        with self.engine.begin() as conn:
            ep = self._episode_for_write(conn, actor, int(episode_id))
            if ep.end_date is not None:
                raise ValidationError("error.episode_closed", field="episode")
            measure = measures.measure_for("outcome", ep.age_group).code
            token, code = tokens.new_token(), tokens.new_code()
            link_id = conn.execute(
                sr.remote_link.insert()
                .values(
                    token_hash=tokens.hash_secret(token),
                    code_hash=tokens.hash_secret(code),
                    episode_id=int(episode_id),
                    measure=measure,
                    created_by=actor.username,
                    created_at=now,
                    expires_at=now + timedelta(hours=hours),
                )
                .returning(sr.remote_link.c.id)
            ).scalar_one()
            self._audit(
                conn, actor, "create", "remote_link", link_id, episode=int(episode_id), hours=hours
            )
        return NewLink(link_id, token, code, measure, now + timedelta(hours=hours))

    def remote_drafts(self, actor: Actor, episode_id: int) -> list[dict[str, Any]]:
        """The pending drafts of ``episode_id``, oldest first: ``draft_id``, ``measure``,
        ``values`` ({item: points}), ``submitted_at``."""
        d = sr.remote_draft
        with self._read() as conn:
            self._episode_for_write(conn, actor, int(episode_id))
            rows = conn.execute(
                sa.select(d)
                .where(d.c.episode_id == int(episode_id), d.c.status == "pending")
                .order_by(d.c.submitted_at, d.c.id)
            ).all()
        return [
            {
                "draft_id": r.id,
                "measure": r.measure,
                "values": json.loads(r.item_values),
                "submitted_at": r.submitted_at,
            }
            for r in rows
        ]

    def confirm_remote_draft(
        self,
        actor: Actor,
        draft_id: int,
        *,
        session_date: date | None = None,
        values: Mapping[str, object] | None = None,
    ) -> int:
        """Record the draft as a normal session (with ``values`` if the clinician changed
        them); returns the session id. A draft is confirmed once."""
        d = sr.remote_draft
        with self.engine.begin() as conn:
            row = self._pending_draft(conn, actor, draft_id)
            _resolve_draft(conn, row.id, "confirmed", actor)
        given = dict(values) if values is not None else json.loads(row.item_values)
        try:
            session_id = self.record_session(
                actor,
                row.episode_id,
                session_date=session_date or date.today(),
                measurements={row.measure: given},
            )
        except Exception:
            with self.engine.begin() as conn:
                conn.execute(
                    d.update()
                    .where(d.c.id == row.id)
                    .values(status="pending", resolved_by=None, resolved_at=None)
                )
            raise
        with self.engine.begin() as conn:
            conn.execute(d.update().where(d.c.id == row.id).values(session_id=session_id))
            self._audit(conn, actor, "confirm", "remote_draft", row.id, session=session_id)
        return session_id

    def discard_remote_draft(self, actor: Actor, draft_id: int) -> None:
        """Discard a pending draft (kept, marked discarded, for the audit trail)."""
        with self.engine.begin() as conn:
            row = self._pending_draft(conn, actor, draft_id)
            _resolve_draft(conn, row.id, "discarded", actor)
            self._audit(conn, actor, "discard", "remote_draft", row.id)

    def _pending_draft(self, conn: Any, actor: Actor, draft_id: int) -> Any:
        d = sr.remote_draft
        row = conn.execute(sa.select(d).where(d.c.id == int(draft_id))).first()
        if row is None:
            raise ValidationError("error.not_found", field="draft", what="draft")
        self._episode_for_write(conn, actor, row.episode_id)
        if row.status != "pending":
            raise ValidationError("error.remote.draft_gone", field="draft")
        return row

    def _link_hours(self) -> float:
        from kor import config

        settings = config.load_service_config().get("remote", {})
        return float(settings.get("link_hours", DEFAULT_LINK_HOURS))

    # ----------------------------------------------------------- remote app
    def remote_link_form(
        self,
        actor: Actor,
        *,
        token: str | None = None,
        code: str | None = None,
        token_hash: str | None = None,
    ) -> dict[str, Any]:
        """The form of a working link (remote app only): ``token_hash`` and ``measure``.

        By ``token`` (the link), ``code`` (typed on ``/kode``) or ``token_hash`` (a
        posted form whose nonce the app has checked). Raises
        :class:`LinkRefused` for an unknown, expired or used link, and audits it.
        """
        _require_remote(actor)
        with self.engine.begin() as conn:
            row, reason = self._working_link(
                conn, actor, token=token, code=code, token_hash=token_hash
            )
        if reason is not None:
            raise LinkRefused(reason)
        return {"token_hash": row.token_hash, "measure": row.measure}

    def submit_remote_form(
        self, actor: Actor, token_hash: str, values: Mapping[str, object]
    ) -> int:
        """Store what the client sent as a draft and use the link up (remote app only).

        token_hash: from :meth:`remote_link_form` (the page carries the token, the form
        its hash-bound nonce). Values are validated against the measure; a link is used
        once, even by two submits at the same moment. Returns the draft id.
        """
        _require_remote(actor)
        link = sr.remote_link
        now = _now()
        with self.engine.begin() as conn:
            row, reason = self._working_link(conn, actor, token_hash=token_hash)
        if reason is not None:
            raise LinkRefused(reason)
        measure = measures.get(row.measure)
        scored = measures.score(measure, values)
        with self.engine.begin() as conn:
            used = conn.execute(
                link.update()
                .where(link.c.id == row.id, link.c.used_at.is_(None), link.c.expires_at > now)
                .values(used_at=now)
            ).rowcount
            if used != 1:
                raise LinkRefused("used")
            draft_id = conn.execute(
                sr.remote_draft.insert()
                .values(
                    link_id=row.id,
                    episode_id=row.episode_id,
                    measure=row.measure,
                    item_values=json.dumps({i: scored[i] for i in measure.items}),
                    submitted_at=now,
                    status="pending",
                )
                .returning(sr.remote_draft.c.id)
            ).scalar_one()
            self._audit(conn, actor, "use", "remote_link", row.id, draft=draft_id)
        return draft_id

    def _working_link(
        self,
        conn: Any,
        actor: Actor,
        *,
        token: str | None = None,
        code: str | None = None,
        token_hash: str | None = None,
    ) -> tuple[Any, str | None]:
        """The link row and why it does not work (None if it does); a refusal is audited
        in ``conn``'s transaction, which the caller commits before raising."""
        link = sr.remote_link
        if token:
            query = link.c.token_hash == tokens.hash_secret(str(token))
        elif code:
            query = link.c.code_hash == tokens.hash_secret(tokens.normalise_code(code))
        elif token_hash:
            query = link.c.token_hash == str(token_hash)
        else:
            query = None
        row = conn.execute(sa.select(link).where(query)).first() if query is not None else None
        reason = None
        if row is None:
            reason = "unknown"
        elif row.used_at is not None:
            reason = "used"
        elif row.expires_at <= _now():
            reason = "expired"
        if reason is not None:
            self._audit(
                conn,
                actor,
                "refuse",
                "remote_link",
                row.id if row is not None else None,
                reason=reason,
                by="code" if code else "token",
            )
        return row, reason


def _resolve_draft(conn: Any, draft_id: int, status: str, actor: Actor) -> None:
    """Mark a pending draft ``status`` in one conditional update, so it is resolved once:
    a second confirm or discard (another tab, a double tap) finds it gone."""
    d = sr.remote_draft
    done = conn.execute(
        d.update()
        .where(d.c.id == draft_id, d.c.status == "pending")
        .values(status=status, resolved_by=actor.username, resolved_at=_now())
    ).rowcount
    if done != 1:
        raise ValidationError("error.remote.draft_gone", field="draft")
