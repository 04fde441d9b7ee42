"""Store methods for improvement projects (mixed into :class:`kor.store.Store`).

The five-phase cycle (:mod:`kor.cycle`): projects with their teams and members,
per-phase checklists, notes and decisions, SMART goals bound to a live measure (the
baseline is computed here from the data, never typed), the change log and the
evaluation schedule. Every write is one transaction with its audit row.

Access: team leads (their own team's projects), quality leads and admins create and
edit projects; clinicians read their team's projects; researchers have no access.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kor import cycle
from kor.access import Actor, require_role
from kor.errors import AccessDenied, ConflictError, ValidationError
from kor.pseudonyms import national_ids_in
from kor.store import schema_cycle as sc
from kor.store.schema import team as team_table

__all__ = ["CycleStoreMixin", "EDIT_ROLES", "READ_ROLES"]

EDIT_ROLES = cycle.EDIT_ROLES
READ_ROLES = cycle.READ_ROLES
_TEAM_SCOPED = ("team_lead", "clinician")


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _date(value: Any) -> date | None:
    if value is None or (not isinstance(value, (date, str)) and pd.isna(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def _text(value: Any, field: str) -> str:
    """Required free text of a project (note, decision, change, summary, checklist item).

    A project's texts are read by the whole group, so a national identity number is
    refused on the way in rather than stored (:func:`kor.pseudonyms.national_ids_in`).
    """
    text = str(value or "").strip()
    if not text:
        raise ValidationError("error.required", field=field)
    if national_ids_in(text):
        raise ValidationError("error.national_id_in_text", field=field)
    return text


def _optional_text(value: Any, field: str) -> str | None:
    """Free text that may be left out (theme, question, source): None, or as :func:`_text`."""
    return None if value is None or not str(value).strip() else _text(value, field)


class CycleStoreMixin:
    """Improvement projects, goals, change log and evaluations."""

    # ------------------------------------------------------------------ access
    def _project_teams(self, conn: Connection, project_id: int) -> list[str]:
        rows = conn.execute(
            sa.select(team_table.c.code)
            .select_from(sc.cycle_project_team.join(team_table))
            .where(sc.cycle_project_team.c.project_id == project_id)
            .order_by(team_table.c.code)
        ).scalars()
        return list(rows)

    def _project_row(self, conn: Connection, project_id: int) -> Any:
        row = conn.execute(
            sa.select(sc.cycle_project).where(sc.cycle_project.c.id == project_id)
        ).first()
        if row is None:
            raise ValidationError("error.not_found", field="project", what=str(project_id))
        return row

    def _may_see(self, actor: Actor, teams: Sequence[str]) -> bool:
        if actor.role in ("admin", "quality_lead"):
            return True
        if actor.role in _TEAM_SCOPED:
            return bool(actor.team) and actor.team in teams
        return False

    def _check_project(self, conn: Connection, actor: Actor, project_id: int, *, edit: bool) -> Any:
        """The project row, if ``actor`` may read (or, with ``edit``, change) it."""
        require_role(actor, *(EDIT_ROLES if edit else READ_ROLES))
        row = self._project_row(conn, project_id)
        if not self._may_see(actor, self._project_teams(conn, project_id)):
            raise AccessDenied()
        return row

    def _owner_of(self, conn: Connection, table: sa.Table, row_id: int) -> int:
        project_id = conn.execute(
            sa.select(table.c.project_id).where(table.c.id == row_id)
        ).scalar()
        if project_id is None:
            raise ValidationError("error.not_found", field=table.name, what=str(row_id))
        return project_id

    # ------------------------------------------------------------------ projects
    def cycle_team_choices(self, actor: Actor) -> list[tuple[str, str]]:
        """``(code, name)`` of the teams a project can be for (a team lead: their own)."""
        require_role(actor, *READ_ROLES)
        with self._read() as conn:
            rows = conn.execute(
                sa.select(team_table.c.code, team_table.c.name).order_by(team_table.c.code)
            ).all()
        if actor.role in _TEAM_SCOPED:
            rows = [r for r in rows if r.code == actor.team]
        return [(r.code, r.name) for r in rows]

    def create_project(
        self,
        actor: Actor,
        title: str,
        teams: Iterable[str],
        *,
        theme: str | None = None,
        question: str | None = None,
        source: str | None = None,
        members: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Create a project in forberedelse with the guideline's default checklists.

        teams: team codes (at least one; a team lead only their own). members:
        ``(name, role)`` pairs, role in :data:`kor.cycle.MEMBER_ROLES`.
        """
        require_role(actor, *EDIT_ROLES)
        title = _text(title, "title")
        codes = sorted(set(teams))
        if not codes:
            raise ValidationError("error.required", field="team")
        if actor.role == "team_lead" and actor.team not in codes:
            raise AccessDenied()
        members = list(members)
        for _, role in members:
            self._check_member_role(role)
        now = _now()
        with self.engine.begin() as conn:
            team_ids = [self._team_id(conn, code) for code in codes]
            project_id = conn.execute(
                sc.cycle_project.insert()
                .values(
                    title=title,
                    theme=_optional_text(theme, "theme"),
                    question=_optional_text(question, "question"),
                    source=_optional_text(source, "source"),
                    status="active",
                    phase=cycle.PHASE_CODES[0],
                    evaluations_per_year=None,
                    created_by=actor.username,
                    created_at=now,
                    version=1,
                )
                .returning(sc.cycle_project.c.id)
            ).scalar_one()
            conn.execute(
                sc.cycle_project_team.insert(),
                [{"project_id": project_id, "team_id": tid} for tid in team_ids],
            )
            conn.execute(
                sc.cycle_checklist.insert(),
                [
                    {**row, "project_id": project_id, "text": None, "done": False}
                    for row in cycle.default_checklist()
                ],
            )
            if members:
                conn.execute(
                    sc.cycle_member.insert(),
                    [
                        {"project_id": project_id, "name": _text(n, "name"), "role": r}
                        for n, r in members
                    ],
                )
            self._audit(conn, actor, "create", "cycle_project", project_id, teams=codes)
        return project_id

    def update_project(
        self,
        actor: Actor,
        project_id: int,
        *,
        version: int,
        title: str | None = None,
        theme: str | None = None,
        question: str | None = None,
        status: str | None = None,
    ) -> int:
        """Change a project's title, theme, question or status (``active``/``closed``).

        Returns the new version; :class:`ConflictError` if someone changed it first.
        """
        values: dict[str, Any] = {}
        if title is not None:
            values["title"] = _text(title, "title")
        if theme is not None:
            values["theme"] = _optional_text(theme, "theme")
        if question is not None:
            values["question"] = _optional_text(question, "question")
        if status is not None:
            if status not in ("active", "closed"):
                raise ValidationError("error.bad_choice", field="status", choices="active, closed")
            values["status"] = status
        with self.engine.begin() as conn:
            self._check_project(conn, actor, project_id, edit=True)
            return self._bump(conn, actor, project_id, version, "update", values)

    def _bump(
        self,
        conn: Connection,
        actor: Actor,
        project_id: int,
        version: int,
        action: str,
        values: dict[str, Any],
        **detail: Any,
    ) -> int:
        done = conn.execute(
            sc.cycle_project.update()
            .where(sc.cycle_project.c.id == project_id, sc.cycle_project.c.version == version)
            .values(**values, version=version + 1)
        ).rowcount
        if done != 1:
            raise ConflictError("error.conflict")
        self._audit(conn, actor, action, "cycle_project", project_id, **values, **detail)
        return version + 1

    def projects(self, actor: Actor, *, today: date | None = None) -> pd.DataFrame:
        """The projects ``actor`` may read, newest first.

        Columns: ``id``, ``title``, ``teams`` (comma-separated codes), ``phase``,
        ``status``, ``version``, ``next_due`` (next evaluation not done, or None),
        ``overdue`` (bool: due before ``today``, default today), ``days_overdue``.
        """
        require_role(actor, *READ_ROLES)
        today = today or date.today()
        p, pt = sc.cycle_project, sc.cycle_project_team
        with self._read() as conn:
            rows = conn.execute(sa.select(p).order_by(p.c.id.desc())).mappings().all()
            links = conn.execute(
                sa.select(pt.c.project_id, team_table.c.code).select_from(pt.join(team_table))
            ).all()
            evals = pd.read_sql(
                sa.select(
                    sc.cycle_evaluation.c.project_id,
                    sc.cycle_evaluation.c.due,
                    sc.cycle_evaluation.c.done_at,
                ),
                conn,
            )
        teams: dict[int, list[str]] = {}
        for pid, code in links:
            teams.setdefault(pid, []).append(code)
        late = cycle.overdue(evals, today)
        late_days = late.groupby("project_id")["days_overdue"].max().to_dict() if len(late) else {}
        open_evals = evals[evals["done_at"].isna()] if len(evals) else evals
        next_due = (
            open_evals.groupby("project_id")["due"].min().to_dict() if len(open_evals) else {}
        )
        out = []
        for r in rows:
            codes = sorted(teams.get(r["id"], []))
            if not self._may_see(actor, codes):
                continue
            out.append(
                {
                    "id": r["id"],
                    "title": r["title"],
                    "teams": ", ".join(codes),
                    "phase": r["phase"],
                    "status": r["status"],
                    "version": r["version"],
                    "next_due": _date(next_due.get(r["id"])),
                    "overdue": r["id"] in late_days,
                    "days_overdue": int(late_days.get(r["id"], 0)),
                }
            )
        columns = [
            "id", "title", "teams", "phase", "status", "version", "next_due", "overdue",
            "days_overdue",
        ]  # fmt: skip
        return pd.DataFrame(out, columns=columns)

    def project(self, actor: Actor, project_id: int) -> cycle.Project:
        """One project with its members, checklists, notes, goals, change log, evaluations."""
        with self._read() as conn:
            row = self._check_project(conn, actor, project_id, edit=False)
            teams = self._project_teams(conn, project_id)

            def rows(table: sa.Table, *order: Any) -> list[dict[str, Any]]:
                query = sa.select(table).where(table.c.project_id == project_id)
                return [dict(r) for r in conn.execute(query.order_by(*order)).mappings()]

            c = sc.cycle_checklist
            return cycle.Project(
                id=row.id,
                title=row.title,
                teams=tuple(teams),
                phase=row.phase,
                status=row.status,
                version=row.version,
                theme=row.theme,
                question=row.question,
                evaluations_per_year=row.evaluations_per_year,
                created_by=row.created_by,
                created_at=row.created_at,
                members=rows(sc.cycle_member, sc.cycle_member.c.id),
                checklist=rows(c, c.c.phase, c.c.position, c.c.id),
                notes=rows(sc.cycle_note, sc.cycle_note.c.at, sc.cycle_note.c.id),
                goals=rows(sc.cycle_goal, sc.cycle_goal.c.id),
                changes=rows(sc.cycle_change, sc.cycle_change.c.change_date, sc.cycle_change.c.id),
                evaluations=rows(sc.cycle_evaluation, sc.cycle_evaluation.c.due),
            )

    # ------------------------------------------------------------------ members
    @staticmethod
    def _check_member_role(role: str) -> None:
        if role not in cycle.MEMBER_ROLES:
            raise ValidationError(
                "error.bad_choice", field="role", choices=", ".join(cycle.MEMBER_ROLES)
            )

    def add_member(
        self, actor: Actor, project_id: int, name: str, role: str, *, username: str | None = None
    ) -> int:
        """Add a member (staff or user representative) by name; no client data."""
        self._check_member_role(role)
        name = _text(name, "name")
        with self.engine.begin() as conn:
            self._check_project(conn, actor, project_id, edit=True)
            member_id = conn.execute(
                sc.cycle_member.insert()
                .values(project_id=project_id, name=name, username=username, role=role)
                .returning(sc.cycle_member.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "cycle_member", member_id, role=role)
        return member_id

    def remove_member(self, actor: Actor, member_id: int) -> None:
        """Remove a member from a project."""
        with self.engine.begin() as conn:
            project_id = self._owner_of(conn, sc.cycle_member, member_id)
            self._check_project(conn, actor, project_id, edit=True)
            conn.execute(sc.cycle_member.delete().where(sc.cycle_member.c.id == member_id))
            self._audit(conn, actor, "delete", "cycle_member", member_id)

    # ------------------------------------------------------------------ checklists, notes
    def add_checklist_item(self, actor: Actor, project_id: int, phase: str, text: str) -> int:
        """Add the group's own item to a phase's checklist."""
        phase = cycle.phase(phase).code
        text = _text(text, "text")
        c = sc.cycle_checklist
        with self.engine.begin() as conn:
            self._check_project(conn, actor, project_id, edit=True)
            position = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(c.c.position), -1) + 1).where(
                    c.c.project_id == project_id, c.c.phase == phase
                )
            ).scalar_one()
            item_id = conn.execute(
                c.insert()
                .values(
                    project_id=project_id,
                    phase=phase,
                    position=position,
                    item_key=None,
                    text=text,
                    done=False,
                )
                .returning(c.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "cycle_checklist", item_id, phase=phase)
        return item_id

    def remove_checklist_item(self, actor: Actor, item_id: int) -> None:
        """Take an item off a checklist (the checklists are editable per project)."""
        c = sc.cycle_checklist
        with self.engine.begin() as conn:
            project_id = self._owner_of(conn, c, item_id)
            self._check_project(conn, actor, project_id, edit=True)
            conn.execute(c.delete().where(c.c.id == item_id))
            self._audit(conn, actor, "delete", "cycle_checklist", item_id)

    def _goal_rows(self, conn: Connection, project_id: int) -> list[dict[str, Any]]:
        g = sc.cycle_goal
        return [
            dict(r)
            for r in conn.execute(sa.select(g).where(g.c.project_id == project_id)).mappings()
        ]

    def set_checklist_item(self, actor: Actor, item_id: int, done: bool) -> None:
        """Tick (or untick) a checklist item; who and when are recorded.

        «SMART mål er satt» can only be ticked when a goal of the project passes
        :func:`kor.cycle.smart_check` (:class:`kor.cycle.NoSmartGoal` otherwise).
        """
        c = sc.cycle_checklist
        with self.engine.begin() as conn:
            project_id = self._owner_of(conn, c, item_id)
            self._check_project(conn, actor, project_id, edit=True)
            key = conn.execute(sa.select(c.c.item_key).where(c.c.id == item_id)).scalar()
            if done and key == cycle.SMART_GOAL_ITEM:
                cycle.require_smart_goal(self._goal_rows(conn, project_id))
            conn.execute(
                c.update()
                .where(c.c.id == item_id)
                .values(
                    done=bool(done),
                    done_by=actor.username if done else None,
                    done_at=_now() if done else None,
                )
            )
            self._audit(conn, actor, "update", "cycle_checklist", item_id, done=bool(done))

    def add_note(
        self, actor: Actor, project_id: int, phase: str, text: str, *, kind: str = "note"
    ) -> int:
        """A note or a decision (``kind``) in a phase, with author and time."""
        phase = cycle.phase(phase).code
        if kind not in cycle.NOTE_KINDS:
            raise ValidationError("error.bad_choice", field="kind", choices="note, decision")
        text = _text(text, "text")
        with self.engine.begin() as conn:
            self._check_project(conn, actor, project_id, edit=True)
            note_id = self._insert_note(conn, actor, project_id, phase, kind, text)
        return note_id

    def _insert_note(
        self, conn: Connection, actor: Actor, project_id: int, phase: str, kind: str, text: str
    ) -> int:
        note_id = conn.execute(
            sc.cycle_note.insert()
            .values(
                project_id=project_id,
                phase=phase,
                kind=kind,
                text=text,
                author=actor.username,
                at=_now(),
            )
            .returning(sc.cycle_note.c.id)
        ).scalar_one()
        self._audit(conn, actor, "create", "cycle_note", note_id, kind=kind, phase=phase)
        return note_id

    def advance_phase(
        self,
        actor: Actor,
        project_id: int,
        *,
        version: int,
        force: bool = False,
        decision: str | None = None,
    ) -> str:
        """Move the project to the next phase; returns the new phase code.

        Raises :class:`kor.cycle.PhaseNotDone` listing the open checklist items of the
        current phase, unless ``force`` is set with a ``decision`` (why the group moves
        on anyway), which is recorded as a decision of the phase being left. The
        planning phase is never left without a SMART goal, forced or not
        (:class:`kor.cycle.NoSmartGoal`). After the
        last phase the project is closed (status ``closed``, phase unchanged).
        """
        with self.engine.begin() as conn:
            row = self._check_project(conn, actor, project_id, edit=True)
            if row.version != version:
                raise ConflictError("error.conflict")
            if row.phase == cycle.SMART_GOAL_PHASE:
                cycle.require_smart_goal(self._goal_rows(conn, project_id))
            c = sc.cycle_checklist
            open_rows = conn.execute(
                sa.select(c.c.item_key, c.c.text)
                .where(c.c.project_id == project_id, c.c.phase == row.phase, sa.not_(c.c.done))
                .order_by(c.c.position, c.c.id)
            ).mappings()
            open_items = [cycle.item_text(r) for r in open_rows]
            if open_items:
                if not force:
                    raise cycle.PhaseNotDone(row.phase, open_items)
                self._insert_note(
                    conn, actor, project_id, row.phase, "decision", _text(decision, "decision")
                )
            new = cycle.next_phase(row.phase)
            values = {"phase": new} if new else {"status": "closed"}
            self._bump(conn, actor, project_id, version, "advance", values, forced=bool(open_items))
        return new or row.phase

    # ------------------------------------------------------------------ goals
    def goal_data(self, actor: Actor, measure: str, team: str | None) -> pd.DataFrame:
        """The data a goal measure is computed from (the session table the actor may read,
        or the frame a registered source loads)."""
        m = cycle.GOAL_MEASURES.get(measure)
        if m is None:
            raise ValidationError(
                "error.bad_choice", field="measure", choices=", ".join(cycle.GOAL_MEASURES)
            )
        if m.source == "sessions":
            return self.session_table(actor, team=team) if team else self.session_table(actor)
        loader = cycle.GOAL_SOURCES.get(m.source)
        if loader is None:
            raise ValidationError("error.not_found", field="source", what=m.source)
        return loader(self, actor, team)

    def goal_baseline(
        self, actor: Actor, measure: str, team: str | None, start: date, end: date
    ) -> float | None:
        """The measure over a baseline period, from the data (None if suppressed/empty)."""
        data = self.goal_data(actor, measure, team)
        return cycle.goal_baseline(data, measure, team, _date(start), _date(end))

    def set_goal(
        self,
        actor: Actor,
        project_id: int,
        *,
        measure: str,
        team: str | None,
        period_start: date,
        period_end: date,
        target: float | None = None,
        deadline: date | None = None,
        goal_id: int | None = None,
        version: int | None = None,
    ) -> int:
        """Create a goal (or, with ``goal_id`` and ``version``, change one); returns its id.

        The baseline is computed from the data over ``period_start``-``period_end``
        (:func:`kor.cycle.goal_baseline`) and stored. Changing a goal clears its
        agreement: the group has to agree again (SMART «E»).
        """
        start, end = _date(period_start), _date(period_end)
        if start is None or end is None:
            raise ValidationError("error.required", field="period")
        if end < start:
            raise ValidationError("error.date_before_start", field="period_end")
        with self._read() as conn:
            self._check_project(conn, actor, project_id, edit=True)
        baseline = self.goal_baseline(actor, measure, team, start, end)
        values = {
            "measure": measure,
            "team": team,
            "period_start": start,
            "period_end": end,
            "baseline": baseline,
            "target": None if target is None else float(target),
            "deadline": _date(deadline),
        }
        g = sc.cycle_goal
        with self.engine.begin() as conn:
            self._check_project(conn, actor, project_id, edit=True)
            if goal_id is None:
                goal_id = conn.execute(
                    g.insert()
                    .values(
                        **values,
                        project_id=project_id,
                        created_by=actor.username,
                        created_at=_now(),
                        version=1,
                    )
                    .returning(g.c.id)
                ).scalar_one()
                self._audit(conn, actor, "create", "cycle_goal", goal_id, measure=measure)
            else:
                if version is None:
                    raise ValidationError("error.required", field="version")
                done = conn.execute(
                    g.update()
                    .where(g.c.id == goal_id, g.c.project_id == project_id, g.c.version == version)
                    .values(**values, agreed_by=None, agreed_at=None, version=version + 1)
                ).rowcount
                if done != 1:
                    raise ConflictError("error.conflict")
                self._audit(conn, actor, "update", "cycle_goal", goal_id, measure=measure)
        return goal_id

    def agree_goal(self, actor: Actor, goal_id: int, agreed_by: str, *, version: int) -> int:
        """Record who agreed on the goal (names or a group) and when; returns the version."""
        agreed_by = _text(agreed_by, "agreed_by")
        g = sc.cycle_goal
        with self.engine.begin() as conn:
            project_id = self._owner_of(conn, g, goal_id)
            self._check_project(conn, actor, project_id, edit=True)
            done = conn.execute(
                g.update()
                .where(g.c.id == goal_id, g.c.version == version)
                .values(agreed_by=agreed_by, agreed_at=_now(), version=version + 1)
            ).rowcount
            if done != 1:
                raise ConflictError("error.conflict")
            self._audit(conn, actor, "agree", "cycle_goal", goal_id)
        return version + 1

    def goal_evaluation(
        self, actor: Actor, goal_id: int, *, today: date | None = None
    ) -> cycle.Evaluation:
        """The goal measure's chart from the baseline start to ``today``, split at the
        project's change log, with the verdict (:func:`kor.cycle.evaluate_goal`)."""
        g = sc.cycle_goal
        with self._read() as conn:
            project_id = self._owner_of(conn, g, goal_id)
            self._check_project(conn, actor, project_id, edit=False)
            goal = dict(conn.execute(sa.select(g).where(g.c.id == goal_id)).mappings().one())
            changes = [
                dict(r)
                for r in conn.execute(
                    sa.select(sc.cycle_change.c.change_date, sc.cycle_change.c.text)
                    .where(sc.cycle_change.c.project_id == project_id)
                    .order_by(sc.cycle_change.c.change_date)
                ).mappings()
            ]
        data = self.goal_data(actor, goal["measure"], goal["team"])
        series = cycle.goal_series(
            data, goal["measure"], goal["team"], goal["period_start"], today or date.today()
        )
        return cycle.evaluate_goal(
            series,
            changes,
            goal["period_end"],
            measure=goal["measure"],
            target=goal["target"],
        )

    # ------------------------------------------------------------------ change log
    def add_change(self, actor: Actor, project_id: int, change_date: date, text: str) -> int:
        """A dated change-log entry (endringslogg): what was changed, by whom."""
        when = _date(change_date)
        if when is None:
            raise ValidationError("error.required", field="change_date")
        text = _text(text, "text")
        with self.engine.begin() as conn:
            self._check_project(conn, actor, project_id, edit=True)
            change_id = conn.execute(
                sc.cycle_change.insert()
                .values(
                    project_id=project_id,
                    change_date=when,
                    text=text,
                    author=actor.username,
                    at=_now(),
                )
                .returning(sc.cycle_change.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "cycle_change", change_id)
        return change_id

    # ------------------------------------------------------------------ evaluations
    def schedule_evaluations(
        self, actor: Actor, project_id: int, *, per_year: int, first_due: date
    ) -> int:
        """Set the evaluation schedule (1 or 2 a year) and the first due date; returns its id.

        Open evaluations already scheduled are replaced by the new first one.
        """
        if per_year not in (1, 2):
            raise ValidationError("error.bad_choice", field="per_year", choices="1, 2")
        due = _date(first_due)
        if due is None:
            raise ValidationError("error.required", field="due")
        e = sc.cycle_evaluation
        with self.engine.begin() as conn:
            self._check_project(conn, actor, project_id, edit=True)
            conn.execute(
                sc.cycle_project.update()
                .where(sc.cycle_project.c.id == project_id)
                .values(evaluations_per_year=per_year)
            )
            conn.execute(e.delete().where(e.c.project_id == project_id, e.c.done_at.is_(None)))
            eval_id = conn.execute(
                e.insert().values(project_id=project_id, due=due).returning(e.c.id)
            ).scalar_one()
            self._audit(
                conn, actor, "schedule", "cycle_evaluation", eval_id, per_year=per_year, due=due
            )
        return eval_id

    def record_evaluation(
        self,
        actor: Actor,
        project_id: int,
        *,
        verdict: str,
        summary: str,
        on: date | None = None,
    ) -> int:
        """Record an evaluation (verdict in :data:`kor.cycle.OUTCOMES`, a summary).

        The earliest open scheduled evaluation is marked done (or one is added for
        ``on``); with a schedule, the next one is due ``12 / per_year`` months later
        (:func:`kor.cycle.next_evaluation_due`). Returns the evaluation's id.
        """
        if verdict not in cycle.OUTCOMES:
            raise ValidationError(
                "error.bad_choice", field="verdict", choices=", ".join(cycle.OUTCOMES)
            )
        summary = _text(summary, "summary")
        on = _date(on) or date.today()
        e = sc.cycle_evaluation
        with self.engine.begin() as conn:
            row = self._check_project(conn, actor, project_id, edit=True)
            open_id = conn.execute(
                sa.select(e.c.id)
                .where(e.c.project_id == project_id, e.c.done_at.is_(None))
                .order_by(e.c.due)
                .limit(1)
            ).scalar()
            done = {"done_at": _now(), "done_by": actor.username, "verdict": verdict,
                    "summary": summary}  # fmt: skip
            if open_id is None:
                taken = conn.execute(
                    sa.select(e.c.id).where(e.c.project_id == project_id, e.c.due == on)
                ).scalar()
                if taken is not None:  # one evaluation a day: the schedule's key
                    raise ValidationError("cycle.evaluation.same_day", field="on")
                open_id = conn.execute(
                    e.insert().values(project_id=project_id, due=on, **done).returning(e.c.id)
                ).scalar_one()
            else:
                conn.execute(e.update().where(e.c.id == open_id).values(**done))
            if row.evaluations_per_year:
                due = cycle.next_evaluation_due(on, row.evaluations_per_year)
                exists = conn.execute(
                    sa.select(e.c.id).where(e.c.project_id == project_id, e.c.due == due)
                ).scalar()
                if exists is None:
                    conn.execute(e.insert().values(project_id=project_id, due=due))
            self._audit(conn, actor, "evaluate", "cycle_evaluation", open_id, verdict=verdict)
        return open_id

    def overdue_evaluations(self, actor: Actor, *, today: date | None = None) -> pd.DataFrame:
        """Evaluations past due and not done, for the project list and the quality dashboard.

        Columns: ``project_id``, ``title``, ``teams``, ``due``, ``days_overdue``; only
        projects the actor may read.
        """
        projects = self.projects(actor, today=today)
        late = projects.loc[projects["overdue"]]
        return pd.DataFrame(
            {
                "project_id": late["id"],
                "title": late["title"],
                "teams": late["teams"],
                "due": late["next_due"],
                "days_overdue": late["days_overdue"],
            }
        ).reset_index(drop=True)
