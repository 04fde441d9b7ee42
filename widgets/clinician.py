"""The clinician's app: own clients, ORS at the start and SRS at the end of a session,
the client's chart with warnings.

It must be quicker than paper, so: the list opens with the clients who need attention
on top; one tap saves; a confirmation shows at once; a slider nobody touched is never
saved as 0.0 by accident (an untouched slider is greyed and the form counts as empty);
an unsaved entry is kept as a draft per client when the clinician switches client.
Corrections go through :meth:`kor.store.Store.correct_measurement`, so the old values
stay in the audit trail.

All numbers come from the library (:mod:`kor.caseload`, :mod:`kor.flags`,
:mod:`kor.model_registry`); this module only wires widgets to it. Leads and admins
first pick a clinician, so every query stays filtered to one caseload.
"""

from __future__ import annotations

import html
import time
from datetime import date
from typing import Any

import ipywidgets as w
import pandas as pd

from kor import caseload as cl
from kor import measures
from kor.access import Actor
from kor.client_chart import client_chart
from kor.errors import ValidationError
from kor.flags import explain, rule_name
from kor.i18n import get_language, t
from kor.model_registry import load_expected_model
from kor.own_path import own_path
from kor.store import Store, open_store
from widgets.common import (
    LARGE,
    acting_user,
    chart_box,
    guarded,
    language_switch,
    message,
    page_style,
)
from widgets.rater_picker import RaterPicker
from widgets.slider import Slider

__all__ = ["ClinicianApp", "clinician_app"]

NEW = 0  # value of the session picker for "a new session"
_MAX_OPTIONS = 300  # rows shown in the list at once (the search narrows it)
_LEVEL_COLOURS = {"alert": "#a11d1d", "warning": "#8a5a00", "info": "#0b4f8a"}
_LEVEL_SIGNS = {"alert": "‼", "warning": "!", "info": "i"}
_END_REASONS = ("completed", "dropout", "referred", "moved", "other")

_CSS = """<style>
.kor-clinician .kor-slider{min-height:52px;width:100%}
.kor-clinician .kor-untouched input.kor-range::-webkit-slider-thumb{background:#ddd;
  border:3px dashed #555}
.kor-clinician .kor-untouched input.kor-range::-moz-range-thumb{background:#ddd;
  border:3px dashed #555}
.kor-clinician .kor-untouched input.kor-range::-webkit-slider-runnable-track{background:#e6e6e6}
.kor-clinician .kor-untouched input.kor-range::-moz-range-progress{background:transparent}
.kor-clinician .kor-client-list select{font-size:1em;font-family:inherit;min-height:420px}
.kor-clinician .kor-form{border:1px solid #ccc;border-radius:6px;padding:8px 12px;margin:6px 0}
.kor-clinician .kor-item{font-size:1.1em;font-weight:600;margin-top:4px}
.kor-clinician .kor-badge{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;
  font-weight:bold;margin-right:6px}
.kor-clinician .kor-flag{border-left:6px solid;padding:6px 10px;margin:6px 0;background:#fafafa}
.kor-clinician .widget-button{font-size:1.05em}
.kor-clinician .kor-room-row > .widget-button{margin:0 8px 8px 0}
.kor-clinician .kor-form{box-sizing:border-box;max-width:100%}
.kor-clinician .kor-item-row{margin:4px 0 8px 0}
.kor-clinician .kor-anchors{display:flex;justify-content:space-between;gap:12px;
  font-size:0.95em;color:#333}
.kor-clinician .kor-value input{font-size:1.3em;font-weight:bold;text-align:center}
.kor-clinician .kor-untouched + .kor-anchors, .kor-clinician .kor-value input::placeholder
  {color:#777}
.kor-clinician .kor-status .kor-message{font-size:1.15em!important;background:#fff}
.kor-clinician .kor-value-error .kor-message{padding:4px 8px;border-left:4px solid #a11d1d;
  color:#a11d1d;font-weight:600}
.kor-clinician .kor-chart .kor-chart-img{width:100%;max-width:760px;height:auto}
@media (max-width: 900px) {
  .kor-clinician .kor-room-columns {flex-wrap:wrap}
  .kor-clinician .kor-room-columns > .kor-caseload,
  .kor-clinician .kor-room-columns > .kor-entry-column
    {flex:1 1 100% !important; width:100% !important; min-width:0 !important;
     max-width:100% !important; padding:0 !important; box-sizing:border-box}
  .kor-clinician .kor-client-list, .kor-clinician .kor-client-list select
    {width:100% !important; max-width:100%; min-width:0; box-sizing:border-box}
  .kor-clinician .kor-client-list select {min-height:0; height:232px}
}
</style>"""


def _num(x: float, decimals: int = 1) -> str:
    text = f"{x:.{decimals}f}"
    return text.replace(".", ",") if get_language() == "nb" else text


def _day(d: Any) -> str:
    return d.strftime("%d.%m.%Y") if get_language() == "nb" else d.strftime("%Y-%m-%d")


def _missing(x: Any) -> bool:
    return x is None or x != x  # None or NaN


class _Form:
    """One measure kind's form: per item a full-width 0–10 line with its end anchors
    and a box for the value typed («4,5»), with 'not yet set' kept apart from 0.0.

    The line is the instrument (a mark on a 10 cm line), so it gets the whole width of
    the form; the typed value is checked and refused with a message beside it, never
    silently clamped (a slider's own readout would turn «12» into 10.0).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.measure: measures.Measure | None = None
        self.title = w.HTML()
        self.pool = [  # one slider per possible item; the measure's are shown
            Slider(
                min=0.0,
                max=10.0,
                step=0.1,
                value=0.0,
                layout=w.Layout(width="100%", min_height="52px", margin="0"),
            )
            for _ in range(measures.MAX_ITEMS)
        ]
        self.labels = [w.HTML(layout=w.Layout(flex="1 1 auto")) for _ in self.pool]
        self.boxes = [
            w.Text(continuous_update=False, layout=w.Layout(width="5.5em", **_h(44)))
            for _ in self.pool
        ]
        self.anchors = [w.HTML(layout=w.Layout(width="auto")) for _ in self.pool]
        self.errors = [w.HTML() for _ in self.pool]
        self.touched = [False] * len(self.pool)
        self.baseline: list[float] | None = None  # the stored values, when correcting
        self.clear_button = w.Button(layout=w.Layout(width="auto", min_height="44px"))
        self.clear_button.add_class(f"kor-clear-{kind}")
        self._loading = False
        self._typing = False
        rows = []
        for i, slider in enumerate(self.pool):
            slider.add_class("kor-slider")
            slider.add_class(f"kor-{kind}-{i + 1}")
            slider.observe(self._touch(i), names="value")
            box = self.boxes[i]
            box.add_class("kor-value")
            box.add_class(f"kor-value-{kind}-{i + 1}")
            box.observe(self._typed(i), names="value")
            self.errors[i].add_class("kor-value-error")
            head = w.HBox(
                [self.labels[i], box],
                layout=w.Layout(width="100%", align_items="center", flex_flow="row nowrap"),
            )
            head.add_class("kor-item-head")
            row = w.VBox(
                [head, self.errors[i], slider, self.anchors[i]], layout=w.Layout(width="100%")
            )
            row.add_class("kor-item-row")
            rows.append(row)
        self.rows = rows
        self.box = w.VBox([self.title, *rows, self.clear_button], layout=w.Layout(width="100%"))
        self.box.add_class("kor-form")
        self.box.add_class(f"kor-form-{kind}")
        self.clear_button.on_click(lambda _b: self.clear())
        self.clear()

    def _touch(self, i: int):  # noqa: ANN202
        def handler(_change: dict[str, Any]) -> None:
            if not self._loading:
                self.touched[i] = True
                self.errors[i].value = ""
                self._style(i)

        return handler

    def _typed(self, i: int):  # noqa: ANN202
        def handler(change: dict[str, Any]) -> None:
            if self._loading or self._typing:
                return
            self.enter(i, change["new"])

        return handler

    def enter(self, i: int, text: str) -> bool:
        """Take a typed value for item ``i``: «4,5» and «4.5» mean 4.5; anything not a
        number, out of range or too precise is refused with a message beside the box
        and the slider keeps its value. Returns True when the value was taken."""
        text = (text or "").strip()
        if not text:
            self._readout(i)
            return False
        assert self.measure is not None  # set_measure first (internal order)
        low, high = self.measure.item_range
        decimals = self.measure.decimals
        problem = None
        try:
            value = float(text.replace(",", ".").replace(" ", ""))
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(text)
        except ValueError:
            problem = t("clinician.value.not_a_number", text=text)
        else:
            if not low <= value <= high:
                problem = t(
                    "clinician.value.out_of_range",
                    value=_num(value),
                    low=_num(low),
                    high=_num(high),
                )
            elif round(value, decimals) != value:
                problem = t("clinician.value.too_many_decimals", decimals=decimals)
        if problem is not None:
            text = html.escape(problem)
            self.errors[i].value = f'<div class="kor-message kor-error" role="alert">{text}</div>'
            return False
        self.errors[i].value = ""
        slider = self.pool[i]
        if slider.value == value:  # no change event: count it as touched here
            self.touched[i] = True
            self._style(i)
        else:
            slider.value = value
        return True

    def _readout(self, i: int) -> None:
        """The value box shows the slider's value with a decimal comma (empty when not set)."""
        decimals = self.measure.decimals if self.measure else 1
        text = _num(self.pool[i].value, decimals) if self.touched[i] else ""
        self._typing = True
        try:
            self.boxes[i].value = text
        finally:
            self._typing = False

    def _style(self, i: int) -> None:
        slider = self.pool[i]
        if self.touched[i]:
            slider.remove_class("kor-untouched")
        else:
            slider.add_class("kor-untouched")
        self._readout(i)
        self._label(i)

    def _label(self, i: int) -> None:
        if self.measure is None or i >= len(self.measure.items):
            return
        item = self.measure.items[i]
        name = html.escape(self.measure.item_label(item))
        state = "" if self.touched[i] else f" <i>({html.escape(t('clinician.not_set'))})</i>"
        self.labels[i].value = f'<div class="kor-item">{name}{state}</div>'
        self.boxes[i].placeholder = t("clinician.value.placeholder")
        self.boxes[i].tooltip = t("clinician.value.label", item=self.measure.item_label(item))
        self.pool[i].description = t(  # the line's accessible name: «ORS: Individuelt»
            "a11y.slider.label", measure=self.measure.code, item=self.measure.item_label(item)
        )
        self.pool[i].decimal_comma = get_language() == "nb"
        low, high = (html.escape(a) for a in self.measure.anchors(item))
        lo, hi = (_num(v, self.measure.decimals) for v in self.measure.item_range)
        ends = f"<span>{lo} · {low}</span><span>{high} · {hi}</span>"
        self.anchors[i].value = f'<div class="kor-anchors">{ends}</div>'

    def set_measure(self, measure: measures.Measure, heading: str) -> None:
        """Show ``measure``'s item labels (a child gets the child form's labels)."""
        self.measure = measure
        self.title.value = f"<h3 style='margin:4px 0'>{html.escape(heading)}</h3>"
        low, high = measure.item_range
        self._loading = True  # a range change moving a value is not the user's touch
        try:
            for slider in self.pool:
                with slider.hold_trait_notifications():
                    slider.min, slider.max = low, high
                    slider.step = 10.0**-measure.decimals
        finally:
            self._loading = False
        for i, row in enumerate(self.rows):
            row.layout.display = None if i < len(measure.items) else "none"
            self._label(i)
        self.clear_button.description = t("clinician.clear")

    def set(self, values: list[float], touched: list[bool], baseline: list[float] | None) -> None:
        """Put values on the sliders without counting them as touched by the user."""
        self._loading = True
        try:
            for i, slider in enumerate(self.pool):
                slider.value = float(values[i]) if i < len(values) else 0.0
                self.touched[i] = bool(touched[i]) if i < len(touched) else False
                self.errors[i].value = ""
                self._style(i)
        finally:
            self._loading = False
        self.baseline = baseline

    def clear(self) -> None:
        """Back to 'not set' (and nothing stored to compare with)."""
        low = self.measure.item_range[0] if self.measure else 0.0
        self.set([low] * len(self.pool), [False] * len(self.pool), None)

    def load(self, values: dict[str, float]) -> None:
        """Show stored values (a correction starts from them)."""
        assert self.measure is not None  # set_measure first (internal order)
        vals = [float(values[item]) for item in self.measure.items]
        self.set(vals, [True] * len(vals), vals)

    @property
    def sliders(self) -> list[Slider]:
        """The sliders of the measure's items, in form order (the others are hidden)."""
        return self.pool[: self.n_items]

    @property
    def n_items(self) -> int:
        return len(self.measure.items) if self.measure else 4

    def current(self) -> list[float]:
        decimals = self.measure.decimals if self.measure else 1
        return [round(float(s.value), decimals) for s in self.sliders]

    @property
    def dirty(self) -> bool:
        """True when the user changed something that is not stored."""
        if not any(self.touched[: self.n_items]):
            return False
        return self.baseline is None or self.current() != self.baseline

    def values(self) -> dict[str, float] | None:
        """The values to save, None when nothing was entered; raises when partly entered."""
        n = self.n_items
        if not any(self.touched[:n]):
            return None
        assert self.measure is not None
        for i in range(n):
            if not self.touched[i]:
                item = self.measure.items[i]
                raise ValidationError(
                    "error.missing_item",
                    field=f"{self.measure.code}.{item}",
                    item=self.measure.item_label(item),
                )
        return dict(zip(self.measure.items, self.current(), strict=True))

    def draft(self) -> dict[str, Any]:
        return {
            "values": [float(s.value) for s in self.pool],
            "touched": list(self.touched),
            "baseline": self.baseline,
        }


class ClinicianApp:
    """The app's state and widgets; :attr:`widget` is what the notebook displays.

    Attributes worth knowing for tests: ``clinician_picker`` (None for a clinician),
    ``search``, ``client_list`` (value = episode id), ``session_picker`` (0 = new
    session), ``session_date``, ``session_format``, ``forms["outcome"|"alliance"]``
    (``.sliders``), ``save_button``, ``status``, ``caption``, ``chart``, ``flag_box``,
    ``drafts`` (episode -> unsaved entry).
    """

    def __init__(self, store: Store, actor: Actor) -> None:
        self.store = store
        self.actor = actor
        self.model: Any = None
        self.frame = None  # the client list (kor.caseload.caseload)
        self.rows: dict[int, dict[str, Any]] = {}
        self.episode: int | None = None
        self.view: cl.EpisodeView | None = None
        self.drafts: dict[int, dict[str, Any]] = {}
        self.clinician_teams: dict[str, str | None] = {}
        self.last_save_seconds: float | None = None  # the store's write, in seconds
        self.last_confirm_seconds: float | None = None  # write until confirmation shown
        self._busy = False

        self.title = w.HTML()
        self.status = w.VBox(layout=w.Layout(min_height="48px"))
        self.status.add_class("kor-status")
        self.clinician_picker: w.Dropdown | None = None
        if actor.role != "clinician":
            self.clinician_picker = w.Dropdown(options=[], value=None, layout=LARGE)
            self.clinician_picker.add_class("kor-clinician-picker")
        self.search = w.Text(continuous_update=True, layout=w.Layout(width="100%", **_h(44)))
        self.search.add_class("kor-search")
        self.list_info = w.HTML()
        self.client_list = w.Select(options=[], value=None, rows=16, layout=w.Layout(width="100%"))
        self.client_list.add_class("kor-client-list")

        self.new_code = w.Text(layout=w.Layout(width="100%", **_h(44)))
        self.new_age = w.Dropdown(options=[], layout=w.Layout(width="100%", **_h(44)))
        self.new_start = w.DatePicker(value=date.today(), layout=w.Layout(width="100%"))
        self.register_button = w.Button(layout=w.Layout(width="100%", **_h(48)))
        self.register_button.add_class("kor-register")
        self.new_status = w.VBox()  # the registration's errors show where its form is
        self.new_status.add_class("kor-register-status")
        self.new_labels = [w.HTML() for _ in range(3)]
        self.new_box = w.Accordion(
            children=[
                w.VBox(
                    [
                        self.new_labels[0],
                        self.new_code,
                        self.new_labels[1],
                        self.new_age,
                        self.new_labels[2],
                        self.new_start,
                        self.register_button,
                        self.new_status,
                    ]
                )
            ]
        )
        self.new_box.selected_index = None

        self.header = w.HTML()
        self.session_picker = w.Dropdown(options=[], layout=w.Layout(width="100%", **_h(44)))
        self.session_picker.add_class("kor-session-picker")
        self.session_date = w.DatePicker(value=date.today(), layout=w.Layout(width="auto"))
        self.session_format = w.ToggleButtons(options=[], style={"button_width": "150px"})
        self.forms = {"outcome": _Form("outcome"), "alliance": _Form("alliance")}
        self.save_button = w.Button(button_style="success", layout=w.Layout(width="100%", **_h(60)))
        self.save_button.add_class("kor-save")
        self.caption = w.HTML()
        self.caption.add_class("kor-chart-caption")
        self.chart = w.VBox(layout=w.Layout(width="100%"))
        self.chart.add_class("kor-chart")
        self.flag_box = w.VBox(layout=w.Layout(width="100%"))
        self.flag_box.add_class("kor-flags")
        self.end_reason = w.Dropdown(options=[], layout=w.Layout(width="auto", **_h(44)))
        self.end_date = w.DatePicker(value=date.today(), layout=w.Layout(width="auto"))
        self.end_button = w.Button(button_style="warning", layout=w.Layout(width="auto", **_h(44)))
        self.end_button.add_class("kor-end-episode")
        self.end_confirm = w.VBox()  # «end the episode of …?» with yes / cancel
        self.end_confirm.add_class("kor-end-confirm")
        self.end_box = w.Accordion(
            children=[
                w.VBox(
                    [
                        w.HBox(
                            [self.end_reason, self.end_date, self.end_button],
                            layout=w.Layout(flex_flow="row wrap"),
                        ),
                        self.end_confirm,
                    ]
                )
            ]
        )
        self.end_box.selected_index = None

        self.handover = _HandOver(self)
        self.rater_picker = RaterPicker(self.forms, self._choose_session)  # issue 18
        self.entry = w.VBox(
            [
                self.header,
                self.handover.bar,
                w.HBox([self.session_picker], layout=w.Layout(width="100%")),
                w.HBox([self.session_date, self.session_format]),
                self.rater_picker.box,  # who rates: a child's parent or teacher too
                # one form above the other: each 0-10 line gets the whole width
                w.VBox(
                    [self.forms["outcome"].box, self.forms["alliance"].box],
                    layout=w.Layout(width="100%"),
                ),
                # the confirmation and errors right above «Lagre», where the finger is; the
                # space is kept so the button does not move under the finger
                self.status,
                self.save_button,
                self.flag_box,
                self.caption,
                self.chart,
                self.end_box,
            ],
            layout=w.Layout(width="100%"),
        )
        self.entry.layout.display = "none"
        self.placeholder = w.HTML()
        self.undo_box = w.VBox()  # «undo ending» after an episode was ended
        self.undo_box.add_class("kor-undo-box")
        self.list_style = w.HTML(layout=w.Layout(display="none"))  # the rows' level colours

        picker = [self.clinician_picker] if self.clinician_picker is not None else []
        self.left = w.VBox(
            [*picker, self.search, self.list_info, self.list_style, self.client_list, self.new_box],
            layout=w.Layout(width="390px", min_width="300px", padding="0 12px 0 0"),
        )
        self.right = w.VBox(
            [self.placeholder, self.undo_box, self.entry], layout=w.Layout(flex="1")
        )
        # under 900 px (a tablet held upright, a phone) the list goes above the form as a
        # short scrolling picker and the form gets the screen's width (_CSS)
        self.left.add_class("kor-caseload")
        self.right.add_class("kor-entry-column")
        self.language = language_switch(self._retranslate)
        self.widget = w.VBox(
            [
                page_style(),
                w.HTML(_CSS),
                w.HBox(
                    [self.title, self.language], layout=w.Layout(justify_content="space-between")
                ),
                w.HBox([self.left, self.right], layout=w.Layout(width="100%")).add_class(
                    "kor-room-columns"
                ),
            ],
            layout=w.Layout(width="100%", max_width="1400px", padding="8px"),
        )
        self.widget.add_class("kor-clinician")
        self.widget.add_class("kor-app")

        run = guarded(self._show)
        self.save = run(self._save)
        self.register = guarded(self._show_register)(self._register)
        self.end_episode = run(self._end_episode)
        self.ask_end_episode = run(self._ask_end_episode)
        self.undo_end = run(self._undo_end)
        self.select_clinician = run(self._select_clinician)
        self.select_episode = run(self._select_episode)
        self.choose_session = run(self._choose_session)
        self.change_format = run(self._change_format)
        self.filter_list = run(self._render_list)
        self.save_button.on_click(lambda _b: self.save())
        self.register_button.on_click(lambda _b: self.register())
        self.end_button.on_click(lambda _b: self.ask_end_episode())
        self.search.observe(lambda _c: self.filter_list(), names="value")
        self.client_list.observe(self._on_list, names="value")
        self.session_picker.observe(self._on_session_picker, names="value")
        self.session_format.observe(self._on_format, names="value")
        if self.clinician_picker is not None:
            self.clinician_picker.observe(self._on_clinician, names="value")

        self._apply_texts()
        run(self._start)()
        self.widget.add_class("kor-clinician-ready")

    # ---------------------------------------------------------------- helpers
    def _show(self, widget: w.Widget) -> None:
        self.status.children = [widget]

    def _say(self, text: str, kind: str = "info") -> None:
        self._show(message(text, kind))

    def _show_register(self, widget: w.Widget) -> None:
        self.new_status.children = [widget]

    def _clinician(self) -> str | None:
        """Whose caseload is open: the actor (clinician) or the picked clinician."""
        if self.clinician_picker is None:
            return None  # the store scopes a clinician to their own clients
        return self.clinician_picker.value

    def _apply_texts(self) -> None:
        """Every visible text, in the current language."""
        self.title.value = f"<h2 style='margin:4px 0'>{html.escape(t('clinician.title'))}</h2>"
        if self.clinician_picker is not None:
            self.clinician_picker.description = t("label.clinician")
        self.search.placeholder = t("clinician.search")
        self.new_box.set_title(0, t("clinician.new_client"))
        self.new_code.placeholder = t("clinician.new_code")
        ages = [(t(f"age_group.{a}"), a) for a in measures.AGE_GROUPS]
        current_age = self.new_age.value or "adult"
        self.new_age.options = ages
        self.new_age.value = current_age
        self.register_button.description = t("clinician.register")
        self.session_format.options = [
            (t("clinician.format.individual"), "individual"),
            (t("clinician.format.group"), "group"),
        ]
        new = self.session_picker.value in (None, NEW)
        self.save_button.description = t("clinician.save" if new else "clinician.save_existing")
        self.end_box.set_title(0, t("clinician.end_episode"))
        reason = self.end_reason.value or "completed"
        self.end_reason.options = [(t(f"end_reason.{r}"), r) for r in _END_REASONS]
        self.end_reason.value = reason
        self.end_button.description = t("clinician.end_button")
        self.placeholder.value = (
            f"<p style='font-size:1.1em;color:#444'>{html.escape(t('clinician.choose'))}</p>"
        )
        self._room_texts()

    def _room_texts(self) -> None:
        """Names of the list and registration controls (visible labels, and the tooltip
        that the page template gives the control as its accessible name)."""
        self.client_list.tooltip = t("room.label.clients")
        self.search.tooltip = t("room.label.search")
        names = ("room.label.new_code", "room.label.new_age", "room.label.new_start")
        for label, widget, key in zip(
            self.new_labels, (self.new_code, self.new_age, self.new_start), names, strict=True
        ):
            label.value = f"<label class='kor-field-label'>{html.escape(t(key))}</label>"
            widget.tooltip = t(key)
        self.session_picker.tooltip = t("room.label.session")  # its accessible name
        # a date input is named by its <label>, which ipywidgets draws from the description
        self.session_date.description = t("room.label.session_date")
        self.session_date.style.description_width = "initial"
        self.end_reason.tooltip = t("room.label.end_reason")
        self.end_date.tooltip = t("room.label.end_date")
        self.handover.texts()
        self.rater_picker.texts()
        if self.end_confirm.children:
            self._ask_end_episode()

    def _retranslate(self) -> None:
        if self.handover.active:  # the client's view: nothing of the caseload comes back
            self.handover.texts()
            self.handover.retranslate()
            return
        self._apply_texts()
        self._render_list()
        if self.view is not None:
            value = self.session_picker.value
            self._busy = True
            try:
                self.session_picker.options = self._session_options()
                self.session_picker.value = value
            finally:
                self._busy = False
            self._set_measures()
            self._render_panel()

    # ------------------------------------------------------------- the list
    def _start(self) -> None:
        if self.clinician_picker is not None:
            data = self.store.dataset(self.actor, episode=-1)  # users and teams only
            team = self.actor.team if self.actor.role == "team_lead" else None
            people = cl.clinicians(data, team=team)
            self.clinician_teams = dict(zip(people["username"], people["team"], strict=True))
            self.clinician_picker.options = [
                (f"{r.display_name} ({r.team})", r.username) for r in people.itertuples()
            ]
            self.clinician_picker.value = None
            self._render_list()
            self.handover.resume()
            return
        self.clinician_teams = {self.actor.username: self.actor.team}
        self._load_list()
        self.handover.resume()

    def _load_list(self) -> None:
        if self.model is None:
            self.model = load_expected_model(self.store, self.actor)
        who = self._clinician()
        # the list shows open episodes only, so only those are read (fast on a large service)
        data = self.store.dataset(self.actor, clinician=who, open_only=True) if who else None
        if data is None and self.clinician_picker is None:
            data = self.store.dataset(self.actor, open_only=True)
        self.frame = None if data is None else cl.caseload_from(data, self.model)
        self._render_list()

    def _render_list(self) -> None:
        if self.frame is None:
            self.rows = {}
            self.client_list.options = []
            self.list_info.value = (
                f"<p>{html.escape(t('clinician.pick_clinician'))}</p>"
                if self.clinician_picker is not None
                else ""
            )
            return
        shown = cl.search(self.frame, self.search.value)
        records = shown.head(_MAX_OPTIONS).to_dict("records")
        self.rows = {int(r["episode"]): r for r in self.frame.to_dict("records")}
        keep = self.episode
        options = [(self._option_label(r), int(r["episode"])) for r in records]
        self._busy = True
        try:
            self.client_list.options = options
            self.client_list.value = keep if keep in {v for _, v in options} else None
        finally:
            self._busy = False
        self.list_style.value = _row_colours([r["flag_level"] for r in records])
        warned = int(self.frame["flag_level"].isin(["alert", "warning"]).sum())
        self.list_info.value = (
            "<p>"
            + html.escape(
                t(
                    "clinician.list_info",
                    shown=len(records),
                    total=len(self.frame),
                    warned=warned,
                )
            )
            + "</p>"
        )

    def _option_label(self, r: dict[str, Any]) -> str:
        """One row: the level as sign and word first (colour is never the only cue), the
        code, age group, sessions, latest outcome and the last session's date."""
        level = r["flag_level"] or ""
        sign = _LEVEL_SIGNS.get(level, " ")
        latest = r["latest_outcome"]
        ors = "–" if _missing(latest) else _num(latest)
        last = r.get("last_session_date")
        parts = [f"{sign} {t('flag.level.' + level)}"] if level else []
        parts += [
            r["client"] if level else f"{sign} {r['client']}",
            t(f"age_group.{r['age_group']}"),
            t("clinician.n_sessions", n=int(r["sessions"])),
            f"{r['outcome_measure'] or 'ORS'} {ors}",
            t("room.list.no_session") if _missing(last) else t("room.list.last", date=_day(last)),
        ]
        return " · ".join(parts)

    def _on_clinician(self, _change: dict[str, Any]) -> None:
        self.select_clinician()

    def _select_clinician(self) -> None:
        self._keep_draft()
        self.episode = None
        self.view = None
        self.entry.layout.display = "none"
        self.placeholder.layout.display = None
        self._load_list()

    def _on_list(self, change: dict[str, Any]) -> None:
        if not self._busy and change["new"] is not None and change["new"] != self.episode:
            self.select_episode(change["new"])

    # ------------------------------------------------------------ one client
    def _keep_draft(self) -> None:
        """Keep what was entered for the current client, if it is not saved."""
        if self.episode is None:
            return
        if any(f.dirty for f in self.forms.values()):
            self.drafts[self.episode] = {
                "session": self.session_picker.value,
                "date": self.session_date.value,
                "format": self.session_format.value,
                **{kind: form.draft() for kind, form in self.forms.items()},
            }
        else:
            self.drafts.pop(self.episode, None)

    def _select_episode(self, episode: int) -> None:
        self._keep_draft()
        self.episode = int(episode)
        self._reload()
        draft = self.drafts.pop(self.episode, None)
        self._prepare_session(default=True)
        if draft is not None:
            self._restore(draft)
            self._say(t("clinician.draft_restored"), "info")
        else:
            self.status.children = []
        self.placeholder.layout.display = "none"
        self.undo_box.children = []
        self.handover.texts()  # the hand-over buttons name this client's measures
        self.rater_picker.show_for(self.view.row["age_group"] if self.view.row else None)
        self.entry.layout.display = None

    def _reload(self, *, chart: bool = True) -> None:
        """Read the episode afresh and update its row in the list (and the chart, unless
        the caller draws it last: :meth:`_save` shows the confirmation first)."""
        assert self.episode is not None
        if self.model is None:
            self.model = load_expected_model(self.store, self.actor)
        data = self.store.dataset(self.actor, episode=self.episode)
        self.view = cl.episode_view(data, self.model, self.episode)
        if self.frame is not None:  # the view's list row is the episode's fresh caseload row
            row = [self.view.row] if self.view.row is not None else []
            fresh = pd.DataFrame(row, columns=self.frame.columns)
            self.frame = cl.replace_episodes(self.frame, fresh, [self.episode])
        self._render_list()
        self._render_panel(chart=chart)

    def _session_options(self) -> list[tuple[str, int]]:
        assert self.view is not None
        entries = self.view.entries
        sessions = entries.drop_duplicates("session_id").to_dict("records")
        options = [(t("clinician.new_session"), NEW)]
        for s in sessions:
            options.append(
                (
                    t(
                        "clinician.session_option",
                        n=int(s["session_no"]),
                        date=_day(s["session_date"]),
                    ),
                    int(s["session_id"]),
                )
            )
        return options

    def _prepare_session(self, *, default: bool) -> None:
        """Fill the session picker; by default today's session if there is one, else new."""
        assert self.view is not None
        options = self._session_options()
        value = NEW
        if default:
            first = self.view.entries.head(1).to_dict("records")
            if first and first[0]["session_date"].date() == date.today():
                value = int(first[0]["session_id"])
        self._busy = True
        try:
            self.session_picker.options = options
            self.session_picker.value = value
        finally:
            self._busy = False
        self._choose_session()

    def _on_session_picker(self, _change: dict[str, Any]) -> None:
        if not self._busy:
            self.choose_session()

    def _on_format(self, _change: dict[str, Any]) -> None:
        if not self._busy:
            self.change_format()

    def _session_row(self, session_id: int) -> dict[str, Any]:
        assert self.view is not None
        rows = self.view.entries.loc[self.view.entries["session_id"] == session_id]
        return rows.head(1).to_dict("records")[0]

    def _choose_session(self) -> None:
        """A new session starts empty; a stored one shows its values for correction."""
        target = self.session_picker.value
        new = target in (None, NEW)
        self._busy = True
        try:
            if new:
                self.session_date.value = date.today()
                self.session_format.value = "individual"
            else:
                row = self._session_row(target)
                self.session_date.value = row["session_date"].date()
                self.session_format.value = row["format"]
        finally:
            self._busy = False
        self.session_date.disabled = not new
        self.session_format.disabled = not new
        self._set_measures()
        for kind, form in self.forms.items():
            stored = None if new else cl.stored_entry(self.view.entries, target, kind)
            if stored is None:
                form.clear()
            else:
                form.load(stored["values"])
        self.save_button.description = t("clinician.save" if new else "clinician.save_existing")

    def _change_format(self) -> None:
        values = {k: f.draft() for k, f in self.forms.items()}
        self._set_measures()
        for kind, form in self.forms.items():
            form.set(values[kind]["values"], values[kind]["touched"], values[kind]["baseline"])

    def _measure(self, kind: str) -> measures.Measure:
        assert self.view is not None and self.view.row is not None
        target = self.session_picker.value
        if target not in (None, NEW):
            stored = cl.stored_entry(self.view.entries, target, kind)
            if stored is not None:
                return measures.get(stored["measure"])
        fmt = self.session_format.value or "individual"
        return measures.measure_for(kind, self.view.row["age_group"], fmt)

    def _set_measures(self) -> None:
        for kind, form in self.forms.items():
            m = self._measure(kind)
            form.set_measure(m, t(f"clinician.form.{kind}", measure=m.label()))

    def _restore(self, draft: dict[str, Any]) -> None:
        options = {v for _, v in self.session_picker.options}
        if draft["session"] in options:
            self._busy = True
            try:
                self.session_picker.value = draft["session"]
            finally:
                self._busy = False
            self._choose_session()
        self._busy = True
        try:
            if self.session_picker.value == NEW:
                self.session_date.value = draft["date"]
                self.session_format.value = draft["format"]
        finally:
            self._busy = False
        self._set_measures()
        for kind, form in self.forms.items():
            d = draft[kind]
            form.set(d["values"], d["touched"], d["baseline"])

    def _render_panel(self, *, chart: bool = True) -> None:
        """The episode's header and warnings, then (unless told not to) its chart."""
        view = self.view
        if view is None or view.row is None:
            return
        row = view.row
        badge = ""
        if row["flag_level"]:
            colour = _LEVEL_COLOURS[row["flag_level"]]
            badge = (
                f'<span class="kor-badge" style="background:{colour}">'
                f"{html.escape(t('flag.level.' + row['flag_level']))}</span>"
            )
        start = _day(row["episode_start"])
        info = t("clinician.episode_info", start=start, n=int(row["sessions"]))
        self.header.value = (
            f"<h3 style='margin:4px 0'>{badge}{html.escape(row['client'])} · "
            f"{html.escape(t('age_group.' + row['age_group']))}</h3>"
            f"<p style='margin:2px 0'>{html.escape(info)}</p>"
        )
        self._render_flags()
        if chart:
            self._render_chart()

    def _render_chart(self) -> None:
        """The chart and its caption (the caption counts the sessions drawn)."""
        view = self.view
        if view is None or view.row is None:
            return
        row = view.row
        outcome = self._measure("outcome")
        alliance = self._measure("alliance")
        last = row["latest_outcome"]
        last_text = "–" if _missing(last) else _num(last)
        last_date = row["last_session_date"]
        ax = client_chart(
            view.sessions,
            view.path,
            view.flags,
            outcome_measure=outcome.code,
            alliance_measure=alliance.code,
            age_group=row["age_group"],
            title=t("clinician.chart.title", client=row["client"], measure=outcome.code),
            collateral=view.collateral,  # a parent's or teacher's line beside the client's
        )
        # the PDF is drawn only when asked for: it cost as much as the PNG on every tap
        alt = t(
            "a11y.chart.client",
            client=row["client"],
            measure=outcome.code,
            alliance=alliance.code,
        )
        box = chart_box(ax, f"kor-{row['client']}", alt=alt, pdf="on_demand")
        self.chart.children = [box]
        # after the image: a caption counting the new session means the chart shows it
        self.caption.value = (
            f'<p data-sessions="{int(row["sessions"])}">'
            + html.escape(
                t(
                    "clinician.caption",
                    client=row["client"],
                    n=int(row["sessions"]),
                    measure=outcome.code,
                    latest=last_text,
                    date="–" if _missing(last_date) else _day(last_date),
                )
            )
            + "</p>"
        )

    def _render_flags(self) -> None:
        assert self.view is not None
        flags = self.view.flags.to_dict("records")
        parts = [f"<h3 style='margin:4px 0'>{html.escape(t('clinician.flags'))}</h3>"]
        if not flags:
            parts.append(f"<p>{html.escape(t('clinician.no_flags'))}</p>")
        for f in flags:
            colour = _LEVEL_COLOURS.get(f["level"], "#333")
            parts.append(
                f'<div class="kor-flag" style="border-color:{colour}">'
                f'<span class="kor-badge" style="background:{colour}">'
                f"{html.escape(t('flag.level.' + f['level']))}</span>"
                f"<b>{html.escape(rule_name(f['rule']))}</b>"
                f"<p style='margin:4px 0'>{html.escape(explain(f['rule']))}</p></div>"
            )
        parts.append(self._supervision_line())
        self.flag_box.children = [w.HTML("".join(parts))]

    def _supervision_line(self) -> str:
        """The latest «drøftet i veiledning» mark of this client's episode, read-only."""
        from kor.report import date_text
        from kor.store.supervision import READ_ROLES

        if self.episode is None or self.actor.role not in READ_ROLES:
            return ""
        marks = self.store.supervision_marks(self.actor, [self.episode])
        if marks.empty:
            return ""
        latest = marks.iloc[0]
        when = date_text(latest["marked_at"])
        note = latest["note"] if isinstance(latest["note"], str) else ""
        line = (
            t("supervision.clinician_line", date=when, note=note)
            if note
            else t("supervision.clinician_line_no_note", date=when)
        )
        return f'<p class="kor-supervision-line">✓ {html.escape(line)}</p>'

    # ---------------------------------------------------------------- writes
    def _save(self) -> None:
        """One tap: a new session (ORS and/or SRS), or SRS added / values corrected."""
        if self.view is None or self.episode is None:
            raise ValidationError("clinician.error.no_client")
        forms = {k: f for k, f in self.forms.items() if f.dirty}
        values = {k: f.values() for k, f in forms.items()}  # raises when partly entered
        values = {k: v for k, v in values.items() if v is not None}
        if not values:
            raise ValidationError("clinician.error.nothing_to_save")
        for kind, v in values.items():
            measures.score(self._measure(kind), v)  # refuse before anything is written
        started = time.perf_counter()
        target = self.session_picker.value
        done: list[str] = []
        new = target in (None, NEW)
        if new:
            target = self.store.record_session(
                self.actor,
                self.episode,
                session_date=self.session_date.value,
                format=self.session_format.value,
                measurements={self._measure(k).code: v for k, v in values.items()},
                rater=self.rater_picker.value,
            )
            done = [f"{self._measure(k).code} {_num(sum(v.values()))}" for k, v in values.items()]
        else:
            for kind, v in values.items():
                stored = cl.stored_entry(self.view.entries, target, kind)
                stored = None if self.rater_picker.collateral else stored  # never the client's
                code = self._measure(kind).code
                if stored is None:
                    self.store.add_measurement(
                        self.actor, target, code, v, rater=self.rater_picker.value
                    )
                    done.append(f"{code} {_num(sum(v.values()))}")
                else:
                    self.store.correct_measurement(
                        self.actor, stored["id"], v, version=stored["version"]
                    )
                    done.append(t("clinician.corrected", measure=code, total=_num(sum(v.values()))))
        self.last_save_seconds = time.perf_counter() - started
        self.drafts.pop(self.episode, None)
        if self.rater_picker.collateral:  # «CORS 26,5 (Forelder)»; then the client's own again
            done = [f"{d} ({t(f'rater.{self.rater_picker.value}')})" for d in done]
            self.rater_picker.show_for(self.view.row["age_group"] if self.view.row else None)
        what, now = ", ".join(done), time.strftime("%H:%M:%S")
        # the confirmation, the session picker, the form and the warnings change together
        # (one read of the episode, no drawing); the chart follows
        self._reload(chart=False)
        self._busy = True
        try:
            self.session_picker.options = self._session_options()
            self.session_picker.value = target
        finally:
            self._busy = False
        self._choose_session()
        if new:
            self._say(t("clinician.saved_new", what=what, time=now), "success")
        else:
            self._say(t("clinician.saved", what=what, time=now), "success")
        self.last_confirm_seconds = time.perf_counter() - started
        self._render_chart()

    def _register(self) -> None:
        code = (self.new_code.value or "").strip()
        if not code:
            raise ValidationError("error.required", field=t("clinician.new_code"))
        clinician = self._clinician() or self.actor.username
        if self.clinician_picker is not None and not self._clinician():
            raise ValidationError("clinician.error.no_clinician")
        team = self.clinician_teams.get(clinician) or self.actor.team
        if not team:
            raise ValidationError("error.unknown_team", field="team")
        start = self.new_start.value or date.today()
        self.new_status.children = []
        returning = False
        try:
            self.store.add_client(self.actor, code, team=team, age_group=self.new_age.value)
        except ValidationError as exc:
            if exc.key != "error.client_exists":
                raise
            returning = True  # known code, no open episode: a new episode (checked below)
        try:
            episode = self.store.open_episode(self.actor, code, start=start, clinician=clinician)
        except ValidationError as exc:
            shown = [e for e, r in self.rows.items() if r["client"] == code]
            if exc.key != "error.episode_open" or not shown:
                raise
            self.new_code.value = ""
            self.search.value = ""
            self._select_episode(shown[0])
            self._show_register(message(t("room.already_open", client=code), "info"))
            return
        self._add_to_list(episode)
        self.new_code.value = ""
        self.search.value = ""
        self._select_episode(episode)
        done = t("room.returning" if returning else "clinician.registered", client=code)
        self._say(done, "success")
        self._show_register(message(done, "success"))

    def _add_to_list(self, episode: int) -> None:
        """Put a (new or reopened) episode's row into the list."""
        data = self.store.dataset(self.actor, episode=episode)
        if self.model is None:
            self.model = load_expected_model(self.store, self.actor)
        fresh = cl.caseload_from(data, self.model)
        base = self.frame if self.frame is not None else fresh.iloc[0:0]
        self.frame = cl.replace_episodes(base, fresh, [episode])

    def _ask_end_episode(self) -> None:
        """Ending takes a second, deliberate tap: «End the episode of K…?» yes / cancel."""
        if self.episode is None:
            raise ValidationError("clinician.error.no_client")
        client = self.rows.get(self.episode, {}).get("client", "")
        reason = t(f"end_reason.{self.end_reason.value}")
        yes = w.Button(
            description=t("room.end.yes"),
            button_style="danger",
            layout=w.Layout(width="auto", **_h(44)),
        )
        yes.add_class("kor-end-yes")
        no = w.Button(description=t("room.end.cancel"), layout=w.Layout(width="auto", **_h(44)))
        no.add_class("kor-end-cancel")
        yes.on_click(lambda _b: self.end_episode())
        no.on_click(lambda _b: setattr(self.end_confirm, "children", ()))
        when = _day(self.end_date.value or date.today())
        question = t("room.end.confirm", client=client, reason=reason, date=when)
        self.end_confirm.children = [
            message(question, "info"),
            w.HBox([yes, no], layout=w.Layout(flex_flow="row wrap")).add_class("kor-room-row"),
        ]

    def _end_episode(self) -> None:
        if self.episode is None:
            raise ValidationError("clinician.error.no_client")
        self.end_confirm.children = []
        episode = self.episode
        client = self.rows.get(episode, {}).get("client", "")
        self.store.end_episode(
            self.actor,
            episode,
            end=self.end_date.value or date.today(),
            reason=self.end_reason.value,
        )
        self.drafts.pop(episode, None)
        if self.frame is not None:
            self.frame = cl.replace_episodes(self.frame, self.frame.iloc[0:0], [episode])
        self.episode = None
        self.view = None
        self.entry.layout.display = "none"
        self.placeholder.layout.display = None
        self._render_list()
        self.end_box.selected_index = None
        self.placeholder.value = str(message(t("clinician.ended", client=client), "success").value)
        undo = w.Button(description=t("room.end.undo"), layout=w.Layout(width="auto", **_h(44)))
        undo.add_class("kor-undo-end")
        undo.on_click(lambda _b: self.undo_end(episode, client))
        self.undo_box.children = [undo]

    def _undo_end(self, episode: int, client: str) -> None:
        """Reopen the episode just ended (the store allows it on the same day only)."""
        self.store.reopen_episode(self.actor, episode)
        self.undo_box.children = []
        self._add_to_list(episode)
        self._select_episode(episode)
        self._say(t("room.reopened", client=client), "success")


_ROW_TINTS = {"alert": "#fbe9e9", "warning": "#fdf3dc", "info": "#e8f1fa"}


def _row_colours(levels: list[str | None]) -> str:
    """A stylesheet colouring the list's rows by level (a left bar and a light tint).

    A listbox's options take no classes, so the rows are addressed by position; runs of
    one level (the list is sorted by urgency) become one rule each. Rows are also large
    (at least 44 px, a touch target) and the level is in each row's words as well.
    """
    rules = [
        ".kor-clinician .kor-client-list option{padding:12px 8px;min-height:44px;"
        "line-height:20px;border-left:8px solid transparent;border-bottom:1px solid #e2e2e2}"
    ]
    start = 0
    for i in range(1, len(levels) + 1):
        if i < len(levels) and levels[i] == levels[start]:
            continue
        level = levels[start]
        if level in _LEVEL_COLOURS:
            rules.append(
                f".kor-clinician .kor-client-list option:nth-child(n+{start + 1})"
                f":nth-child(-n+{i}){{border-left-color:{_LEVEL_COLOURS[level]};"
                f"background-color:{_ROW_TINTS[level]}}}"
            )
        start = i
    return "<style>" + "".join(rules) + "</style>"


class _HandOver:
    """Hand-over mode: the client holds the tablet and sees only their own form.

    While it is on, the app's root holds nothing but this view: the list, the search,
    the clinician picker and the other panels leave the page (their views are removed
    from the DOM) and the list's options are emptied, so no other client's code is in
    the page at all. After saving, the client sees their own path in plain words
    (:mod:`kor.own_path`), with the chart to download or print. Only «Back to the
    clinician» followed by a second, explicit confirmation returns to the caseload.
    """

    def __init__(self, app: ClinicianApp) -> None:
        self.app = app
        self.active = False
        self.kind = "outcome"
        self.measure: measures.Measure | None = None
        self.saved: str | None = None  # what the client entered, for the clinician
        self.hand_over_id: int | None = None  # the stored hand-over (survives a reload)
        self.buttons = {
            kind: w.Button(layout=w.Layout(width="auto", **_h(48))) for kind in app.forms
        }
        for kind, button in self.buttons.items():
            button.add_class(f"kor-handover-{kind}")
            button.icon = "tablet"
            button.on_click(lambda _b, k=kind: self.start(k))
        self.bar = w.HBox(list(self.buttons.values()), layout=w.Layout(flex_flow="row wrap"))
        self.bar.add_class("kor-room-row")
        self.title = w.HTML()
        self.form = _Form("handover")
        self.save_button = w.Button(button_style="success", layout=w.Layout(width="100%", **_h(60)))
        self.save_button.add_class("kor-handover-save")
        self.status = w.VBox()
        self.status.add_class("kor-handover-status")
        self.path = w.VBox()
        self.path.add_class("kor-own-path")
        self.back_button = w.Button(layout=w.Layout(width="auto", **_h(48)))
        self.back_button.add_class("kor-handover-back")
        self.confirm_box = w.VBox()
        self.confirm_button = w.Button(
            button_style="warning", layout=w.Layout(width="auto", **_h(48))
        )
        self.confirm_button.add_class("kor-handover-confirm")
        self.cancel_button = w.Button(layout=w.Layout(width="auto", **_h(48)))
        self.cancel_button.add_class("kor-handover-cancel")
        self.confirm_text = w.HTML()
        self.view = w.VBox(
            [self.title, self.form.box, self.save_button, self.status, self.path,
             self.back_button, self.confirm_box],
            layout=w.Layout(width="100%", max_width="760px"),
        )  # fmt: skip
        self.view.add_class("kor-handover")
        self.form.box.layout.width = "100%"
        self._clinician_view: tuple[w.Widget, ...] = ()
        run = guarded(self._show)
        self.start = guarded(app._show)(self._start)  # a refusal shows in the clinician's view
        self.save = run(self._save)
        self.save_button.on_click(lambda _b: self.save())
        self.back_button.on_click(lambda _b: self._ask_back())
        self.cancel_button.on_click(lambda _b: setattr(self.confirm_box, "children", ()))
        self.confirm_button.on_click(lambda _b: run(self._back)())

    def _show(self, widget: w.Widget) -> None:
        self.status.children = [widget]

    def texts(self) -> None:
        """The buttons' and the view's texts, in the current language."""
        app = self.app
        for kind, button in self.buttons.items():
            code = app._measure(kind).code if app.view is not None else kind
            button.description = t("room.handover.button", measure=code)
        if self.measure is not None:
            code = self.measure.code
            self.title.value = (
                f"<h2 style='margin:4px 0'>{html.escape(t('room.handover.title', measure=code))}"
                f"</h2><p style='font-size:1.1em'>{html.escape(t('room.handover.intro'))}</p>"
            )
            self.form.set_measure(self.measure, self.measure.label())
        self.save_button.description = t("room.handover.save")
        self.back_button.description = t("room.handover.back")
        self.confirm_button.description = t("room.handover.confirm")
        self.cancel_button.description = t("room.handover.cancel")
        self.confirm_text.value = (
            f"<p style='font-size:1.1em'>{html.escape(t('room.handover.confirm_text'))}</p>"
        )

    def retranslate(self) -> None:
        if self.saved is not None:
            self._show_path()
            self._show(message(t("room.handover.saved"), "success"))

    def _today(self) -> int | None:
        """Today's session of the episode, if there is one."""
        entries = self.app.view.entries
        today = entries.loc[entries["session_date"].dt.date == date.today()]
        return None if today.empty else int(today["session_id"].iloc[0])

    def _start(self, kind: str) -> None:
        app = self.app
        if app.view is None or app.view.row is None:
            raise ValidationError("clinician.error.no_client")
        session = self._today()
        fmt = "individual"
        if session is not None:
            row = app._session_row(session)
            fmt = row["format"]
            stored = cl.stored_entry(app.view.entries, session, kind)
            if stored is not None:
                code = measures.get(stored["measure"]).code
                raise ValidationError("room.handover.already", measure=code)
        self._enter(kind, fmt, app.store.start_hand_over(app.actor, app.episode, kind))

    def resume(self) -> None:
        """Reopen the acting user's open hand-over (a reload of the page, a new tab).

        Why: the hand-over is stored (:meth:`kor.store.Store.start_hand_over`), so a
        client who reloads the page gets their own form again, never the caseload; the
        app is still being built when this runs, so the list never reaches the browser.
        When the form was saved already, the client sees their own path.
        """
        app = self.app
        found = app.store.open_hand_over(app.actor)
        if found is None:
            return
        app._select_episode(found["episode"])
        session = self._today()
        row = app._session_row(session) if session is not None else {"format": "individual"}
        self._enter(found["form"], row["format"], found["id"])
        stored = None if session is None else cl.stored_entry(app.view.entries, session, self.kind)
        if stored is not None:
            self.saved = f"{self.measure.code} {_num(stored['total'])}"
            self.form.box.layout.display = "none"
            self.save_button.layout.display = "none"
            self._show(message(t("room.handover.saved"), "success"))
            self._show_path()

    def _enter(self, kind: str, fmt: str, hand_over_id: int) -> None:
        """Show only this client's ``kind`` form: the caseload leaves the page."""
        app = self.app
        self.hand_over_id = hand_over_id
        self.kind = kind
        self.measure = measures.measure_for(kind, app.view.row["age_group"], fmt)
        app._keep_draft()
        self.saved = None
        self.texts()
        self.form.clear()
        self.form.box.layout.display = None
        self.save_button.layout.display = None
        self.status.children = []
        self.path.children = []
        self.confirm_box.children = []
        self._clinician_view = tuple(app.widget.children)
        self.active = True
        # only this view on the page; the list's options leave the browser as well
        styles = [c for c in self._clinician_view if isinstance(c, w.HTML)]
        app.widget.children = [*styles, app.language, self.view]
        app._busy = True
        try:
            app.client_list.options = []
        finally:
            app._busy = False

    def _save(self) -> None:
        app = self.app
        values = self.form.values()  # raises when partly entered
        if values is None:
            raise ValidationError("clinician.error.nothing_to_save")
        measures.score(self.measure, values)  # refuse before anything is written
        session = self._today()
        code = self.measure.code
        if session is None:
            app.store.record_session(
                app.actor,
                app.episode,
                session_date=date.today(),
                format="individual",
                measurements={code: values},
            )
        else:
            app.store.add_measurement(app.actor, session, code, values)
        self.saved = f"{code} {_num(sum(values.values()))}"
        data = app.store.dataset(app.actor, episode=app.episode)
        app.view = cl.episode_view(data, app.model, app.episode)
        self.form.box.layout.display = "none"
        self.save_button.layout.display = "none"
        self._show(message(t("room.handover.saved"), "success"))
        self._show_path()

    def _show_path(self) -> None:
        """«Slik har du hatt det»: the client's own totals, one plain sentence, the chart."""
        app = self.app
        row = app.view.row or {}
        outcome = row.get("outcome_measure") or app._measure("outcome").code
        path = own_path(app.view.sessions, outcome)
        ax = path.plot()
        box = chart_box(ax, "slik-har-du-hatt-det", alt=path.sentence())
        self.path.children = [
            w.HTML(
                f"<h2 style='margin:8px 0 4px'>{html.escape(t('own_path.title'))}</h2>"
                f"<p style='font-size:1.2em'>{html.escape(path.sentence())}</p>"
                f"<p>{html.escape(t('own_path.scale'))}</p>"
                f"<p>{html.escape(t('room.handover.print'))}</p>"
            ),
            box,
        ]

    def _ask_back(self) -> None:
        self.confirm_box.children = [
            self.confirm_text,
            w.HBox(
                [self.confirm_button, self.cancel_button], layout=w.Layout(flex_flow="row wrap")
            ).add_class("kor-room-row"),
        ]

    def _back(self) -> None:
        """The clinician's deliberate return: the caseload comes back, the client stays open."""
        app = self.app
        if self.hand_over_id is not None:
            app.store.end_hand_over(app.actor, self.hand_over_id)
            self.hand_over_id = None
        self.active = False
        self.confirm_box.children = []
        app.widget.children = self._clinician_view
        app._apply_texts()
        episode = app.episode
        saved, self.saved = self.saved, None
        if episode is not None:
            app._select_episode(episode)
        else:
            app._render_list()
        if saved:
            app._say(t("room.handover.done", what=saved), "success")


def _h(px: int) -> dict[str, str]:
    return {"min_height": f"{px}px"}


def clinician_app(store: Store | None = None, actor: Actor | None = None) -> w.Widget:
    """The clinician's app as one widget (defaults: the configured store and user)."""
    store = store or open_store()
    actor = acting_user(store, actor)
    if isinstance(actor, w.Widget):  # not a user of the workbench: the refusal
        return actor
    return ClinicianApp(store, actor).widget
