"""The improvement-cycle app: projects through the five phases, SMART goals on live data.

Project list (overdue evaluations marked), a new project, per-phase tabs with large
checkboxes, notes and decisions, moving on (showing what is not done), members, the
SMART goal editor (baseline from the data), the change log, the goal's chart with the
change log as annotations and the verdict, the evaluation schedule and the report.
Handlers call :mod:`kor.store` / :mod:`kor.cycle` and render; nothing is computed here.
"""

from __future__ import annotations

import base64
import html
from datetime import date
from typing import Any

import ipywidgets as w

from kor import cycle
from kor.access import Actor
from kor.cycle_report import project_report
from kor.errors import ValidationError
from kor.i18n import get_language, t
from kor.store import Store, open_store
from widgets.common import (
    LARGE,
    FramedApp,
    acting_user,
    chart_box,
    guarded,
    message,
)

__all__ = ["cycle_app", "CycleApp"]

_CSS = (
    "<style>.kor-check input[type=checkbox]{width:28px;height:28px;margin-right:10px}"
    ".kor-check{min-height:44px;align-items:center}.kor-check label{font-size:1.05em}"
    ".kor-overdue{color:#a11d1d;font-weight:bold}"
    "table.kor-projects td,table.kor-projects th{padding:6px 10px;text-align:left}</style>"
)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _button(key: str, style: str = "", cls: str = "") -> w.Button:
    b = w.Button(description=t(key), button_style=style, layout=w.Layout(min_height="48px"))
    if cls:
        b.add_class(cls)
    return b


class CycleApp(FramedApp):
    """State and rendering of the cycle app (see :func:`cycle_app`)."""

    def __init__(self, store: Store, actor: Actor, today: date | None = None) -> None:
        self.store = store
        self.actor = actor
        self.today = today or date.today()
        self.project_id: int | None = None
        self.editable = actor.role in cycle.EDIT_ROLES
        self.frame(css=_CSS, max_width="1100px")
        self.render()

    # ------------------------------------------------------------------ rendering
    def render(self) -> None:
        @guarded(self.show)
        def run() -> None:
            parts: list[w.Widget] = [
                w.HTML(f"<h2>{t('cycle.app.title')}</h2><p>{t('cycle.app.intro')}</p>"),
                self._project_list(),
            ]
            if self.editable:
                parts.append(self._new_project())
            if self.project_id is not None:
                parts.append(self._project_view())
            self.body.children = parts

        run()

    def _project_list(self) -> w.Widget:
        rows = self.store.projects(self.actor, today=self.today).to_dict("records")
        if not rows:
            table = w.HTML(f"<p>{t('cycle.app.no_projects')}</p>")
            return w.VBox([w.HTML(f"<h3>{t('cycle.app.projects')}</h3>"), table])
        head = "".join(
            f"<th>{t(k)}</th>"
            for k in (
                "cycle.app.project_title",
                "label.team",
                "cycle.app.phase",
                "cycle.app.next_evaluation",
            )
        )
        body = []
        for r in rows:
            due = _e(r["next_due"] or "–")
            if r["overdue"]:
                due = (
                    f'<span class="kor-overdue">⚠ {due} – '
                    f"{_e(t('cycle.app.overdue', days=r['days_overdue']))}</span>"
                )
            phase = cycle.phase(r["phase"]).name()
            if r["status"] == "closed":
                phase += f" ({t('cycle.status.closed')})"
            body.append(
                f"<tr><td>{_e(r['title'])}</td><td>{_e(r['teams'])}</td>"
                f"<td>{_e(phase)}</td><td>{due}</td></tr>"
            )
        table = w.HTML(f'<table class="kor-projects"><tr>{head}</tr>{"".join(body)}</table>')
        picker = w.Dropdown(
            options=[(r["title"], r["id"]) for r in rows],
            value=self.project_id if self.project_id in [r["id"] for r in rows] else None,
            description=t("cycle.app.choose"),
            layout=w.Layout(min_height="40px", width="60%"),
            style={"description_width": "initial"},
        ).add_class("kor-cycle-pick")
        open_button = _button("cycle.app.open", "primary", "kor-cycle-open")

        @guarded(self.show)
        def on_open(_: Any) -> None:
            if picker.value is not None:
                self.project_id = picker.value
                self.flash.children = []
                self.render()

        open_button.on_click(on_open)
        return w.VBox(
            [w.HTML(f"<h3>{t('cycle.app.projects')}</h3>"), table, w.HBox([picker, open_button])]
        )

    def _new_project(self) -> w.Widget:
        title = w.Text(placeholder=t("cycle.app.project_title"), layout=LARGE).add_class(
            "kor-cycle-title"
        )
        teams = self.store.cycle_team_choices(self.actor)
        boxes = [
            w.Checkbox(value=len(teams) == 1, description=f"{code} – {name}", indent=False)
            .add_class("kor-check")
            .add_class(f"kor-team-{code}")
            for code, name in teams
        ]
        create = _button("cycle.app.create", "success", "kor-cycle-create")

        @guarded(self.show)
        def on_create(_: Any) -> None:
            chosen = [code for (code, _), box in zip(teams, boxes, strict=True) if box.value]
            self.project_id = self.store.create_project(self.actor, title.value, chosen)
            self.render()
            self.say("cycle.app.created", title=title.value)

        create.on_click(on_create)
        return w.Accordion(
            children=[w.VBox([title, w.HTML(t("label.team")), *boxes, create])],
            titles=(t("cycle.app.new_project"),),
            selected_index=None,
        )

    # ------------------------------------------------------------------ one project
    def _project_view(self) -> w.Widget:
        p = self.store.project(self.actor, self.project_id)
        index = cycle.PHASE_CODES.index(p.phase)
        state = (
            t("cycle.status.closed")
            if p.status == "closed"
            else t("cycle.app.phase_of", number=index + 1, total=len(cycle.PHASES))
        )
        header = w.HTML(
            f"<h2>{_e(p.title)}</h2>"
            f"<p>{_e(t('label.team'))}: {_e(', '.join(p.teams))} · "
            f"<strong class='kor-cycle-phase'>{_e(state)}: "
            f"{_e(cycle.phase(p.phase).name())}</strong></p>"
        ).add_class("kor-cycle-project")
        tabs = w.Tab(
            children=[self._phase_tab(p, ph.code) for ph in cycle.PHASES],
            titles=tuple(f"{i + 1}. {ph.name()}" for i, ph in enumerate(cycle.PHASES)),
            selected_index=index,
        )
        sections = [
            header,
            self._advance(p),
            tabs,
            self._members(p),
            self._goal_section(p),
            self._changes(p),
            self._evaluations(p),
            self._report(p),
        ]
        return w.VBox(sections, layout=w.Layout(border_top="2px solid #ccc", padding="8px 0"))

    def _phase_tab(self, p: cycle.Project, code: str) -> w.Widget:
        rows = p.items(code)
        checks = []
        for r in rows:
            box = w.Checkbox(
                value=bool(r["done"]),
                description=cycle.item_text(r),
                indent=False,
                disabled=not self.editable,
                layout=w.Layout(width="auto"),
            ).add_class("kor-check")

            def on_tick(change: dict[str, Any], item_id: int = r["id"]) -> None:
                @guarded(self.show)
                def run() -> None:
                    try:
                        self.store.set_checklist_item(self.actor, item_id, change["new"])
                    except ValidationError as exc:  # refused: the box goes back, one message
                        self.render()
                        self.show(message(exc.message(), "error"))
                        return
                    self.say("cycle.app.saved")

                run()

            box.observe(on_tick, names="value")
            checks.append(box)
        notes = [
            w.HTML(
                f"<p><strong>{_e(t('cycle.kind.' + n['kind']))}</strong> "
                f"({_e(n['author'])}, {_e(str(n['at'])[:16])}): {_e(n['text'])}</p>"
            )
            for n in p.notes
            if n["phase"] == code
        ]
        parts: list[w.Widget] = [w.HTML(f"<h4>{t('cycle.app.checklist')}</h4>"), *checks]
        if self.editable:
            item = w.Text(placeholder=t("cycle.app.new_item"), layout=LARGE)
            add_item = _button("cycle.app.add_item")

            @guarded(self.show)
            def on_add_item(_: Any) -> None:
                self.store.add_checklist_item(self.actor, p.id, code, item.value)
                self.render()

            add_item.on_click(on_add_item)
            parts.append(w.HBox([item, add_item]))
        parts += [w.HTML(f"<h4>{t('cycle.app.notes')}</h4>"), *notes]
        if self.editable:
            text = w.Textarea(placeholder=t("cycle.app.note_text"), layout=w.Layout(width="80%"))
            kind = w.ToggleButtons(
                options=[(t(f"cycle.kind.{k}"), k) for k in cycle.NOTE_KINDS], value="note"
            )
            add_note = _button("cycle.app.add_note")

            @guarded(self.show)
            def on_add_note(_: Any) -> None:
                self.store.add_note(self.actor, p.id, code, text.value, kind=kind.value)
                self.render()

            add_note.on_click(on_add_note)
            parts += [text, w.HBox([kind, add_note])]
        return w.VBox(parts).add_class(f"kor-phase-{code}")

    def _advance(self, p: cycle.Project) -> w.Widget:
        if not self.editable or p.status == "closed":
            return w.VBox()
        last = cycle.next_phase(p.phase) is None
        go = _button(
            "cycle.app.close_project" if last else "cycle.app.advance", "primary", "kor-advance"
        )
        extra = w.VBox()

        @guarded(self.show)
        def on_go(_: Any) -> None:
            try:
                self.store.advance_phase(self.actor, p.id, version=p.version)
            except cycle.PhaseNotDone as exc:
                decision = w.Textarea(
                    placeholder=t("cycle.app.decision_text"), layout=w.Layout(width="80%")
                ).add_class("kor-force-decision")
                force = _button("cycle.app.force", "warning", "kor-force")

                @guarded(self.show)
                def on_force(_: Any) -> None:
                    self.store.advance_phase(
                        self.actor, p.id, version=p.version, force=True, decision=decision.value
                    )
                    self.render()
                    self.say("cycle.app.advanced")

                force.on_click(on_force)
                self.show(message(exc.message(), "error"))  # replaces an old success
                extra.children = [decision, force]
                return
            self.render()
            self.say("cycle.app.advanced")

        go.on_click(on_go)
        return w.VBox([go, extra])

    def _members(self, p: cycle.Project) -> w.Widget:
        items = "".join(
            f"<li>{_e(m['name'])} – {_e(t('cycle.role.' + m['role']))}</li>" for m in p.members
        )
        parts: list[w.Widget] = [
            w.HTML(f"<h3>{t('cycle.app.members')}</h3><ul>{items}</ul>" if items else
                   f"<h3>{t('cycle.app.members')}</h3><p>{t('cycle.app.none')}</p>")
        ]  # fmt: skip
        if self.editable:
            name = w.Text(placeholder=t("cycle.app.member_name"), layout=LARGE)
            role = w.Dropdown(
                options=[(t(f"cycle.role.{r}"), r) for r in cycle.MEMBER_ROLES],
                value="member",
                layout=LARGE,
            )
            add = _button("cycle.app.add_member")

            @guarded(self.show)
            def on_add(_: Any) -> None:
                self.store.add_member(self.actor, p.id, name.value, role.value)
                self.render()

            add.on_click(on_add)
            parts.append(w.HBox([name, role, add]))
        return w.VBox(parts)

    # ------------------------------------------------------------------ goal
    def _goal_section(self, p: cycle.Project) -> w.Widget:
        goal = p.goals[-1] if p.goals else None
        start0, end0, deadline0 = cycle.default_goal_dates(self.today)
        style = {"description_width": "180px"}
        measure = w.Dropdown(
            options=[(m.label(), k) for k, m in cycle.GOAL_MEASURES.items()],
            value=goal["measure"] if goal else "pct_sessions_with_alliance",
            description=t("cycle.app.measure"),
            style=style,
            layout=w.Layout(width="600px", min_height="40px"),
        ).add_class("kor-goal-measure")
        team = w.Dropdown(
            options=list(p.teams),
            value=goal["team"] if goal and goal["team"] in p.teams else p.teams[0],
            description=t("label.team"),
            style=style,
            layout=LARGE,
        ).add_class("kor-goal-team")
        start = w.DatePicker(
            value=goal["period_start"] if goal else start0,
            description=t("cycle.app.period_start"),
            style=style,
        ).add_class("kor-goal-start")
        end = w.DatePicker(
            value=goal["period_end"] if goal else end0,
            description=t("cycle.app.period_end"),
            style=style,
        ).add_class("kor-goal-end")
        baseline_out = w.HTML(
            t("cycle.app.baseline_is", value=cycle._fmt(goal["baseline"])) if goal else ""
        ).add_class("kor-goal-baseline")
        target = w.FloatText(
            value=goal["target"] if goal and goal["target"] is not None else 0.0,
            description=t("cycle.app.target"),
            style=style,
            layout=LARGE,
        ).add_class("kor-goal-target")
        deadline = w.DatePicker(
            value=goal["deadline"] if goal and goal["deadline"] else deadline0,
            description=t("cycle.app.deadline"),
            style=style,
        ).add_class("kor-goal-deadline")
        compute = _button("cycle.app.compute_baseline", "", "kor-goal-compute")
        save = _button("cycle.app.save_goal", "success", "kor-goal-save")

        @guarded(self.show)
        def on_compute(_: Any) -> None:
            value = self.store.goal_baseline(
                self.actor, measure.value, team.value, start.value, end.value
            )
            baseline_out.value = (
                t("cycle.app.baseline_is", value=cycle._fmt(value))
                if value is not None
                else t("cycle.smart.M.no_baseline")
            )

        @guarded(self.show)
        def on_save(_: Any) -> None:
            self.store.set_goal(
                self.actor,
                p.id,
                measure=measure.value,
                team=team.value,
                period_start=start.value,
                period_end=end.value,
                target=target.value,
                deadline=deadline.value,
                goal_id=goal["id"] if goal else None,
                version=goal["version"] if goal else None,
            )
            self.render()
            self.say("cycle.app.goal_saved")

        compute.on_click(on_compute)
        save.on_click(on_save)
        parts: list[w.Widget] = [w.HTML(f"<h3>{t('cycle.app.goal')}</h3>")]
        if self.editable:
            parts += [measure, team, start, end, w.HBox([compute, baseline_out]), target,
                      deadline, save]  # fmt: skip
        if goal:
            parts.append(self._smart(goal))
            if self.editable:
                parts.append(self._agree(goal))
            parts.append(self._goal_chart(goal))
        return w.VBox(parts)

    def _smart(self, goal: dict[str, Any]) -> w.Widget:
        rows = "".join(
            f"<tr><td>{'✅' if ok else '❌'}</td><td><strong>{letter}</strong> – "
            f"{_e(t('cycle.smart.letter.' + letter))}</td><td>{_e(t(key))}</td></tr>"
            for letter, (ok, key) in cycle.smart_check(goal).items()
        )
        agreed = (
            t("cycle.app.agreed_line", who=goal["agreed_by"], at=str(goal["agreed_at"])[:16])
            if goal["agreed_by"]
            else ""
        )
        return w.HTML(
            f'<h4>{t("cycle.app.smart")}</h4><table class="kor-projects kor-smart">{rows}</table>'
            f"<p>{_e(agreed)}</p>"
        )

    def _agree(self, goal: dict[str, Any]) -> w.Widget:
        who = w.Text(placeholder=t("cycle.app.agreed_by"), layout=w.Layout(width="60%",
                     min_height="48px")).add_class("kor-goal-agreed")  # fmt: skip
        agree = _button("cycle.app.agree", "", "kor-goal-agree")

        @guarded(self.show)
        def on_agree(_: Any) -> None:
            self.store.agree_goal(self.actor, goal["id"], who.value, version=goal["version"])
            self.render()
            self.say("cycle.app.saved")

        agree.on_click(on_agree)
        return w.HBox([who, agree])

    def _goal_chart(self, goal: dict[str, Any]) -> w.Widget:
        out = w.VBox()

        @guarded(lambda widget: setattr(out, "children", [widget]))
        def run() -> None:
            ev = self.store.goal_evaluation(self.actor, goal["id"], today=self.today)
            self._verdict = ev.outcome
            ax = ev.plot()
            out.children = [
                w.HTML(f"<h4>{t('cycle.app.chart')}</h4>"),
                chart_box(
                    ax,
                    f"forbedring-maal-{goal['id']}",
                    alt=t("a11y.chart.goal", verdict=ev.text()),
                ),
                message(ev.text(), "success" if ev.outcome == "improved" else "info"),
            ]
            import matplotlib.pyplot as plt

            plt.close(ax.figure)

        run()
        return out

    # ------------------------------------------------------------------ change log
    def _changes(self, p: cycle.Project) -> w.Widget:
        items = "".join(
            f"<li>{_e(c['change_date'])}: {_e(c['text'])} ({_e(c['author'])})</li>"
            for c in p.changes
        )
        parts: list[w.Widget] = [
            w.HTML(
                f"<h3>{t('cycle.app.changes')}</h3><p>{t('cycle.app.changes_intro')}</p>"
                + (f"<ul class='kor-changes'>{items}</ul>" if items else "")
            )
        ]
        if self.editable:
            when = w.DatePicker(value=self.today, description=t("cycle.app.change_date"))
            when.add_class("kor-change-date")
            text = w.Text(placeholder=t("cycle.app.change_text"), layout=w.Layout(
                width="60%", min_height="48px")).add_class("kor-change-text")  # fmt: skip
            add = _button("cycle.app.add_change", "", "kor-change-add")

            @guarded(self.show)
            def on_add(_: Any) -> None:
                self.store.add_change(self.actor, p.id, when.value, text.value)
                self.render()
                self.say("cycle.app.saved")

            add.on_click(on_add)
            parts += [when, w.HBox([text, add])]
        return w.VBox(parts)

    # ------------------------------------------------------------------ evaluations
    def _evaluations(self, p: cycle.Project) -> w.Widget:
        items = "".join(
            f"<li>{_e(e['due'])}: "
            + (
                _e(t(f"cycle.verdict.{e['verdict']}")) + f" – {_e(e['summary'])}"
                if e["done_at"]
                else _e(t("cycle.app.not_done"))
            )
            + "</li>"
            for e in p.evaluations
        )
        parts: list[w.Widget] = [
            w.HTML(
                f"<h3>{t('cycle.app.evaluations')}</h3><p>{t('cycle.app.evaluations_intro')}"
                f"</p><ul>{items}</ul>"
            )  # fmt: skip
        ]
        if self.editable:
            per_year = w.ToggleButtons(
                options=[(t("cycle.app.once_a_year"), 1), (t("cycle.app.twice_a_year"), 2)],
                value=p.evaluations_per_year or 1,
            )
            first = w.DatePicker(
                value=cycle.next_evaluation_due(self.today, 2),
                description=t("cycle.app.first_due"),
            )
            schedule = _button("cycle.app.schedule")
            summary = w.Textarea(placeholder=t("cycle.app.summary"), layout=w.Layout(width="80%"))
            record = _button("cycle.app.record_evaluation")

            @guarded(self.show)
            def on_schedule(_: Any) -> None:
                self.store.schedule_evaluations(
                    self.actor, p.id, per_year=per_year.value, first_due=first.value
                )
                self.render()
                self.say("cycle.app.saved")

            @guarded(self.show)
            def on_record(_: Any) -> None:
                verdict = getattr(self, "_verdict", None) or "no_signal"
                self.store.record_evaluation(
                    self.actor, p.id, verdict=verdict, summary=summary.value, on=self.today
                )
                self.render()
                self.say("cycle.app.saved")

            schedule.on_click(on_schedule)
            record.on_click(on_record)
            parts += [w.HBox([per_year, first, schedule]), summary, record]
        return w.VBox(parts)

    # ------------------------------------------------------------------ report
    def _report(self, p: cycle.Project) -> w.Widget:
        links = w.HTML().add_class("kor-report-links")
        make = _button("cycle.app.make_report", "info", "kor-report")

        @guarded(self.show)
        def on_make(_: Any) -> None:
            report = project_report(self.store, self.actor, p.id, today=self.today,
                                    language=get_language())  # fmt: skip
            files = (
                ("html", "text/html", report.to_html().encode("utf-8"), "cycle.app.report_html"),
                ("pdf", "application/pdf", report.to_pdf(), "cycle.app.report_pdf"),
            )
            links.value = " ".join(
                f'<a download="forbedring-{p.id}.{ext}" class="kor-download" '
                f'href="data:{mime};base64,{base64.b64encode(data).decode()}">{_e(t(label))}</a>'
                for ext, mime, data, label in files
            )

        make.on_click(on_make)
        return w.VBox([w.HTML(f"<h3>{t('cycle.app.report')}</h3>"), w.HBox([make, links])])


def cycle_app(
    store: Store | None = None, actor: Actor | None = None, today: date | None = None
) -> w.Widget:
    """The improvement-cycle app: project list, phases, SMART goal, change log, chart, report."""
    store = store or open_store()
    actor = acting_user(store, actor)
    if isinstance(actor, w.Widget):  # not a user of the workbench: the refusal
        return actor
    app = CycleApp(store, actor, today=today)
    app.root.app = app  # tests reach the state through the widget
    return app.root
