"""Store methods for «Bruker spør bruker» surveys (mixed into :class:`kor.store.Store`).

A survey is one round (``baseline`` or ``follow_up``) of one service, answered with one
questionnaire. Responses are anonymous; an interview entered in the app is a *draft*
until the interviewer finishes it, so it can be resumed section by section. Imported
files land in one transaction (all rows or none) and importing the same file twice adds
nothing. Free text is stored as a comment, not approved, and only approved comments can
leave the workbench (:meth:`survey_comments` with ``approved_only=True`` is what every
export uses; a researcher never sees anything else).

Who may do what: every role except researcher enters interviews (an interviewer with
lived experience is registered with the clinician role); team leads, quality leads and
admins create surveys, import, and code and approve comments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from kor.access import Actor, require_role
from kor.errors import ConflictError, StoreError, ValidationError
from kor.pseudonyms import national_ids_in
from kor.store import schema_surveys as bs
from surveys.forms import RESPONDENTS, Questionnaire
from surveys.free_text import flag_kinds
from surveys.responses import ImportedResponses, check_answer, check_complete

__all__ = ["SurveyStoreMixin", "ROUNDS", "ENTRY_ROLES", "MANAGE_ROLES"]

ROUNDS: tuple[str, ...] = ("baseline", "follow_up")
ENTRY_ROLES: tuple[str, ...] = ("clinician", "team_lead", "quality_lead", "admin")
MANAGE_ROLES: tuple[str, ...] = ("team_lead", "quality_lead", "admin")
OTHER_THEME = ("annet", "Annet", "Other")


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


class SurveyStoreMixin:
    """Survey, questionnaire and response persistence (SQLAlchemy Core)."""

    # provided by Store
    engine: sa.Engine

    # ---------------------------------------------------------- questionnaires
    def save_questionnaire(self, actor: Actor, form: Questionnaire) -> int:
        """Store a validated form; returns its id. Saving the same form again returns the
        stored id; a different definition under the same name and version is refused."""
        require_role(actor, *MANAGE_ROLES)
        definition = form.to_json()
        q = bs.bsb_questionnaire
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(q.c.id, q.c.definition).where(
                    q.c.name == form.form_id, q.c.version == form.version
                )
            ).first()
            if row is not None:
                if json.loads(row.definition) != json.loads(definition):
                    raise StoreError(
                        "surveys.store.version_exists", name=form.form_id, version=form.version
                    )
                return row.id
            qid = conn.execute(
                q.insert()
                .values(
                    name=form.form_id,
                    version=form.version,
                    definition=definition,
                    created_at=_now(),
                )
                .returning(q.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "bsb_questionnaire", qid, name=form.form_id)
        return qid

    def questionnaire(self, actor: Actor, questionnaire_id: int) -> Questionnaire:
        """A stored form."""
        with self._read() as conn:
            text = conn.execute(
                sa.select(bs.bsb_questionnaire.c.definition).where(
                    bs.bsb_questionnaire.c.id == questionnaire_id
                )
            ).scalar()
        if text is None:
            raise ValidationError("error.not_found", field="questionnaire", what=questionnaire_id)
        return Questionnaire.from_json(text)

    # ------------------------------------------------------------------ surveys
    def create_survey(
        self,
        actor: Actor,
        *,
        service: str,
        round: str,
        title: str,
        questionnaire_id: int,
        start: date | None = None,
        end: date | None = None,
    ) -> int:
        """Open a survey round for a service; the form's sections become coding themes."""
        require_role(actor, *MANAGE_ROLES)
        if round not in ROUNDS:
            raise ValidationError("error.bad_choice", field="round", choices=", ".join(ROUNDS))
        if not service.strip() or not title.strip():
            raise ValidationError("error.required", field="service" if not service else "title")
        if start and end and end < start:
            raise ValidationError("error.date_before_start", field="end")
        form = self.questionnaire(actor, questionnaire_id)
        with self.engine.begin() as conn:
            sid = conn.execute(
                bs.bsb_survey.insert()
                .values(
                    service=service.strip(),
                    round=round,
                    title=title.strip(),
                    questionnaire_id=questionnaire_id,
                    start_date=start,
                    end_date=end,
                    created_by=actor.username,
                    created_at=_now(),
                )
                .returning(bs.bsb_survey.c.id)
            ).scalar_one()
            known = set(conn.execute(sa.select(bs.bsb_theme.c.code)).scalars())
            themes = [
                (k, v.get("nb", k), v.get("en", v.get("nb", k)))
                for k, v in form.themes().items()
                if k != "intro"
            ]
            for code, nb, en in [*themes, OTHER_THEME]:
                if code not in known:
                    conn.execute(bs.bsb_theme.insert().values(code=code, label_nb=nb, label_en=en))
                    known.add(code)
            self._audit(conn, actor, "create", "bsb_survey", sid, round=round)
        return sid

    def surveys(self, actor: Actor) -> pd.DataFrame:
        """Every survey with counts of complete user/staff interviews and open drafts.

        Columns: id, service, round, title, questionnaire_id, form_id, form_version,
        start_date, end_date, users, staff, drafts.
        """
        s, r, q = bs.bsb_survey, bs.bsb_response, bs.bsb_questionnaire

        def count(respondent: str | None, status: str) -> Any:
            cond = sa.and_(
                r.c.status == status, r.c.respondent == respondent if respondent else sa.true()
            )
            return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)

        stmt = (
            sa.select(
                s.c.id,
                s.c.service,
                s.c.round,
                s.c.title,
                s.c.questionnaire_id,
                q.c.name.label("form_id"),
                q.c.version.label("form_version"),
                s.c.start_date,
                s.c.end_date,
                count("user", "complete").label("users"),
                count("staff", "complete").label("staff"),
                count(None, "draft").label("drafts"),
            )
            .select_from(s.join(q).outerjoin(r, r.c.survey_id == s.c.id))
            .group_by(s.c.id, q.c.name, q.c.version)
            .order_by(s.c.service, s.c.start_date, s.c.id)
        )
        with self._read() as conn:
            frame = pd.DataFrame(
                conn.execute(stmt).mappings().all(),
                columns=[
                    "id",
                    "service",
                    "round",
                    "title",
                    "questionnaire_id",
                    "form_id",
                    "form_version",
                    "start_date",
                    "end_date",
                    "users",
                    "staff",
                    "drafts",
                ],
            )
        for col in ("users", "staff", "drafts"):
            frame[col] = frame[col].astype(int)
        return frame

    def survey_form(self, actor: Actor, survey_id: int) -> Questionnaire:
        """The questionnaire a survey uses."""
        with self._read() as conn:
            qid = conn.execute(
                sa.select(bs.bsb_survey.c.questionnaire_id).where(bs.bsb_survey.c.id == survey_id)
            ).scalar()
        if qid is None:
            raise ValidationError("error.not_found", field="survey", what=survey_id)
        return self.questionnaire(actor, qid)

    # ------------------------------------------------------------ interviews
    def start_response(
        self, actor: Actor, survey_id: int, respondent: str, *, interviewer: str | None = None
    ) -> int:
        """Begin an interview (a draft) of a user or a staff member; returns its id."""
        require_role(actor, *ENTRY_ROLES)
        if respondent not in RESPONDENTS:
            raise ValidationError(
                "error.bad_choice", field="respondent", choices=", ".join(RESPONDENTS)
            )
        self.survey_form(actor, survey_id)  # exists
        now = _now()
        with self.engine.begin() as conn:
            rid = conn.execute(
                bs.bsb_response.insert()
                .values(
                    survey_id=survey_id,
                    respondent=respondent,
                    interviewer=interviewer or actor.username,
                    status="draft",
                    source="entry",
                    started_at=now,
                    updated_at=now,
                    version=1,
                )
                .returning(bs.bsb_response.c.id)
            ).scalar_one()
            self._audit(conn, actor, "create", "bsb_response", rid, respondent=respondent)
        return rid

    def _response_row(self, conn: sa.Connection, response_id: int) -> Any:
        row = conn.execute(
            sa.select(bs.bsb_response, bs.bsb_survey.c.questionnaire_id)
            .select_from(bs.bsb_response.join(bs.bsb_survey))
            .where(bs.bsb_response.c.id == response_id)
        ).first()
        if row is None:
            raise ValidationError("error.not_found", field="response", what=response_id)
        return row

    def save_answers(
        self,
        actor: Actor,
        response_id: int,
        answers: Mapping[str, Any],
        *,
        finish: bool = False,
        version: int | None = None,
    ) -> int:
        """Autosave answers of a draft (a section at a time); ``None`` clears an answer.

        With ``finish=True`` the interview becomes complete, provided every required
        question has an answer («vet ikke» counts as one). Returns the new version; with
        ``version`` given, a concurrent edit raises :class:`~kor.errors.ConflictError`.
        """
        require_role(actor, *ENTRY_ROLES)
        with self.engine.begin() as conn:
            row = self._response_row(conn, response_id)
            if row.status != "draft":
                raise StoreError("surveys.store.response_complete")
            if version is not None and row.version != version:
                raise ConflictError("error.conflict")
            form = Questionnaire.from_json(
                conn.execute(
                    sa.select(bs.bsb_questionnaire.c.definition).where(
                        bs.bsb_questionnaire.c.id == row.questionnaire_id
                    )
                ).scalar_one()
            )
            checked = {
                q: check_answer(form, q, v, respondent=row.respondent) for q, v in answers.items()
            }
            self._write_answers(conn, response_id, checked)
            if finish:
                stored = self._answers_of(conn, response_id)
                missing = check_complete(form, row.respondent, stored)
                if missing:
                    raise ValidationError(
                        "surveys.answer.incomplete", count=len(missing), field=missing[0]
                    )
                broken = form.constraint_problems(row.respondent, stored)
                if broken:  # the form's constraint holds when finishing, not only on screen
                    name, reason = next(iter(broken.items()))
                    raise ValidationError(
                        "surveys.answer.constraint",
                        field=name,
                        question=form.question(name).label(),
                        reason=reason,
                    )
            new_version = row.version + 1
            conn.execute(
                bs.bsb_response.update()
                .where(bs.bsb_response.c.id == response_id)
                .values(
                    updated_at=_now(), version=new_version, status="complete" if finish else "draft"
                )
            )
            self._audit(
                conn,
                actor,
                "finish" if finish else "update",
                "bsb_response",
                response_id,
                answers=len(answers),
            )
        return new_version

    def _write_answers(
        self, conn: sa.Connection, response_id: int, checked: Mapping[str, Any]
    ) -> None:
        a, c = bs.bsb_answer, bs.bsb_comment
        existing = {
            r.question: r
            for r in conn.execute(
                sa.select(
                    a.c.id, a.c.question, c.c.id.label("comment_id"), c.c.text.label("comment_text")
                )
                .select_from(a.outerjoin(c, c.c.answer_id == a.c.id))
                .where(a.c.response_id == response_id)
            )
        }
        for question, answer in checked.items():
            old = existing.get(question)
            if answer is None:
                if old is not None:
                    if old.comment_id is not None:
                        conn.execute(c.delete().where(c.c.id == old.comment_id))
                    conn.execute(a.delete().where(a.c.id == old.id))
                continue
            text = None if answer.is_text else answer.text
            if old is None:
                answer_id = conn.execute(
                    a.insert()
                    .values(
                        response_id=response_id,
                        question=question,
                        value_text=text,
                        value_number=answer.number,
                    )
                    .returning(a.c.id)
                ).scalar_one()
            else:
                answer_id = old.id
                conn.execute(
                    a.update()
                    .where(a.c.id == old.id)
                    .values(value_text=text, value_number=answer.number)
                )
            if answer.is_text:
                if old is None or old.comment_id is None:
                    conn.execute(
                        c.insert().values(
                            answer_id=answer_id,
                            text=answer.text,
                            approved=False,
                            quote=False,
                            themes="[]",
                            version=1,
                        )
                    )
                elif old.comment_text != answer.text:
                    conn.execute(
                        c.update()
                        .where(c.c.id == old.comment_id)
                        .values(
                            text=answer.text, approved=False, quote=False, version=c.c.version + 1
                        )
                    )

    def _answers_of(self, conn: sa.Connection, response_id: int) -> dict[str, Any]:
        a, c = bs.bsb_answer, bs.bsb_comment
        rows = conn.execute(
            sa.select(a.c.question, a.c.value_text, c.c.text)
            .select_from(a.outerjoin(c, c.c.answer_id == a.c.id))
            .where(a.c.response_id == response_id)
        )
        return {r.question: r.text if r.text is not None else r.value_text for r in rows}

    def response(self, actor: Actor, response_id: int) -> dict[str, Any]:
        """One interview to resume: id, survey_id, respondent, status, version and
        ``answers`` (question -> stored value; multiple choice as a list of names)."""
        require_role(actor, *ENTRY_ROLES)
        with self._read() as conn:
            row = self._response_row(conn, response_id)
            answers = self._answers_of(conn, response_id)
            form = Questionnaire.from_json(
                conn.execute(
                    sa.select(bs.bsb_questionnaire.c.definition).where(
                        bs.bsb_questionnaire.c.id == row.questionnaire_id
                    )
                ).scalar_one()
            )
        for name, value in list(answers.items()):
            if form.has(name) and form.question(name).type == "select_multiple" and value:
                answers[name] = value.split()
        return {
            "id": row.id,
            "survey_id": row.survey_id,
            "respondent": row.respondent,
            "interviewer": row.interviewer,
            "status": row.status,
            "version": row.version,
            "answers": answers,
        }

    def drafts(self, actor: Actor, survey_id: int) -> pd.DataFrame:
        """Unfinished interviews of a survey (id, respondent, interviewer, started_at,
        updated_at, answered), newest first, so an interviewer can resume one."""
        require_role(actor, *ENTRY_ROLES)
        r, a = bs.bsb_response, bs.bsb_answer
        stmt = (
            sa.select(
                r.c.id,
                r.c.respondent,
                r.c.interviewer,
                r.c.started_at,
                r.c.updated_at,
                sa.func.count(a.c.id).label("answered"),
            )
            .select_from(r.outerjoin(a, a.c.response_id == r.c.id))
            .where(r.c.survey_id == survey_id, r.c.status == "draft")
            .group_by(r.c.id)
            .order_by(r.c.updated_at.desc(), r.c.id.desc())
        )
        with self._read() as conn:
            return pd.DataFrame(
                conn.execute(stmt).mappings().all(),
                columns=["id", "respondent", "interviewer", "started_at", "updated_at", "answered"],
            )

    # ------------------------------------------------------------------ import
    def import_responses(
        self, actor: Actor, survey_id: int, imported: ImportedResponses, *, source: str
    ) -> dict[str, int]:
        """Store a checked file (see :func:`surveys.responses.read_responses`) as complete
        responses, all in one transaction. Rows already imported (same export id, or the
        same row content) are skipped. Returns ``{"added": n, "unchanged": m}``."""
        require_role(actor, *MANAGE_ROLES)
        self.survey_form(actor, survey_id)
        r = bs.bsb_response
        by_row = {k: g for k, g in imported.answers.groupby("source_row")}
        added = unchanged = 0
        now = _now()
        with self.engine.begin() as conn:
            known = set(
                conn.execute(sa.select(r.c.external_id).where(r.c.survey_id == survey_id)).scalars()
            )
            for resp in imported.responses.itertuples(index=False):
                if resp.external_id in known:
                    unchanged += 1
                    continue
                known.add(resp.external_id)
                rid = conn.execute(
                    r.insert()
                    .values(
                        survey_id=survey_id,
                        respondent=resp.respondent,
                        interviewer=resp.interviewer,
                        status="complete",
                        source="import",
                        external_id=resp.external_id,
                        started_at=now,
                        updated_at=now,
                        version=1,
                    )
                    .returning(r.c.id)
                ).scalar_one()
                rows = by_row.get(resp.source_row)
                self._insert_imported(conn, rid, rows)
                added += 1
            self._audit(
                conn,
                actor,
                "import",
                "bsb_response",
                None,
                survey=survey_id,
                source=source,
                added=added,
                unchanged=unchanged,
            )
        return {"added": added, "unchanged": unchanged}

    def _insert_imported(
        self, conn: sa.Connection, response_id: int, rows: pd.DataFrame | None
    ) -> None:
        if rows is None:
            return
        a, c = bs.bsb_answer, bs.bsb_comment
        for ans in rows.itertuples(index=False):
            number = None if pd.isna(ans.value_number) else float(ans.value_number)
            is_text = number is None and ans.question in self._text_questions(conn, response_id)
            aid = conn.execute(
                a.insert()
                .values(
                    response_id=response_id,
                    question=ans.question,
                    value_text=None if is_text else ans.value_text,
                    value_number=number,
                )
                .returning(a.c.id)
            ).scalar_one()
            if is_text:
                conn.execute(
                    c.insert().values(
                        answer_id=aid,
                        text=ans.value_text,
                        approved=False,
                        quote=False,
                        themes="[]",
                        version=1,
                    )
                )

    def _text_questions(self, conn: sa.Connection, response_id: int) -> set[str]:
        cache = getattr(self, "_bsb_text_cache", None)
        qid = conn.execute(
            sa.select(bs.bsb_survey.c.questionnaire_id)
            .select_from(bs.bsb_survey.join(bs.bsb_response))
            .where(bs.bsb_response.c.id == response_id)
        ).scalar_one()
        if cache and cache[0] == qid:
            return cache[1]
        form = Questionnaire.from_json(
            conn.execute(
                sa.select(bs.bsb_questionnaire.c.definition).where(bs.bsb_questionnaire.c.id == qid)
            ).scalar_one()
        )
        names = {q.name for q in form.questions if q.type == "text"}
        self._bsb_text_cache = (qid, names)
        return names

    # ---------------------------------------------------------------- reading
    def survey_answers(self, actor: Actor, survey_ids: Iterable[int]) -> pd.DataFrame:
        """Answers of complete interviews, one row per answer (free text left out).

        Columns: response_id, survey_id, service, round, respondent, question, value_text,
        value_number. This is the frame :mod:`surveys.analysis` takes.
        """
        ids = [int(i) for i in survey_ids]
        r, a, s, c = bs.bsb_response, bs.bsb_answer, bs.bsb_survey, bs.bsb_comment
        stmt = (
            sa.select(
                r.c.id.label("response_id"),
                s.c.id.label("survey_id"),
                s.c.service,
                s.c.round,
                r.c.respondent,
                a.c.question,
                a.c.value_text,
                a.c.value_number,
            )
            .select_from(a.join(r).join(s).outerjoin(c, c.c.answer_id == a.c.id))
            .where(s.c.id.in_(ids), r.c.status == "complete", c.c.id.is_(None))
            .order_by(r.c.id, a.c.id)
        )
        with self._read() as conn:
            frame = pd.DataFrame(
                conn.execute(stmt).mappings().all(),
                columns=[
                    "response_id",
                    "survey_id",
                    "service",
                    "round",
                    "respondent",
                    "question",
                    "value_text",
                    "value_number",
                ],
            )
        frame["value_number"] = pd.to_numeric(frame["value_number"], errors="coerce").astype(float)
        return frame

    def survey_comments(
        self, actor: Actor, survey_ids: Iterable[int], *, approved_only: bool = False
    ) -> pd.DataFrame:
        """Free-text comments of complete interviews.

        Columns: comment_id, response_id, survey_id, round, respondent, question, text,
        approved, quote, themes (list of codes), version, national_ids (how many
        valid-looking national identity numbers the text holds: such a comment cannot be
        approved), flags (:func:`surveys.free_text.flag_kinds`: what may identify someone,
        for the coder to judge). Only those who code comments (:data:`MANAGE_ROLES`) see unapproved
        ones; every other role, and every export (``approved_only=True``), sees approved
        comments only.
        """
        ids = [int(i) for i in survey_ids]
        if actor.role not in MANAGE_ROLES:  # interviewers and researchers: approved text only
            approved_only = True
        r, a, s, c = bs.bsb_response, bs.bsb_answer, bs.bsb_survey, bs.bsb_comment
        stmt = (
            sa.select(
                c.c.id.label("comment_id"),
                r.c.id.label("response_id"),
                s.c.id.label("survey_id"),
                s.c.round,
                r.c.respondent,
                a.c.question,
                c.c.text,
                c.c.approved,
                c.c.quote,
                c.c.themes,
                c.c.version,
            )
            .select_from(c.join(a).join(r).join(s))
            .where(s.c.id.in_(ids), r.c.status == "complete")
            .order_by(a.c.question, r.c.respondent, c.c.id)
        )
        if approved_only:
            stmt = stmt.where(c.c.approved.is_(True))
        with self._read() as conn:
            frame = pd.DataFrame(
                conn.execute(stmt).mappings().all(),
                columns=[
                    "comment_id",
                    "response_id",
                    "survey_id",
                    "round",
                    "respondent",
                    "question",
                    "text",
                    "approved",
                    "quote",
                    "themes",
                    "version",
                ],
            )
        frame["themes"] = [json.loads(x) for x in frame["themes"]]
        frame["approved"] = frame["approved"].astype(bool)
        frame["quote"] = frame["quote"].astype(bool)
        frame["national_ids"] = frame["text"].map(national_ids_in).astype("int64")
        frame["flags"] = frame["text"].map(flag_kinds)
        return frame

    def code_comment(
        self,
        actor: Actor,
        comment_id: int,
        *,
        themes: Iterable[str],
        approved: bool,
        quote: bool = False,
        version: int | None = None,
    ) -> int:
        """Code a comment to themes, approve it (or not) for export, choose it as a quote.

        A quote must be approved. Returns the new version; ``version`` guards against a
        concurrent edit (:class:`~kor.errors.ConflictError`).
        """
        require_role(actor, *MANAGE_ROLES)
        codes = sorted(set(themes))
        if quote and not approved:
            raise ValidationError("surveys.comment.quote_not_approved", field="quote")
        c = bs.bsb_comment
        with self.engine.begin() as conn:
            known = set(conn.execute(sa.select(bs.bsb_theme.c.code)).scalars())
            unknown = [x for x in codes if x not in known]
            if unknown:
                raise ValidationError(
                    "surveys.comment.unknown_theme", field="themes", theme=unknown[0]
                )
            row = conn.execute(sa.select(c.c.version, c.c.text).where(c.c.id == comment_id)).first()
            if row is None:
                raise ValidationError("error.not_found", field="comment", what=comment_id)
            if version is not None and row.version != version:
                raise ConflictError("error.conflict")
            if approved and national_ids_in(row.text):  # flagged on the way in: never leaves
                raise ValidationError("surveys.comment.national_id", field="approved")
            conn.execute(
                c.update()
                .where(c.c.id == comment_id)
                .values(
                    themes=json.dumps(codes),
                    approved=bool(approved),
                    quote=bool(quote),
                    coded_by=actor.username,
                    version=row.version + 1,
                )
            )
            self._audit(
                conn, actor, "code", "bsb_comment", comment_id, approved=approved, themes=len(codes)
            )
        return row.version + 1

    def approve_comments(self, actor: Actor, comment_ids: Iterable[int]) -> int:
        """Approve several coded comments at once (bulk approval of a theme); returns how
        many changed.

        Themes and quote choices stay as coded; comments already approved are left alone.
        All or nothing, in one transaction with an audit row per comment: if any comment
        holds a national identity number (as :meth:`code_comment`, it can never be
        approved) or does not exist, nothing is approved. Choosing which comments to
        pass is :func:`surveys.free_text.bulk_approvable` (it leaves out comments that
        may name someone, so the coder judges those one by one).
        """
        require_role(actor, *MANAGE_ROLES)
        ids = sorted({int(i) for i in comment_ids})
        if not ids:
            return 0
        c = bs.bsb_comment
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(c.c.id, c.c.version, c.c.text, c.c.approved).where(c.c.id.in_(ids))
            ).all()
            if len(rows) != len(ids):
                missing = sorted(set(ids) - {r.id for r in rows})[0]
                raise ValidationError("error.not_found", field="comment", what=missing)
            if any(national_ids_in(r.text) for r in rows):  # never leaves the workbench
                raise ValidationError("surveys.comment.national_id", field="approved")
            changed = 0
            for r in rows:
                if r.approved:
                    continue
                conn.execute(
                    c.update()
                    .where(c.c.id == r.id, c.c.version == r.version)
                    .values(approved=True, coded_by=actor.username, version=r.version + 1)
                )
                self._audit(conn, actor, "approve", "bsb_comment", r.id, bulk=True)
                changed += 1
        return changed

    def themes(self, actor: Actor) -> pd.DataFrame:
        """Coding themes: code, label_nb, label_en (form sections plus «annet»)."""
        with self._read() as conn:
            return pd.DataFrame(
                conn.execute(
                    sa.select(
                        bs.bsb_theme.c.code, bs.bsb_theme.c.label_nb, bs.bsb_theme.c.label_en
                    ).order_by(bs.bsb_theme.c.id)
                )
                .mappings()
                .all(),
                columns=["code", "label_nb", "label_en"],
            )

    def add_theme(self, actor: Actor, code: str, label_nb: str, label_en: str | None = None) -> int:
        """A new coding theme (team leads, quality leads, admins)."""
        require_role(actor, *MANAGE_ROLES)
        if not code.strip() or not label_nb.strip():
            raise ValidationError("error.required", field="theme")
        with self.engine.begin() as conn:
            try:
                tid = conn.execute(
                    bs.bsb_theme.insert()
                    .values(
                        code=code.strip(),
                        label_nb=label_nb.strip(),
                        label_en=(label_en or label_nb).strip(),
                    )
                    .returning(bs.bsb_theme.c.id)
                ).scalar_one()
            except sa.exc.IntegrityError:
                raise ValidationError("surveys.comment.theme_exists", field="theme") from None
            self._audit(conn, actor, "create", "bsb_theme", tid)
        return tid
