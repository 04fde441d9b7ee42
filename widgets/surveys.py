"""The «Bruker spør bruker» app: interviews on a tablet, import, analysis, comments, report.

An interviewer (often with lived experience) picks or creates a survey in two taps
(the default questionnaire is built in), then interviews one section at a time with
large buttons for Likert answers and for a short numeric scale (0-10: one button per
value, so every value, the middle one too, is a tap; longer scales get a slider whose
value counts once «Ikke besvart» is unticked or the slider moved); every Next/Back saves
the section as a draft, so an interview can be resumed later. Finish completes it, or
lists the required questions still unanswered with their sections and offers a jump to
each section. Comments that may identify someone are marked for the coder
(:mod:`surveys.free_text`), and a theme's harmless comments can be approved at once. Quality
leads import exported responses, look at the analysis, code comments to themes, approve
the ones that may leave the workbench, and download the dialogue-conference report.

Handlers call :mod:`kor.store` and :mod:`surveys` and render; nothing is computed here.
"""

from __future__ import annotations

import base64
import html
from datetime import date
from typing import Any

import ipywidgets as w

from kor.access import Actor
from kor.errors import ImportFileError
from kor.i18n import get_language, t
from kor.store import Store, open_store
from surveys import analysis, plotting
from surveys.forms import Questionnaire, default_form
from surveys.free_text import bulk_approvable, find_identifying
from surveys.improvements import create_projects, propose_projects
from surveys.report import build_report, previous_survey
from surveys.responses import check_complete, read_responses
from widgets.common import (
    FramedApp,
    acting_user,
    chart_box,
    guarded,
    message,
)
from widgets.slider import WholeSlider

__all__ = ["surveys_app", "SurveysApp"]

_CSS = (
    "<style>.bsb-choice .widget-toggle-button{min-height:52px;min-width:120px;"
    "font-size:1.05em;white-space:normal;margin:3px}"
    ".bsb-choice .widget-toggle-button.mod-active,button.bsb-multi.mod-active"
    "{background:#0072B2;color:#fff;font-weight:600}"
    ".bsb-question{font-size:1.15em;margin-top:14px;font-weight:600}"
    ".bsb-note{background:#f3f6f9;padding:10px;border-left:4px solid #0072B2;"
    "font-style:italic}.bsb-skip input[type=checkbox]{width:26px;"
    "height:26px;margin-right:8px}.bsb-skip{min-height:44px;align-items:center}"
    ".bsb-nav button{min-height:56px;min-width:150px;font-size:1.1em}"
    "table.bsb-table td,table.bsb-table th{padding:4px 8px;border-bottom:1px solid #ddd}"
    ".bsb-comment{border:1px solid #ccc;padding:8px;margin:6px 0;border-radius:4px}"
    ".bsb-choice.bsb-scale .widget-toggle-button{min-width:58px}"
    ".bsb-comment mark{background:#ffe08a;padding:0 2px}</style>"
)
_VIEWS = ("interview", "import", "analysis", "comments", "report")
#: A numeric scale with at most this many values is a row of buttons, a longer one a slider.
_SCALE_BUTTONS = 11


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _button(key: str, style: str = "", cls: str = "", **params: Any) -> w.Button:
    b = w.Button(
        description=t(key, **params),
        button_style=style,
        layout=w.Layout(min_height="52px", width="auto"),
    )
    if cls:
        b.add_class(cls)
    return b


def _marked(text: str) -> str:
    """The comment escaped, with what may identify someone in <mark> (for the coder only)."""
    out, at = [], 0
    for f in find_identifying(text):
        out += [
            _e(text[at : f.start]),
            f"<mark class='bsb-flag-{f.kind}'>",
            _e(text[f.start : f.end]),
            "</mark>",
        ]
        at = f.end
    return "".join([*out, _e(text[at:])])


def _download(data: bytes, filename: str, mime: str, label: str, cls: str) -> str:
    return (
        f'<a download="{_e(filename)}" class="kor-download {cls}" '
        f'href="data:{mime};base64,{base64.b64encode(data).decode()}">{_e(label)}</a>'
    )


class SurveysApp(FramedApp):
    """State and rendering of the survey app (see :func:`surveys_app`)."""

    def __init__(self, store: Store, actor: Actor) -> None:
        self.store = store
        self.actor = actor
        self.view = "interview"
        self.survey_id: int | None = None
        self.form: Questionnaire | None = None
        self.response: dict[str, Any] | None = None
        self.section = 0
        self.controls: dict[str, Any] = {}
        self.creating = False
        self.frame(css=_CSS, max_width="1050px", classes=("bsb-app",))
        self.render()

    # ---------------------------------------------------------------- helpers
    @property
    def manager(self) -> bool:
        return self.actor.role in ("team_lead", "quality_lead", "admin")

    def render(self) -> None:
        @guarded(self.show)
        def run() -> None:
            self.body.children = self._page()

        run()

    def _page(self) -> list[w.Widget]:
        head = w.HTML(f"<h2>{_e(t('surveys.app.title'))}</h2><p>{_e(t('surveys.app.intro'))}</p>")
        if self.response is not None:
            return [head, self._interview()]
        parts: list[w.Widget] = [head, self._survey_picker()]
        if self.creating:
            parts.append(self._create_panel())
        if self.survey_id is None:
            return parts
        views = _VIEWS if self.manager else ("interview",)
        nav = w.ToggleButtons(
            options=[(t(f"surveys.view.{v}"), v) for v in views],
            value=self.view if self.view in views else "interview",
        )
        nav.add_class("bsb-views")

        def switch(change: dict[str, Any]) -> None:
            self.view = change["new"]
            self.flash.children = []
            self.render()

        nav.observe(switch, names="value")
        content = {
            "interview": self._start_panel,
            "import": self._import_panel,
            "analysis": self._analysis_panel,
            "comments": self._comments_panel,
            "report": self._report_panel,
        }[nav.value]()
        return [*parts, nav, content]

    # ---------------------------------------------------------- survey choice
    def _survey_picker(self) -> w.Widget:
        surveys = self.store.surveys(self.actor)
        options = [
            (
                t(
                    "surveys.app.survey_option",
                    title=r.title,
                    service=r.service,
                    round=t(f"surveys.round.{r.round}"),
                    users=r.users,
                    staff=r.staff,
                ),
                int(r.id),
            )
            for r in surveys.itertuples(index=False)
        ]
        if self.survey_id not in [v for _, v in options]:
            self.survey_id = options[-1][1] if options else None
            self.form = None
        picker = w.Dropdown(
            options=options,
            value=self.survey_id,
            description=t("surveys.app.survey"),
            layout=w.Layout(width="560px", min_height="44px"),
            style={"description_width": "110px"},
        )
        picker.add_class("bsb-survey-picker")

        def pick(change: dict[str, Any]) -> None:
            self.survey_id = change["new"]
            self.form = None
            self.render()

        picker.observe(pick, names="value")
        children: list[w.Widget] = (
            [picker] if options else [message(t("surveys.app.no_surveys"), "info")]
        )
        if self.manager:
            new = _button("surveys.app.new_survey", "", "bsb-new-survey")

            def toggle(_: Any) -> None:
                self.creating = not self.creating
                self.render()

            new.on_click(toggle)
            children.append(new)
        return w.HBox(children, layout=w.Layout(flex_flow="row wrap", align_items="center"))

    def _create_panel(self) -> w.Widget:
        year = date.today().year
        title = w.Text(
            value=t("surveys.app.default_title", year=year),
            description=t("surveys.app.survey_title"),
            style={"description_width": "110px"},
            layout=w.Layout(width="480px"),
        )
        teams = []
        try:
            teams = [code for code, _ in self.store.cycle_team_choices(self.actor)]
        except Exception:  # noqa: BLE001 - team list is a convenience; free text works too
            teams = []
        service = w.Combobox(
            value=self.actor.team or (teams[0] if teams else t("surveys.app.default_service")),
            options=teams,
            description=t("surveys.app.service"),
            style={"description_width": "110px"},
        )
        rnd = w.ToggleButtons(
            options=[
                (t("surveys.round.baseline"), "baseline"),
                (t("surveys.round.follow_up"), "follow_up"),
            ],
            value="baseline",
        )
        create = _button("surveys.app.create", "primary", "bsb-create")
        sample = _button("surveys.app.load_sample", "", "bsb-load-sample")

        @guarded(self.show)
        def do_create(_: Any) -> None:
            qid = self.store.save_questionnaire(self.actor, default_form())
            self.survey_id = self.store.create_survey(
                self.actor,
                service=service.value,
                round=rnd.value,
                title=title.value,
                questionnaire_id=qid,
                start=date.today(),
            )
            self.creating = False
            self.form = None
            self.view = "interview"
            self.say("surveys.app.created", title=title.value)
            self.render()

        @guarded(self.show)
        def do_sample(_: Any) -> None:
            from surveys.sample import load_sample

            ids = load_sample(self.store, self.actor, service=service.value or "VOP")
            self.survey_id = ids["follow_up"]
            self.creating = False
            self.form = None
            self.say("surveys.app.sample_loaded")
            self.render()

        create.on_click(do_create)
        sample.on_click(do_sample)
        box = w.VBox(
            [
                w.HTML(
                    f"<h3>{_e(t('surveys.app.new_survey'))}</h3>"
                    f"<p>{_e(t('surveys.app.default_form_note'))}</p>"
                ),
                title,
                service,
                rnd,
                w.HBox([create, sample]),
            ]
        )
        box.add_class("bsb-create-panel")
        return box

    def _current_form(self) -> Questionnaire:
        if self.form is None and self.survey_id is not None:
            self.form = self.store.survey_form(self.actor, self.survey_id)
        assert self.form is not None
        return self.form

    # -------------------------------------------------------------- interview
    def _start_panel(self) -> w.Widget:
        user = _button("surveys.interview.start_user", "primary", "bsb-start-user")
        staff = _button("surveys.interview.start_staff", "info", "bsb-start-staff")

        def starter(respondent: str) -> Any:
            @guarded(self.show)
            def start(_: Any) -> None:
                rid = self.store.start_response(self.actor, self.survey_id, respondent)
                self._open(rid)

            return start

        user.on_click(starter("user"))
        staff.on_click(starter("staff"))
        parts: list[w.Widget] = [
            w.HTML(f"<h3>{_e(t('surveys.interview.new'))}</h3>"),
            w.HBox([user, staff]),
        ]
        drafts = self.store.drafts(self.actor, self.survey_id)
        if len(drafts):
            parts.append(w.HTML(f"<h3>{_e(t('surveys.interview.drafts'))}</h3>"))
            for d in drafts.itertuples(index=False):
                b = _button(
                    "surveys.interview.resume",
                    "",
                    "bsb-resume",
                    respondent=t(f"surveys.respondent.{d.respondent}"),
                    when=f"{d.updated_at:%d.%m %H:%M}",
                    answered=d.answered,
                )

                @guarded(self.show)
                def resume(_: Any, rid: int = int(d.id)) -> None:
                    self._open(rid)

                b.on_click(resume)
                parts.append(b)
        return w.VBox(parts)

    def _open(self, response_id: int) -> None:
        self.response = self.store.response(self.actor, response_id)
        self.form = self.store.survey_form(self.actor, self.response["survey_id"])
        self.section = 0
        self.flash.children = []
        self.render()

    def _sections(self) -> list[Any]:
        assert self.response is not None
        return list(self._current_form().sections_for(self.response["respondent"]))

    def _interview(self) -> w.Widget:
        assert self.response is not None
        form = self._current_form()
        sections = self._sections()
        section = sections[self.section]
        respondent = self.response["respondent"]
        lang = get_language()
        header = w.HTML(
            f"<h3>{_e(t('surveys.interview.heading', respondent=t(f'surveys.respondent.{respondent}'), number=self.section + 1, total=len(sections), section=section.label(lang)))}</h3>"  # noqa: E501
        )
        header.add_class("bsb-section-heading")
        progress = w.IntProgress(
            value=self.section + 1, min=0, max=len(sections), layout=w.Layout(width="100%")
        )
        self.controls = {}
        items: list[w.Widget] = [header, progress]
        answers = self.response["answers"]
        self.holders: dict[str, tuple[w.Widget, w.Widget]] = {}
        for name in section.questions:
            q = form.question(name)
            if q.type == "note":
                note = w.HTML(f"<div class='bsb-note'>{_e(q.label(lang))}</div>")
                holder = w.VBox([note])
                self.holders[name] = (holder, w.HTML())
                items.append(holder)
                continue
            label = w.HTML(
                f"<div class='bsb-question'>{_e(q.label(lang))}{' *' if q.required else ''}</div>"
            )
            control = self._control(form, name, answers.get(name))
            check = w.HTML()  # the form's constraint message, when the answer breaks it
            check.add_class("bsb-constraint")
            holder = w.VBox([label, control, check])
            self.holders[name] = (holder, check)
            items.append(holder)
        self._watch_logic(form)
        back = _button("surveys.interview.back", "", "bsb-back")
        last = self.section == len(sections) - 1
        forward = (
            _button("surveys.interview.finish", "success", "bsb-finish")
            if last
            else _button("surveys.interview.next", "primary", "bsb-next")
        )
        pause = _button("surveys.interview.pause", "", "bsb-pause")
        back.disabled = self.section == 0

        @guarded(self.show)
        def go(step: int) -> None:
            self._save_section()
            self.section = max(0, min(len(sections) - 1, self.section + step))
            self.flash.children = []
            self.render()

        @guarded(self.show)
        def finish(_: Any) -> None:
            self._save_section()
            missing = check_complete(form, respondent, self.response["answers"])
            if missing:  # say what and where, offer the way there (the store checks again)
                self.show(self._missing_panel(missing))
                return
            self.store.save_answers(
                self.actor, self.response["id"], {}, finish=True, version=self.response["version"]
            )
            respondent_key = f"surveys.respondent.{self.response['respondent']}"
            self.response = None
            counts = self.store.surveys(self.actor)
            row = counts[counts["id"] == self.survey_id].iloc[0]
            self.say(
                "surveys.interview.finished",
                respondent=t(respondent_key),
                users=int(row["users"]),
                staff=int(row["staff"]),
            )
            self.render()

        @guarded(self.show)
        def pause_(_: Any) -> None:
            self._save_section()
            self.response = None
            self.say("surveys.interview.paused", kind="info")
            self.render()

        back.on_click(lambda _: go(-1))
        if last:
            forward.on_click(finish)
        else:
            forward.on_click(lambda _: go(1))
        pause.on_click(pause_)
        nav = w.HBox([back, forward, pause], layout=w.Layout(margin="18px 0 0 0"))
        nav.add_class("bsb-nav")
        items.append(nav)
        box = w.VBox(items)
        box.add_class("bsb-interview")
        return box

    def _missing_panel(self, missing: list[str]) -> w.Widget:
        """The required questions without an answer, each with its section, and one
        button per section that goes there."""
        form = self._current_form()
        lang = get_language()
        sections = self._sections()
        where = {n: i for i, s in enumerate(sections) for n in s.questions}
        lines = []
        jumps: list[tuple[int, w.Button]] = []
        for name in missing:
            index = where.get(name)
            if index is None:  # not on any page of this respondent: nothing to jump to
                continue
            section = sections[index]
            lines.append(
                t(
                    "surveys.interview.missing_item",
                    number=index + 1,
                    section=section.label(lang),
                    question=form.question(name).label(lang),
                )
            )
            if any(j == index for j, _ in jumps):
                continue
            b = _button(
                "surveys.interview.jump",
                "warning",
                "bsb-jump",
                number=index + 1,
                section=section.label(lang),
            )

            def jump(_: Any, index: int = index) -> None:
                self.section = index
                self.render()

            b.on_click(jump)
            jumps.append((index, b))
        box = w.VBox(
            [
                message(t("surveys.interview.missing", count=len(missing)), "error"),
                w.HTML(
                    "<ul class='bsb-missing'>"
                    + "".join(f"<li>{_e(x)}</li>" for x in lines)
                    + "</ul>"
                ),
                w.HBox([b for _, b in jumps], layout=w.Layout(flex_flow="row wrap")),
            ]
        )
        box.add_class("bsb-missing-panel")
        return box

    def _control(self, form: Questionnaire, name: str, current: Any) -> w.Widget:
        q = form.question(name)
        lang = get_language()
        if q.type == "select_one":
            options = [(c.label(lang), c.name) for c in form.choice_list(name)]
            control = w.ToggleButtons(
                options=options,
                value=current if current in [v for _, v in options] else None,
                style={"button_width": "auto"},
            )
            control.add_class("bsb-choice")
            control.add_class(f"bsb-q-{name}")
            self.controls[name] = ("single", control)
            return control
        if q.type == "select_multiple":
            chosen = set(current or [])
            toggles = []
            for c in form.choice_list(name):
                b = w.ToggleButton(
                    value=c.name in chosen,
                    description=c.label(lang),
                    layout=w.Layout(min_height="52px", width="auto"),
                )
                b.add_class("bsb-multi")
                toggles.append((c.name, b))
            self.controls[name] = ("multi", toggles)
            box = w.HBox([b for _, b in toggles], layout=w.Layout(flex_flow="row wrap"))
            box.add_class("bsb-choice")
            box.add_class(f"bsb-q-{name}")
            return box
        if q.type in ("range", "integer"):
            low, high = int(q.start or 0), int(q.end if q.end is not None else 10)
            answered = current not in (None, "")
            if (high - low) // int(q.step or 1) + 1 <= _SCALE_BUTTONS:
                return self._scale_control(name, low, high, int(q.step or 1), current)
            slider = WholeSlider(  # a native range input, named by its question
                value=int(float(current)) if answered else (low + high) // 2,
                min=low,
                max=high,
                step=int(q.step or 1),
                description=q.label(lang),
                layout=w.Layout(width="90%", min_height="56px"),
            )
            slider.add_class("bsb-slider")
            slider.add_class(f"bsb-q-{name}")
            skip = w.Checkbox(
                value=not answered, description=t("surveys.interview.not_answered"), indent=False
            )
            skip.add_class("bsb-skip")

            def touched(_: Any) -> None:
                skip.value = False

            slider.observe(touched, names="value")
            self.controls[name] = ("number", (slider, skip))
            return w.VBox([slider, skip])
        area = w.Textarea(
            value=current or "",
            placeholder=t("surveys.interview.text_hint"),
            layout=w.Layout(width="95%", height="90px"),
        )
        area.add_class(f"bsb-q-{name}")
        self.controls[name] = ("text", area)
        return area

    def _scale_control(self, name: str, low: int, high: int, step: int, current: Any) -> w.Widget:
        """One button per value (0-10): a tap on any value, the middle one too, answers;
        «Ikke besvart» is ticked while no value is chosen and clears the choice."""
        values = list(range(low, high + 1, step))
        chosen = int(float(current)) if current not in (None, "") else None
        buttons = w.ToggleButtons(
            options=[(str(v), v) for v in values],
            value=chosen if chosen in values else None,
            style={"button_width": "auto"},
        )
        buttons.add_class("bsb-choice")
        buttons.add_class("bsb-scale")
        buttons.add_class(f"bsb-q-{name}")
        skip = w.Checkbox(
            value=buttons.value is None,
            description=t("surveys.interview.not_answered"),
            indent=False,
        )
        skip.add_class("bsb-skip")

        def chose(change: dict[str, Any]) -> None:
            skip.value = change["new"] is None

        def cleared(change: dict[str, Any]) -> None:
            if change["new"]:
                buttons.value = None

        buttons.observe(chose, names="value")
        skip.observe(cleared, names="value")
        self.controls[name] = ("scale", (buttons, skip))
        return w.VBox([buttons, skip])

    def _watch_logic(self, form: Questionnaire) -> None:
        """Show only the questions the form asks given the answers so far (``relevant``)
        and each broken ``constraint``'s message; updated on every change on the page.
        The logic is the form's (:meth:`Questionnaire.relevant_names`)."""
        if not any(q.relevant or q.constraint for q in form.questions):
            return

        def refresh(_: Any = None) -> None:
            assert self.response is not None
            answers = {**self.response["answers"], **self._section_answers()}
            asked = form.relevant_names(answers)
            for name, (holder, check) in self.holders.items():
                holder.layout.display = "" if name in asked else "none"
                text = form.constraint_message(name, answers) if name in asked else None
                check.value = message(text, "error").value if text else ""

        for _kind, control in self.controls.values():
            parts = control if isinstance(control, (list, tuple)) else [control]
            for part in parts:
                widget = part[1] if isinstance(part, tuple) else part
                widget.observe(refresh, names="value")
        refresh()

    def _section_answers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, (kind, control) in self.controls.items():
            if kind == "single":
                out[name] = control.value
            elif kind == "multi":
                out[name] = [c for c, b in control if b.value] or None
            elif kind == "number":
                slider, skip = control
                out[name] = None if skip.value else slider.value
            elif kind == "scale":
                buttons, skip = control
                out[name] = None if skip.value else buttons.value
            else:
                out[name] = control.value.strip() or None
        return out

    def _save_section(self) -> None:
        assert self.response is not None
        answers = self._section_answers()
        version = self.store.save_answers(
            self.actor, self.response["id"], answers, version=self.response["version"]
        )
        self.response = self.store.response(self.actor, self.response["id"])
        self.response["version"] = version

    # ----------------------------------------------------------------- import
    def _import_panel(self) -> w.Widget:
        upload = w.FileUpload(
            accept=".csv,.txt,.xlsx",  # Nettskjema downloads data-<id>-<date>.txt
            multiple=False,
            description=t("surveys.import.choose"),
            layout=w.Layout(min_height="52px", width="auto"),
        )
        upload.add_class("bsb-upload")
        who = w.ToggleButtons(
            options=[
                (t("surveys.import.from_file"), ""),
                (t("surveys.respondent.user"), "user"),
                (t("surveys.respondent.staff"), "staff"),
            ],
            value="",
        )
        run = _button("surveys.import.run", "primary", "bsb-import")
        out = w.VBox()

        @guarded(self.show)
        def do_import(_: Any) -> None:
            if not upload.value:
                self.say("surveys.import.no_file", "error")
                return
            item = upload.value[0]
            form = self._current_form()
            try:
                imported = read_responses(
                    bytes(item["content"]), form, name=item["name"], respondent=who.value or None
                )
            except ImportFileError as exc:
                lines = "".join(f"<li>{_e(p.message())}</li>" for p in exc.problems[:200])
                out.children = [
                    message(t("surveys.import.failed", count=len(exc.problems)), "error"),
                    w.HTML(f"<ul class='bsb-problems'>{lines}</ul>"),
                ]
                return
            result = self.store.import_responses(
                self.actor, self.survey_id, imported, source=item["name"]
            )
            out.children = []
            self.say("surveys.import.done", added=result["added"], unchanged=result["unchanged"])

        run.on_click(do_import)
        return w.VBox([w.HTML(f"<p>{_e(t('surveys.import.intro'))}</p>"), upload, who, run, out])

    # --------------------------------------------------------------- analysis
    def _answers(self) -> tuple[Any, int | None]:
        previous = previous_survey(self.store.surveys(self.actor), self.survey_id)
        ids = [self.survey_id] + ([previous] if previous else [])
        return self.store.survey_answers(self.actor, ids), previous

    def _round(self) -> str:
        surveys = self.store.surveys(self.actor)
        return str(surveys.loc[surveys["id"] == self.survey_id, "round"].iloc[0])

    def _analysis_panel(self) -> w.Widget:
        form = self._current_form()
        answers, previous = self._answers()
        rnd = self._round()
        this = answers[answers["survey_id"] == self.survey_id]
        parts: list[w.Widget] = []
        if this.empty:
            return message(t("surveys.analysis.empty"), "info")
        dist = analysis.distributions(this, form)
        ax = plotting.likert_bars(
            dist[dist["respondent"] == "user"], form, title=t("surveys.report.chart_users")
        )
        parts.append(chart_box(ax, "bsb-brukere", alt=t("a11y.chart.bsb_users")))
        gap_table = analysis.gaps(this, form)
        parts.append(
            chart_box(
                plotting.gap_chart(gap_table, form, title=t("surveys.report.chart_gaps")),
                "bsb-forskjeller",
                alt=t("a11y.chart.bsb_gaps"),
            )
        )
        parts.append(
            w.HTML(
                f"<h3>{_e(t('surveys.analysis.largest_gaps'))}</h3>"
                + self._gap_rows(analysis.largest_gaps(gap_table), form)
            )
        )
        if previous is not None:
            change = analysis.changes(
                answers, form, respondent="user", before="baseline", after=rnd
            )
            parts.append(
                chart_box(
                    plotting.change_chart(change, form, title=t("surveys.report.chart_change")),
                    "bsb-endring",
                    alt=t("a11y.chart.bsb_change"),
                )
            )
            parts.append(
                w.HTML(
                    f"<h3>{_e(t('surveys.analysis.largest_improvements'))}</h3>"
                    + self._change_rows(analysis.largest_improvements(change), form)
                )
            )
        parts.append(w.HTML(f"<p><small>{_e(t('surveys.report.method_note'))}</small></p>"))
        box = w.VBox(parts)
        box.add_class("bsb-analysis")
        return box

    def _gap_rows(self, table: Any, form: Questionnaire) -> str:
        head = (
            f"<tr><th>#</th><th>{_e(t('surveys.col.question'))}</th>"
            f"<th>{_e(t('surveys.col.users'))}</th><th>{_e(t('surveys.col.staff'))}</th>"
            f"<th>{_e(t('surveys.col.gap'))}</th><th>{_e(t('surveys.col.ci'))}</th>"
            f"<th>{_e(t('surveys.col.p_adjusted'))}</th></tr>"
        )
        rows = "".join(
            f"<tr><td>{r.rank}</td><td>{_e(form.question(r.question).label())}</td>"
            f"<td>{r.mean_user:.1f}</td><td>{r.mean_staff:.1f}</td><td>{r.gap:+.1f}</td>"
            f"<td>{r.ci_low:+.1f}; {r.ci_high:+.1f}</td><td>{r.p_adjusted:.3f}</td></tr>"
            for r in table.itertuples(index=False)
        )
        return f"<table class='bsb-table bsb-gaps'>{head}{rows}</table>"

    def _change_rows(self, table: Any, form: Questionnaire) -> str:
        head = (
            f"<tr><th>#</th><th>{_e(t('surveys.col.question'))}</th>"
            f"<th>{_e(t('surveys.round.baseline'))}</th>"
            f"<th>{_e(t('surveys.round.follow_up'))}</th>"
            f"<th>{_e(t('surveys.col.change'))}</th>"
            f"<th>{_e(t('surveys.col.p_adjusted'))}</th></tr>"
        )
        rows = "".join(
            f"<tr><td>{r.rank}</td><td>{_e(form.question(r.question).label())}</td>"
            f"<td>{r.mean_before:.1f}</td><td>{r.mean_after:.1f}</td><td>{r.change:+.1f}</td>"
            f"<td>{r.p_adjusted:.3f}</td></tr>"
            for r in table.itertuples(index=False)
        )
        return f"<table class='bsb-table bsb-improvements'>{head}{rows}</table>"

    # --------------------------------------------------------------- comments
    def _comments_panel(self) -> w.Widget:
        form = self._current_form()
        comments = self.store.survey_comments(self.actor, [self.survey_id])
        themes = self.store.themes(self.actor)
        lang = get_language()
        labels = {
            r.code: (r.label_nb if lang == "nb" else r.label_en)
            for r in themes.itertuples(index=False)
        }
        parts: list[w.Widget] = [w.HTML(f"<p>{_e(t('surveys.comments.intro'))}</p>")]
        if comments.empty:
            return w.VBox([*parts, message(t("surveys.comments.none"), "info")])
        counts = analysis.theme_counts(comments)
        parts.append(
            chart_box(
                plotting.theme_chart(counts, labels, title=t("surveys.comments.chart")),
                "bsb-temaer",
                alt=t("a11y.chart.bsb_themes"),
            )
        )
        parts.append(self._bulk_panel(comments, labels))
        for (question, respondent), group in comments.groupby(
            ["question", "respondent"], sort=False
        ):
            parts.append(
                w.HTML(
                    f"<h4>{_e(form.question(question).label(lang))} "
                    f"({_e(t(f'surveys.respondent.{respondent}'))}, {len(group)})</h4>"
                )
            )
            for c in group.itertuples(index=False):
                parts.append(self._comment_box(c, labels))
        box = w.VBox(parts)
        box.add_class("bsb-comments")
        return box

    def _bulk_panel(self, comments: Any, labels: dict[str, str]) -> w.Widget:
        """One button per theme that approves its coded, unflagged, unapproved comments."""
        buttons: list[w.Widget] = []
        for code, label in labels.items():
            ids = bulk_approvable(comments, code)
            if not ids:
                continue
            b = _button(
                "surveys.comments.bulk_approve",
                "",
                "bsb-approve-theme",
                count=len(ids),
                theme=label,
            )

            @guarded(self.show)
            def approve(_: Any, ids: list[int] = ids, label: str = label) -> None:
                count = self.store.approve_comments(self.actor, ids)
                self.render()
                self.say("surveys.comments.bulk_done", count=count, theme=label)

            b.on_click(approve)
            buttons.append(b)
        body: list[w.Widget] = (
            [w.HBox(buttons, layout=w.Layout(flex_flow="row wrap"))]
            if buttons
            else [message(t("surveys.comments.bulk_none"), "info")]
        )
        box = w.VBox(
            [
                w.HTML(
                    f"<h4>{_e(t('surveys.comments.bulk_heading'))}</h4>"
                    f"<p>{_e(t('surveys.comments.bulk_intro'))}</p>"
                ),
                *body,
            ]
        )
        box.add_class("bsb-bulk")
        return box

    def _comment_box(self, c: Any, labels: dict[str, str]) -> w.Widget:
        boxes = {
            code: w.Checkbox(
                value=code in c.themes,
                description=label,
                indent=False,
                layout=w.Layout(width="auto", min_height="36px"),
            )
            for code, label in labels.items()
        }
        approved = w.Checkbox(
            value=bool(c.approved), description=t("surveys.comments.approve"), indent=False
        )
        quote = w.Checkbox(
            value=bool(c.quote), description=t("surveys.comments.quote"), indent=False
        )
        save = _button("surveys.comments.save", "", "bsb-code-save")
        state = {"version": int(c.version)}

        @guarded(self.show)
        def do_save(_: Any) -> None:
            state["version"] = self.store.code_comment(
                self.actor,
                int(c.comment_id),
                themes=[k for k, b in boxes.items() if b.value],
                approved=approved.value,
                quote=quote.value and approved.value,
                version=state["version"],
            )
            self.say("surveys.comments.saved")

        save.on_click(do_save)
        flagged = int(c.national_ids) > 0  # the store refuses to approve it, so say why here
        approved.disabled = quote.disabled = flagged
        warning = [message(t("surveys.comments.national_id"), "error")] if flagged else []
        kinds = [k for k in c.flags if k != "national_id"]
        if kinds:  # may name someone: the coder reads it and decides
            names = ", ".join(t(f"surveys.comments.flag.{k}") for k in kinds)
            warning.append(message(t("surveys.comments.flagged", kinds=names), "error"))
        box = w.VBox(
            [
                w.HTML(f"<div class='bsb-comment-text'>«{_marked(c.text)}»</div>"),
                *warning,
                w.HBox(list(boxes.values()), layout=w.Layout(flex_flow="row wrap")),
                w.HBox([approved, quote, save], layout=w.Layout(align_items="center")),
            ]
        )
        box.add_class("bsb-comment")
        if kinds:
            box.add_class("bsb-flagged")
        return box

    # ----------------------------------------------------------------- report
    def _report_panel(self) -> w.Widget:
        make = _button("surveys.report.make", "primary", "bsb-make-report")
        links = w.HTML()
        out = w.VBox()

        @guarded(self.show)
        def do_report(_: Any) -> None:
            report = self._build_report()
            stem = f"bsb-rapport-{self.survey_id}"
            links.value = " ".join(
                [
                    _download(
                        report.to_html().encode("utf-8"),
                        stem + ".html",
                        "text/html",
                        t("surveys.report.download_html"),
                        "bsb-html",
                    ),
                    _download(
                        report.to_pdf(),
                        stem + ".pdf",
                        "application/pdf",
                        t("surveys.report.download_pdf"),
                        "bsb-pdf",
                    ),
                ]
            )
            out.children = [self._projects_panel(report)]

        make.on_click(do_report)
        return w.VBox([w.HTML(f"<p>{_e(t('surveys.report.intro_app'))}</p>"), make, links, out])

    def _build_report(self) -> Any:
        form = self._current_form()
        answers, previous = self._answers()
        surveys = self.store.surveys(self.actor)
        row = surveys[surveys["id"] == self.survey_id].iloc[0]
        comments = self.store.survey_comments(self.actor, [self.survey_id], approved_only=True)
        return build_report(
            answers,
            comments,
            form,
            title=str(row["title"]),
            service=str(row["service"]),
            round=str(row["round"]),
            previous_round="baseline" if previous else None,
        )

    def _projects_panel(self, report: Any) -> w.Widget:
        form = self._current_form()
        picks = []
        for r in report.top_gaps.itertuples(index=False):
            box = w.Checkbox(
                value=False,
                indent=False,
                description=f"{form.question(r.question).label()} ({r.gap:+.1f})",
                layout=w.Layout(width="auto", min_height="36px"),
            )
            picks.append((r.question, box))
        make = _button("surveys.project.create", "warning", "bsb-create-projects")

        @guarded(self.show)
        def do_projects(_: Any) -> None:
            chosen = [q for q, b in picks if b.value]
            if not chosen:
                self.say("surveys.project.none_chosen", "error")
                return
            proposals = propose_projects(
                report.gaps, chosen, form, service=report.service, survey_id=self.survey_id
            )
            ids = create_projects(self.store, self.actor, proposals)
            self.say("surveys.project.created", count=len(ids))

        make.on_click(do_projects)
        return w.VBox(
            [
                w.HTML(
                    f"<h3>{_e(t('surveys.project.heading'))}</h3>"
                    f"<p>{_e(t('surveys.project.intro'))}</p>"
                ),
                *[b for _, b in picks],
                make,
            ]
        )


def surveys_app(store: Store | None = None, actor: Actor | None = None) -> w.Widget:
    """The «Bruker spør bruker» app as one widget (defaults: configured store, current user)."""
    store = store or open_store()
    actor = acting_user(store, actor)
    if isinstance(actor, w.Widget):  # not a user of the workbench: the refusal
        return actor
    return SurveysApp(store, actor).root
