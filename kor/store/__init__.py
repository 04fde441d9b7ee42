"""The store: the only module that speaks SQL (SQLAlchemy 2 Core, Alembic migrations).

SQLite file by default (WAL, busy timeout, foreign keys on; writers take the lock
at BEGIN so two writers queue instead of failing with «database is locked»),
PostgreSQL when ``KOR_DATABASE_URL`` says so. Migrations run when a store is opened.

Every public read and write takes the acting user (:class:`kor.access.Actor`) as
its first argument; :mod:`kor.access` decides which clients that actor may see,
and this module filters every client-level query by it. Every write is one
transaction and lands in the ``audit`` table in the same transaction, so a write
and its audit row exist together or not at all.
"""

from __future__ import annotations

import json
import numbers
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from kor import config, measures, raters
from kor.access import (
    SYSTEM,
    Actor,
    Scope,
    client_id_of,
    client_pseudonym,
    client_scope,
    require_role,
)
from kor.errors import (
    AccessDenied,
    ConflictError,
    ImportFileError,
    StoreError,
    ValidationError,
)
from kor.frames import (
    ITEM_COLUMNS,
    Dataset,
    file_columns,
    file_rows,
    item_columns,
    session_table,
    table_columns,
)
from kor.indicators import SeverityModel
from kor.pseudonyms import check_client_code, is_client_code
from kor.store import importing, schema
from kor.store.acting import verify_actors
from kor.store.bulk import read_frames
from kor.store.cycle import CycleStoreMixin
from kor.store.grants import GrantStoreMixin
from kor.store.hand_over import HandOverStoreMixin
from kor.store.own_results import OwnResultsStoreMixin
from kor.store.remote import REMOTE_FORM, RemoteStoreMixin
from kor.store.supervision import SupervisionStoreMixin
from kor.store.surveys import SurveyStoreMixin

__all__ = ["Store", "ImportSummary", "EXPORT_COLUMNS", "open_store"]

#: Columns of :meth:`Store.export_rows`: the file format with every item column.
EXPORT_COLUMNS: tuple[str, ...] = file_columns(ITEM_COLUMNS)
_WRITE_ROLES = ("clinician", "team_lead", "admin")
_MIGRATION_LOCK = threading.Lock()


@dataclass(frozen=True)
class ImportSummary:
    """What an import added; ``unchanged`` counts rows already stored with the same values."""

    clients: int
    episodes: int
    sessions: int
    measurements: int
    unchanged: int


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _update_episode(conn: Connection, ep: Any, version: int | None, **values: Any) -> None:
    """Write ``values`` to episode ``ep`` and bump its version, refusing a lost update.

    ``version`` is what the caller last read (None: whatever is stored); if someone
    else wrote the episode in between, nothing is written and a ConflictError says so.
    """
    stmt = (
        schema.episode.update()
        .where(schema.episode.c.id == ep.id)
        .values(**values, version=ep.version + 1)
    )
    if version is not None:
        stmt = stmt.where(schema.episode.c.version == version)
    if conn.execute(stmt).rowcount != 1:
        raise ConflictError("error.conflict")


def _as_date(value: Any, field: str = "session_date") -> date:
    """A date from a date, datetime or text (``dd.mm.yyyy`` or ``yyyy-mm-dd``, day first);
    anything else, or an impossible date such as 31.02.2026, is a clear ValidationError."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        for pattern in ("%d.%m.%Y", "%Y-%m-%d"):
            try:
                return datetime.strptime(value.strip(), pattern).date()
            except ValueError:
                continue
        raise ValidationError("error.bad_date", field=field)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValidationError("error.bad_date", field=field) from None
    if pd.isna(stamp):
        raise ValidationError("error.bad_date", field=field)
    return stamp.date()


def _filter_text(value: Any, field: str) -> str | None:
    """A team, clinician or client filter: None or plain text (refused clearly otherwise,
    before a driver could refuse it with the SQL and the value in its message)."""
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise ValidationError("error.bad_filter", field=field)
    return value


def _sqlite_setup(engine: Engine) -> None:
    """WAL, busy timeout, foreign keys; writers BEGIN IMMEDIATE, readers plain BEGIN."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        if conn.get_execution_options().get("kor_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


@verify_actors
class Store(
    SurveyStoreMixin,
    CycleStoreMixin,
    GrantStoreMixin,
    SupervisionStoreMixin,
    OwnResultsStoreMixin,
    RemoteStoreMixin,
    HandOverStoreMixin,
):
    """A connection to the workbench database. Open with :meth:`open`.

    Every public method taking ``actor`` goes through :mod:`kor.store.acting`: it gets
    the actor as stored in ``app_user`` and raises only catalog errors.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, url: str | None = None, *, migrate: bool = True) -> Store:
        """Open the database at ``url`` (default: :func:`kor.config.database_url`).

        Runs pending migrations unless ``migrate`` is False.
        """
        url = url or config.database_url()
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            _sqlite_setup(engine)
        else:
            engine = sa.create_engine(url, pool_pre_ping=True)
        store = cls(engine)
        if migrate:
            store.upgrade()
        return store

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def upgrade(self) -> str:
        """Run Alembic migrations up to head; returns the revision now in force.

        When the database is already at head this returns without importing Alembic
        (a third of a second at every app start).
        """
        current = self.revision()
        if current is not None and current == _head_revision():
            return current
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with _MIGRATION_LOCK, self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242)")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return self.revision()

    def revision(self) -> str | None:
        """The migration revision of the database."""
        with self._read() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    # ------------------------------------------------------------ transactions
    def _read(self):  # noqa: ANN202
        return self.engine.connect().execution_options(kor_read=True)

    def _audit(
        self,
        conn: Connection,
        actor: Actor,
        action: str,
        entity: str,
        entity_id: int | None = None,
        **detail: Any,
    ) -> None:
        conn.execute(
            schema.audit.insert().values(
                at=_now(),
                username=actor.username,
                role=actor.role,
                action=action,
                entity=entity,
                entity_id=entity_id,
                detail=json.dumps(detail, default=str, ensure_ascii=False) if detail else None,
            )
        )

    def _next_ids(self, conn: Connection, table: sa.Table, count: int) -> list[int]:
        """Ids for ``count`` new rows (we hold the write lock, so no one else takes them)."""
        start = conn.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar()
        return list(range(start + 1, start + 1 + count))

    def _sync_sequences(self, conn: Connection, tables: Iterable[sa.Table]) -> None:
        """After inserting explicit ids on PostgreSQL, move each id sequence past them."""
        if self.dialect != "postgresql":
            return
        for table in tables:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )

    def _lock_for_bulk(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4343)")

    # --------------------------------------------------------- reference data
    def add_team(self, actor: Actor, code: str, name: str) -> int:
        """Create a team (admin)."""
        require_role(actor, "admin")
        with self.engine.begin() as conn:
            team_id = conn.execute(
                schema.team.insert().values(code=code, name=name).returning(schema.team.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "team", team_id)
        return team_id

    def add_user(
        self,
        actor: Actor,
        username: str,
        role: str,
        *,
        display_name: str | None = None,
        team: str | None = None,
    ) -> int:
        """Create a user with a role (admin). ``team`` is a team code."""
        require_role(actor, "admin")
        Actor(username=username, role=role)  # validates role
        with self.engine.begin() as conn:
            team_id = self._team_id(conn, team) if team else None
            user_id = conn.execute(
                schema.app_user.insert()
                .values(
                    username=username,
                    display_name=display_name or username,
                    role=role,
                    team_id=team_id,
                    active=True,
                )
                .returning(schema.app_user.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "app_user", user_id, role=role)
        return user_id

    def ensure_user(self, actor: Actor, user: Actor) -> Actor:
        """Register ``user`` if no user of that name is stored (admin); returns the stored actor.

        The single local user of an embedded installation is created this way on first use.
        """
        try:
            return self.actor_for(user.username)
        except AccessDenied:
            self.add_user(actor, user.username, user.role, team=user.team)
            return self.actor_for(user.username)

    def current_actor(self) -> Actor:
        """Who is using this process: the JupyterHub user (role from the database) or,
        in a single-user installation, the configured local user (:func:`kor.config.local_actor`).

        A JupyterHub user must be stored; their role is never taken from the environment.
        """
        hub_user = os.environ.get("JUPYTERHUB_USER")
        if hub_user:
            return self.actor_for(hub_user)
        local = config.local_actor()
        if local.role == "admin":
            return self.ensure_user(SYSTEM, local)
        return self.actor_for(local.username)

    def _verified(self, actor: Actor) -> Actor:
        """``actor`` as stored: role and team re-read from ``app_user`` on every call, so a
        forged ``Actor("x", "admin")`` gets no more than x's stored role. The maintenance
        actor :data:`kor.access.SYSTEM` passes (see SECURITY.md for what this does and does
        not protect against)."""
        if actor is SYSTEM or actor is REMOTE_FORM:
            return actor
        if not isinstance(actor, Actor) or "\x00" in actor.username:
            raise AccessDenied("error.unknown_user", username="")
        return self.actor_for(actor.username)

    def actor_for(self, username: str) -> Actor:
        """The :class:`Actor` of a stored user (role and team from the database)."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(schema.app_user.c.role, schema.team.c.code)
                .select_from(schema.app_user.outerjoin(schema.team))
                .where(schema.app_user.c.username == username, schema.app_user.c.active)
            ).first()
        if row is None:
            raise AccessDenied("error.unknown_user", username=username)
        return Actor(username=username, role=row.role, team=row.code)

    def _team_id(self, conn: Connection, code: str) -> int:
        team_id = conn.execute(
            sa.select(schema.team.c.id).where(schema.team.c.code == code)
        ).scalar()
        if team_id is None:
            raise ValidationError("error.not_found", field="team", what=code)
        return team_id

    def _user_id(self, conn: Connection, username: str) -> int:
        user_id = conn.execute(
            sa.select(schema.app_user.c.id).where(schema.app_user.c.username == username)
        ).scalar()
        if user_id is None:
            raise ValidationError("error.unknown_user", field="clinician", username=username)
        return user_id

    # ------------------------------------------------------ clients, episodes
    def add_client(
        self,
        actor: Actor,
        code: str,
        *,
        team: str,
        age_group: str | None = None,
        birth_year: int | None = None,
        on: date | None = None,
    ) -> int:
        """Register a client by pseudonymous code; age group from birth year if not given.

        Clinicians and team leads register clients in their own team only. A code already
        stored in a team the actor works in is «already exists» (so the app can offer a
        new episode); one stored elsewhere is refused as «cannot be used», which does not
        say where it is.
        """
        require_role(actor, *_WRITE_ROLES)
        if actor.role != "admin" and team != actor.team:
            raise AccessDenied()
        check_client_code(code)
        if age_group is None:
            if birth_year is None:
                raise ValidationError("error.required", field="age_group")
            age_group = measures.age_group_for(birth_year, on or date.today())
        if age_group not in measures.AGE_GROUPS:
            raise ValidationError("error.unknown_age_group", field="age_group", age_group=age_group)
        with self.engine.begin() as conn:
            team_id = self._team_id(conn, team)
            existing = conn.execute(
                sa.select(schema.client.c.team_id).where(schema.client.c.code == code)
            ).first()
            if existing is not None:
                same_team = actor.role == "admin" or existing.team_id == team_id
                raise ValidationError(
                    "error.client_exists" if same_team else "error.client_code_taken", field="code"
                )
            client_id = conn.execute(
                schema.client.insert()
                .values(code=code, team_id=team_id, age_group=age_group, birth_year=birth_year)
                .returning(schema.client.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "client", client_id)
        return client_id

    def open_episode(
        self, actor: Actor, client_code: str, *, start: date, clinician: str | None = None
    ) -> int:
        """Start an episode of care for a client, held by ``clinician`` (default: the actor).

        A clinician opens episodes on the clients of their own team and on clients whose
        episode they have held; a team lead on their team's clients. Any other client is
        «not found», exactly as a code that does not exist, so nothing about it shows.
        """
        require_role(actor, *_WRITE_ROLES)
        clinician = clinician or actor.username
        if actor.role == "clinician" and clinician != actor.username:
            raise AccessDenied()
        c, e, u = schema.client, schema.episode, schema.app_user
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(c.c.id, schema.team.c.code)
                .select_from(c.join(schema.team))
                .where(c.c.code == client_code)
            ).first()
            held_before = (
                row is not None
                and conn.execute(
                    sa.select(e.c.id)
                    .select_from(e.join(u, e.c.clinician_id == u.c.id))
                    .where(e.c.client_id == row.id, u.c.username == actor.username)
                    .limit(1)
                ).first()
                is not None
            )
            in_scope = row is not None and (
                actor.role == "admin"
                or row.code == actor.team
                or (actor.role == "clinician" and held_before)
            )
            if not in_scope:
                raise ValidationError("error.not_found", field="client", what="client")
            if self._open_episode_of(conn, row.id) is not None:
                raise ValidationError("error.episode_open", field="client")
            clinician_id = self._user_id(conn, clinician)
            episode_id = conn.execute(
                e.insert()
                .values(client_id=row.id, clinician_id=clinician_id, start_date=start, version=1)
                .returning(e.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "episode", episode_id)
        return episode_id

    def end_episode(
        self, actor: Actor, episode_id: int, *, end: date, reason: str, version: int | None = None
    ) -> None:
        """End an episode with a reason (completed, dropout, referred, moved, other)."""
        if reason not in ("completed", "dropout", "referred", "moved", "other"):
            raise ValidationError("error.bad_choice", field="end_reason", choices=reason)
        with self.engine.begin() as conn:
            ep = self._episode_for_write(conn, actor, episode_id)
            if end < ep.start_date:
                raise ValidationError("error.date_before_start", field="end_date")
            _update_episode(conn, ep, version, end_date=end, end_reason=reason)
            self._audit(conn, actor, "end", "episode", episode_id, reason=reason)

    def reopen_episode(self, actor: Actor, episode_id: int, *, version: int | None = None) -> None:
        """Undo the ending of an episode, on the day it was ended (a slip of the finger).

        The day is the audit trail's: the last «end» of the episode must have been written
        today, whatever end date it was given. After that day an ended episode stays ended
        (a returning client gets a new episode). The end date and reason are cleared; the
        audit row keeps what they were.
        """
        with self.engine.begin() as conn:
            ep = self._episode_for_write(conn, actor, episode_id)
            if ep.end_date is None:
                raise ValidationError("error.episode_not_ended", field="episode")
            a = schema.audit
            ended_at = conn.execute(
                sa.select(a.c.at)
                .where(a.c.entity == "episode", a.c.entity_id == episode_id, a.c.action == "end")
                .order_by(a.c.id.desc())
                .limit(1)
            ).scalar()
            if ended_at is None or ended_at.date() != _now().date():
                raise ValidationError("error.reopen_too_late", field="episode")
            if self._open_episode_of(conn, ep.client_id) is not None:
                raise ValidationError("error.episode_open", field="client")
            _update_episode(conn, ep, version, end_date=None, end_reason=None)
            self._audit(
                conn,
                actor,
                "reopen",
                "episode",
                episode_id,
                end_date=ep.end_date,
                reason=ep.end_reason,
            )

    def _open_episode_of(self, conn: Connection, client_id: int) -> int | None:
        """The id of the client's open episode, if one is open."""
        e = schema.episode
        return conn.execute(
            sa.select(e.c.id).where(e.c.client_id == client_id, e.c.end_date.is_(None)).limit(1)
        ).scalar()

    def _episode_for_write(self, conn: Connection, actor: Actor, episode_id: int) -> Any:
        """The episode row with its client's age group and team, if ``actor`` may write to it."""
        require_role(actor, *_WRITE_ROLES)
        row = conn.execute(
            sa.select(
                schema.episode,
                schema.client.c.age_group,
                schema.team.c.code.label("team"),
                schema.app_user.c.username.label("clinician"),
            )
            .select_from(
                schema.episode.join(schema.client)
                .join(schema.team)
                .join(schema.app_user, schema.episode.c.clinician_id == schema.app_user.c.id)
            )
            .where(schema.episode.c.id == episode_id)
        ).first()
        if row is None:
            raise ValidationError("error.not_found", field="episode", what="episode")
        if actor.role == "clinician" and row.clinician != actor.username:
            raise AccessDenied()
        if actor.role == "team_lead" and row.team != actor.team:
            raise AccessDenied()
        return row

    # --------------------------------------------------------------- sessions
    def record_session(
        self,
        actor: Actor,
        episode_id: int,
        *,
        session_date: date,
        format: str = "individual",
        measurements: Mapping[str, Mapping[str, object]] | None = None,
        number: int | None = None,
        rater: str = raters.DEFAULT_RATER,
    ) -> int:
        """Record a session and its measurements in one transaction; returns the session id.

        measurements: measure code -> {item: value}. Each is validated against its
        declaration (range, one decimal, all items) and against the client's age
        group and the session format; nothing is written if any check fails.
        rater: who gave these ratings (:data:`kor.raters.RATERS`, default the client);
        a parent's rating of the same session is added with :meth:`add_measurement`.
        """
        if format not in measures.FORMATS:
            raise ValidationError("error.bad_choice", field="format", choices="individual, group")
        session_date = _as_date(session_date)
        if session_date > date.today():
            raise ValidationError("error.date_future", field="session_date")
        with self.engine.begin() as conn:
            ep = self._episode_for_write(conn, actor, episode_id)
            if ep.end_date is not None:
                raise ValidationError("error.episode_closed", field="episode")
            if session_date < ep.start_date:
                raise ValidationError("error.date_before_start", field="session_date")
            scored = self._score_all(measurements or {}, ep.age_group, format, rater)
            if number is None:
                number = (
                    1
                    + conn.execute(
                        sa.select(sa.func.coalesce(sa.func.max(schema.session.c.number), 0)).where(
                            schema.session.c.episode_id == episode_id
                        )
                    ).scalar_one()
                )
            user_id = self._user_id(conn, actor.username)
            try:
                session_id = conn.execute(
                    schema.session.insert()
                    .values(
                        episode_id=episode_id,
                        number=number,
                        session_date=session_date,
                        clinician_id=user_id,
                        format=format,
                    )
                    .returning(schema.session.c.id)
                ).scalar_one()
            except sa.exc.IntegrityError:
                raise ConflictError("error.conflict") from None
            self._audit(conn, actor, "create", "session", session_id, number=number)
            for code, values in scored.items():
                self._insert_measurement(conn, actor, session_id, user_id, code, values, rater)
        return session_id

    def add_measurement(
        self,
        actor: Actor,
        session_id: int,
        measure: str,
        values: Mapping[str, object],
        *,
        rater: str = raters.DEFAULT_RATER,
    ) -> int:
        """Add one measure to a recorded session (e.g. the SRS at the end of the session).

        rater: who rated (default the client); a parent's or teacher's CORS beside the
        child's own is one more measurement of the session (:mod:`kor.raters`).
        """
        with self.engine.begin() as conn:
            srow = conn.execute(
                sa.select(schema.session).where(schema.session.c.id == session_id)
            ).first()
            if srow is None:
                raise ValidationError("error.not_found", field="session", what="session")
            ep = self._episode_for_write(conn, actor, srow.episode_id)
            scored = self._score_all({measure: values}, ep.age_group, srow.format, rater)
            exists = conn.execute(
                sa.select(schema.measurement.c.id).where(
                    schema.measurement.c.session_id == session_id,
                    schema.measurement.c.measure == measure,
                    schema.measurement.c.rater == rater,
                )
            ).first()
            if exists:
                raise _measure_twice(measure, rater)
            user_id = self._user_id(conn, actor.username)
            return self._insert_measurement(
                conn, actor, session_id, user_id, measure, scored[measure], rater
            )

    def correct_measurement(
        self, actor: Actor, measurement_id: int, values: Mapping[str, object], *, version: int
    ) -> int:
        """Correct a stored measurement; the old values stay in the audit trail.

        version: the version the user saw; if someone else corrected it since,
        :class:`ConflictError` is raised and nothing changes. Returns the new version.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(schema.measurement, schema.session.c.episode_id, schema.session.c.format)
                .select_from(schema.measurement.join(schema.session))
                .where(schema.measurement.c.id == measurement_id)
            ).first()
            if row is None:
                raise ValidationError("error.not_found", field="measurement", what="measurement")
            ep = self._episode_for_write(conn, actor, row.episode_id)
            measure = measures.get(row.measure)
            scored = self._score_all({measure.code: values}, ep.age_group, row.format)[measure.code]
            items = dict(zip(ITEM_COLUMNS, [scored[i] for i in measure.items], strict=False))
            old = {c: getattr(row, c) for c in (*items, "total")}
            done = conn.execute(
                schema.measurement.update()
                .where(
                    schema.measurement.c.id == measurement_id,
                    schema.measurement.c.version == version,
                )
                .values(**items, total=scored["total"], version=version + 1)
            ).rowcount
            if done != 1:
                raise ConflictError("error.conflict")
            self._audit(
                conn,
                actor,
                "correct",
                "measurement",
                measurement_id,
                old=old,
                new={**items, "total": scored["total"]},
                version=version + 1,
            )
        return version + 1

    def _score_all(
        self,
        given: Mapping[str, Mapping[str, object]],
        age_group: str,
        format: str,
        rater: str = raters.DEFAULT_RATER,
    ) -> dict[str, dict[str, float]]:
        if rater not in raters.RATERS:
            raise ValidationError(
                "error.bad_choice", field="rater", choices=", ".join(raters.RATERS)
            )
        scored: dict[str, dict[str, float]] = {}
        kinds: set[str] = set()
        for code, values in given.items():
            measure = measures.get(code)
            measures.check_fits(measure, age_group, format)
            if rater != raters.DEFAULT_RATER and not raters.allows_collateral(
                measure.kind, age_group
            ):
                raise ValidationError("error.rater_not_allowed", field="rater", measure=code)
            if measure.kind in kinds:
                raise ValidationError("error.measure_twice", field="measure", measure=code)
            kinds.add(measure.kind)
            scored[code] = measures.score(measure, values)
        return scored

    def _insert_measurement(
        self,
        conn: Connection,
        actor: Actor,
        session_id: int,
        user_id: int,
        code: str,
        values: Mapping[str, float],
        rater: str = raters.DEFAULT_RATER,
    ) -> int:
        measure = measures.get(code)
        items = dict(zip(ITEM_COLUMNS, [values[i] for i in measure.items], strict=False))
        try:
            mid = conn.execute(
                schema.measurement.insert()
                .values(
                    session_id=session_id,
                    measure=code,
                    **items,
                    total=values["total"],
                    entered_by=user_id,
                    entered_at=_now(),
                    version=1,
                    rater=rater,
                )
                .returning(schema.measurement.c.id)
            ).scalar_one()
        except sa.exc.IntegrityError:
            raise _measure_twice(code, rater) from None
        collateral = {} if rater == raters.DEFAULT_RATER else {"rater": rater}
        self._audit(conn, actor, "create", "measurement", mid, measure=code, **collateral)
        return mid

    # ------------------------------------------------------------- bulk loads
    def is_empty(self) -> bool:
        """True when no client is stored (the run command then loads the sample)."""
        with self._read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(schema.client)).scalar() == 0

    def load_dataset(self, actor: Actor, data: Dataset, *, chunk: int = 50_000) -> dict[str, int]:
        """Bulk-load a :class:`Dataset` into an empty database in one transaction (admin).

        Ids are kept as given. One audit row per table records the load.
        """
        require_role(actor, "admin")
        bad = ~data.clients["code"].map(is_client_code).astype(bool)
        if bad.any():  # the one client-code rule (kor.pseudonyms) holds for bulk loads too
            raise ValidationError("error.client_code", row=int(bad.to_numpy().argmax()) + 1,
                                  column="clients.code")  # fmt: skip
        tables = {
            "teams": schema.team,
            "users": schema.app_user,
            "clients": schema.client,
            "episodes": schema.episode,
            "sessions": schema.session,
            "measurements": schema.measurement,
        }
        counts: dict[str, int] = {}
        with self.engine.begin() as conn:
            self._lock_for_bulk(conn)
            if conn.execute(sa.select(sa.func.count()).select_from(schema.client)).scalar():
                raise StoreError("error.database_not_empty")
            for name, frame in data.tables().items():
                table = tables[name]
                rows = _records(frame, name)
                for start in range(0, len(rows), chunk):
                    conn.execute(table.insert(), rows[start : start + chunk])
                counts[name] = len(rows)
                self._audit(conn, actor, "bulk_load", table.name, None, rows=len(rows))
            self._sync_sequences(conn, tables.values())
        return counts

    def import_sessions(self, actor: Actor, rows: pd.DataFrame, *, source: str) -> ImportSummary:
        """Import validated session rows (from :func:`kor.io.read_sessions`) in one transaction.

        Clients and episodes are created when missing; a session already stored with the
        same values is skipped, so importing a file twice adds nothing. A row that
        contradicts stored data (other values, another team) is a problem; if any row
        has a problem, :class:`ImportFileError` lists them all and nothing is written.
        """
        require_role(actor, "admin", "team_lead")
        with self.engine.begin() as conn:
            self._lock_for_bulk(conn)
            teams = dict(conn.execute(sa.select(schema.team.c.code, schema.team.c.id)).all())
            users = dict(
                conn.execute(sa.select(schema.app_user.c.username, schema.app_user.c.id)).all()
            )
            actor_id = users.get(actor.username)
            if actor_id is None:
                raise AccessDenied("error.unknown_user", username=actor.username)
            tables = ("client", "episode", "session", "measurement")
            plan = importing.plan_import(
                rows,
                actor,
                teams=teams,
                users=users,
                stored=importing.read_stored(conn, pd.unique(rows["client_code"].astype(object))),
                next_ids={n: self._next_ids(conn, getattr(schema, n), 1)[0] for n in tables},
                as_date=_as_date,
            )
            if plan.problems:
                raise ImportFileError(source, plan.problems)
            added = plan.added()
            importing.write_plan(conn, plan, entered_by=actor_id, now=_now())
            self._sync_sequences(conn, (getattr(schema, n) for n in tables))
            self._audit(
                conn,
                actor,
                "import",
                "measurement",
                None,
                source_kind=Path(source).suffix,
                **added,
                unchanged=plan.unchanged,
            )
        return ImportSummary(**added, unchanged=plan.unchanged)

    # ------------------------------------------------------------------ reads
    def dataset(self, actor: Actor, **filters: Any) -> Dataset:
        """The tables the actor may read, filtered by team, clinician, client, episode, dates,
        and to open episodes (``open_only``, what a clinician's list needs).

        Every call is audited (who read how many episodes; a client filter is recorded as
        used, not by its code, so the audit holds no client codes).
        """
        return Dataset(**self._read_tables(actor, analysis_only=False, **filters))

    def session_table(self, actor: Actor, **filters: Any) -> pd.DataFrame:
        """The session table (:data:`kor.frames.SESSION_COLUMNS`) the actor may read.

        Reads only the measurement columns the session table is made of: who entered a
        value, when, and its version are a third of a large service's read and no
        analysis uses them.
        """
        return session_table(self._read_tables(actor, analysis_only=True, **filters))

    def severity_reference(self, actor: Actor, *, end: date | None = None) -> SeverityModel:
        """The whole service's case-mix model: fitted on every team's closed episodes.

        Severity-adjusted figures are adjusted against the service, not against the rows
        the actor may read (a team adjusted against itself shows its raw figure again).
        A team lead or clinician may not read other teams' clients, so the model is
        fitted here, on every episode closed by ``end`` (default: all closed ones), and
        only its aggregates leave the store (a line, means, counts; nothing is fitted on
        fewer than 5 clients). Any role may ask; the read is audited.
        Returns :func:`kor.indicators.severity_reference` of those episodes.
        """
        from kor import change, indicators

        end = None if end is None else _as_date(end, "end")
        frames = self._read_tables(actor, analysis_only=True, end=end, reference=True)
        episodes = change.episode_change(session_table(frames))
        return indicators.severity_reference(episodes, end=end)

    def _read_tables(
        self,
        actor: Actor,
        *,
        analysis_only: bool,
        team: str | None = None,
        clinician: str | None = None,
        client: str | None = None,
        episode: int | None = None,
        start: date | None = None,
        end: date | None = None,
        open_only: bool = False,
        reference: bool = False,
    ) -> dict[str, pd.DataFrame]:
        """The frames behind :meth:`dataset` and :meth:`session_table` (read and audited).

        reference: the whole service's episodes closed by ``end``, pseudonymised, for an
        aggregate computed inside the store (:meth:`severity_reference`) whoever acts.
        """
        team, clinician, client = (
            _filter_text(team, "team"),
            _filter_text(clinician, "clinician"),
            _filter_text(client, "client"),
        )
        if episode is not None:
            if isinstance(episode, bool) or not isinstance(episode, numbers.Integral):
                raise ValidationError("error.bad_filter", field="episode")
            episode = int(episode)
        start = None if start is None else _as_date(start, "start")
        end = None if end is None else _as_date(end, "end")
        if reference:  # never returned as rows: only the store's aggregates leave
            scope = Scope(everyone=True, pseudonymised=True)
        else:
            scope = client_scope(actor, self._active_grants(actor))
        c, e, s, m, u, t = (
            schema.client,
            schema.episode,
            schema.session,
            schema.measurement,
            schema.app_user,
            schema.team,
        )
        ep_sel = sa.select(e.c.id).select_from(
            e.join(c).join(t).join(u, e.c.clinician_id == u.c.id)
        )
        if not scope.everyone:  # own episodes, plus the clients of a lead's or granted team
            mine = [u.c.username == scope.clinician] if scope.clinician else []
            teams = [t.c.code == code for code in sorted(scope.teams)]  # no expanding IN:
            ep_sel = ep_sel.where(sa.or_(*mine, *teams))  # read_frames compiles it plainly
        if team:
            ep_sel = ep_sel.where(t.c.code == team)
        if clinician:
            ep_sel = ep_sel.where(u.c.username == clinician)
        if client and scope.pseudonymised:  # the reader only knows pseudonyms
            ep_sel = ep_sel.where(c.c.id == (client_id_of(client) or -1))
        elif client:
            ep_sel = ep_sel.where(c.c.code == client)
        if episode is not None:
            ep_sel = ep_sel.where(e.c.id == episode)
        if open_only:
            ep_sel = ep_sel.where(e.c.end_date.is_(None))
        if reference:
            closed = e.c.end_date.is_not(None)
            ep_sel = ep_sel.where(closed if end is None else e.c.end_date <= end)
        ep_ids = ep_sel.scalar_subquery()
        # the whole service unfiltered (admin, quality lead): no IN filters at all, which
        # is what makes the large reads fast
        narrowed = (
            not scope.everyone
            or open_only
            or reference
            or any(f is not None for f in (team, clinician, client, episode))
        )
        ep_where = [e.c.id.in_(ep_ids)] if narrowed else []
        ses_where = [s.c.episode_id.in_(ep_ids)] if narrowed else []
        if start:
            ses_where.append(s.c.session_date >= start)
        if end:
            ses_where.append(s.c.session_date <= end)
        queries = {
            "teams": sa.select(t.c.id.label("team_id"), t.c.code, t.c.name),
            "users": sa.select(
                u.c.id.label("user_id"), u.c.username, u.c.display_name, u.c.role, u.c.team_id
            ),
            "clients": sa.select(
                c.c.id.label("client_id"), c.c.code, c.c.birth_year, c.c.age_group, c.c.team_id
            ).where(*([c.c.id.in_(sa.select(e.c.client_id).where(*ep_where))] if narrowed else [])),
            "episodes": sa.select(
                e.c.id.label("episode_id"),
                e.c.client_id,
                e.c.clinician_id,
                e.c.start_date,
                e.c.end_date,
                e.c.end_reason,
            ).where(*ep_where),
            "sessions": sa.select(
                s.c.id.label("session_id"),
                s.c.episode_id,
                s.c.number,
                s.c.session_date,
                s.c.clinician_id,
                s.c.format,
            ).where(*ses_where),
            "measurements": sa.select(
                m.c.session_id,
                m.c.measure,
                *[m.c[col] for col in item_columns()],  # those the registered measures use
                m.c.total,
                m.c.rater,  # kor.frames.session_table keeps the outcome rater's only
                *(
                    []
                    if analysis_only
                    else [
                        m.c.id.label("measurement_id"),
                        m.c.entered_by,
                        m.c.entered_at,
                        m.c.version,  # what a correction must name (optimistic locking)
                    ]
                ),
            ).where(
                *([m.c.session_id.in_(sa.select(s.c.id).where(*ses_where))] if ses_where else [])
            ),
        }
        with self._read() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(s).where(*ses_where))
            sessions = count.scalar_one()
        frames = {
            name: _typed(frame, name)
            for name, frame in read_frames(self.engine, queries, sessions=sessions).items()
        }
        if scope.pseudonymised:
            frames["clients"] = _pseudonymised(frames["clients"])
        with self.engine.begin() as conn:
            self._audit(
                conn,
                actor,
                "read",
                "dataset",
                None,
                team=team,
                clinician=clinician,
                client_filter=client is not None,
                episode=episode,
                episodes=len(frames["episodes"]),
                **({"purpose": "severity_reference"} if reference else {}),
            )
        return frames

    def export_rows(self, actor: Actor, **filters: Any) -> pd.DataFrame:
        """Measurements in the import/export file format (:data:`EXPORT_COLUMNS`; the items
        past each measure's are NaN, and :func:`kor.io.write_sessions` leaves them out)."""
        return file_rows(self.dataset(actor, **filters))

    def counts(self, actor: Actor) -> dict[str, int]:
        """Rows per table (aggregate; any role)."""
        with self._read() as conn:
            return {
                t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (
                    schema.team,
                    schema.app_user,
                    schema.client,
                    schema.episode,
                    schema.session,
                    schema.measurement,
                )
            }

    def audit_log(self, actor: Actor, *, limit: int = 1000) -> pd.DataFrame:
        """The newest audit rows (admin only). There is no way to edit them through the library."""
        require_role(actor, "admin")
        with self._read() as conn:
            return pd.read_sql(
                sa.select(schema.audit).order_by(schema.audit.c.id.desc()).limit(limit), conn
            )

    # ----------------------------------------------------------------- models
    def save_model(
        self,
        actor: Actor,
        kind: str,
        params: Mapping[str, Any],
        *,
        fitted_on: date,
        n_episodes: int,
    ) -> int:
        """Persist a fitted model (e.g. the expected-response model) with its date and size."""
        require_role(actor, "admin", "quality_lead")
        with self.engine.begin() as conn:
            model_id = conn.execute(
                schema.model.insert()
                .values(
                    kind=kind,
                    fitted_on=fitted_on,
                    n_episodes=n_episodes,
                    params=json.dumps(params, default=str),
                    created_at=_now(),
                )
                .returning(schema.model.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "model", model_id, kind=kind)
        return model_id

    def latest_model(self, actor: Actor, kind: str) -> dict[str, Any] | None:
        """The newest stored model of ``kind``, as saved, or None."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(schema.model.c.params)
                .where(schema.model.c.kind == kind)
                .order_by(schema.model.c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else json.loads(row.params)


def _measure_twice(measure: str, rater: str) -> ValidationError:
    """A measure given twice in a session by the same rater (named when not the client)."""
    if rater == raters.DEFAULT_RATER:
        return ValidationError("error.measure_twice", field="measure", measure=measure)
    return ValidationError(
        "error.measure_twice_rater", field="measure", measure=measure, rater=rater
    )


def _head_revision() -> str | None:
    """The newest migration's revision id, read from the migration files (no Alembic import)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (Path(__file__).parent / "migrations" / "versions").glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("revision = "):
                revisions.add(line.split("=", 1)[1].strip().strip("\"'"))
            elif line.startswith("down_revision = "):
                parents.add(line.split("=", 1)[1].strip().strip("\"'"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


class _Row:
    """A tiny attribute bag for rows created during an import."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def _records(frame: pd.DataFrame, name: str) -> list[dict[str, Any]]:
    """Frame rows as dicts for executemany, with SQL-friendly types and our column names."""
    rename = {
        "teams": {"team_id": "id"},
        "users": {"user_id": "id"},
        "clients": {"client_id": "id"},
        "episodes": {"episode_id": "id"},
        "sessions": {"session_id": "id"},
        "measurements": {"measurement_id": "id"},
    }[name]
    out = frame.loc[:, table_columns(name, frame)].rename(columns=rename).copy()
    if name == "users":
        out["active"] = True
    if name in ("episodes",):
        out["version"] = 1
    if name == "measurements":
        out["version"] = 1
        if "rater" in out.columns:  # a blank rater is the client's own (kor.raters)
            out["rater"] = out["rater"].where(out["rater"].notna(), raters.DEFAULT_RATER)
    for col in ("start_date", "end_date", "session_date"):
        if col in out.columns:
            dates = pd.to_datetime(out[col])
            out[col] = pd.Series(
                [d.date() if not pd.isna(d) else None for d in dates], index=out.index, dtype=object
            )
    if "entered_at" in out.columns:
        out["entered_at"] = pd.Series(
            pd.to_datetime(out["entered_at"]).dt.to_pydatetime(), index=out.index, dtype=object
        )
    out = out.astype(object).where(out.notna(), None)
    records = out.to_dict("records")
    for rec in records:
        for key, value in rec.items():
            if hasattr(value, "item") and not isinstance(value, (date, datetime)):
                rec[key] = value.item()
    return records


def _pseudonymised(clients: pd.DataFrame) -> pd.DataFrame:
    """Clients with each code replaced by its opaque pseudonym and no birth year (a quality
    lead without a client-level grant: aggregates work, no client is recognisable)."""
    out = clients.copy()
    out["code"] = [client_pseudonym(i) for i in out["client_id"]]
    out["birth_year"] = pd.array([pd.NA] * len(out), dtype="Int64")
    return out


def _typed(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Give a frame read from SQL the dtypes of :class:`Dataset` tables."""
    for col in ("start_date", "end_date", "session_date", "entered_at"):
        if col not in frame.columns:
            continue
        if frame[col].dtype.kind != "M":  # SQLite: ISO text
            frame[col] = pd.to_datetime(frame[col], format="ISO8601")
        frame[col] = frame[col].astype("datetime64[ns]")
    for col in frame.columns:  # PostgreSQL's integer is 32 bits; ids are int64 everywhere
        if frame[col].dtype.kind in "iu" and frame[col].dtype.itemsize < 8:
            frame[col] = frame[col].astype("int64")
    for col in (*ITEM_COLUMNS, "total"):  # an all-NULL column has no type of its own
        if col in frame.columns:
            frame[col] = frame[col].astype("float64")
    for col in ("team_id", "birth_year"):
        if col in frame.columns:
            frame[col] = frame[col].astype("Int64")
    if "end_reason" in frame.columns:
        frame["end_reason"] = (
            frame["end_reason"].astype(object).where(frame["end_reason"].notna(), None)
        )
    return frame


def open_store(url: str | None = None) -> Store:
    """Open the configured store (migrating it); the apps and the CLI use this."""
    return Store.open(url)
