"""The five-phase improvement cycle: phases, checklists, SMART goals on live measures.

Kunnskapssenteret's method, as the guideline describes it (DESIGN.md, «The five
phases»): forberedelse, planlegging, utføring, kontroll og evaluering,
standardisering og oppfølging. Everything here is pure domain:

* :data:`PHASES`: the phases as declarations, each with a default checklist drawn from
  the guideline text (catalog keys, so a checklist reads in bokmål and English);
* :data:`GOAL_MEASURES`: the measures a goal can be bound to, as data (KOR indicators
  of :func:`kor.indicators.service_indicators`); :func:`register_goal_measure` lets
  other parts of the workbench (the «Bruker spør bruker» items) add their own;
* :func:`goal_series`, :func:`goal_baseline`: a measure's monthly values and its
  baseline, computed from the data, never typed;
* :func:`smart_check`: the goal checked letter by letter;
* :func:`evaluate_goal`: the run/control chart split at the change log's dates, the
  SPC verdict (:func:`kor.spc.verdict`) turned into improved / no signal / worse with
  the rule that decided it;
* :func:`next_evaluation_due`, :func:`overdue`: the evaluation schedule of the
  standardisation phase (1-2 times a year).

The store (:mod:`kor.store.cycle`) keeps projects; the app is :mod:`widgets.cycle`.

References
----------
Helsedirektoratet. Sammen om mestring: veileder i lokalt psykisk helsearbeid og
rusarbeid for voksne (IS-2076), kap. om kvalitetsforbedring (the five phases, SMART
goals, change log and checklists, evaluations 1-2 times a year).
Anhøj J, Olesen AV. PLoS One 2014;9(11):e113825. doi:10.1371/journal.pone.0113825
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from kor import spc
from kor.errors import KorStatisticalWarning, ValidationError
from kor.i18n import get_language, t

__all__ = [
    "PHASES",
    "PHASE_CODES",
    "MEMBER_ROLES",
    "NOTE_KINDS",
    "EDIT_ROLES",
    "READ_ROLES",
    "default_goal_dates",
    "SMART_LETTERS",
    "OUTCOMES",
    "SMART_GOAL_ITEM",
    "SMART_GOAL_PHASE",
    "NoSmartGoal",
    "judge",
    "require_smart_goal",
    "smart_gaps",
    "Phase",
    "GoalMeasure",
    "GOAL_MEASURES",
    "GOAL_MEASURE_MODULES",
    "register_goal_measure",
    "GOAL_SOURCES",
    "register_goal_source",
    "SERIES_COLUMNS",
    "phase",
    "next_phase",
    "default_checklist",
    "Goal",
    "Project",
    "PhaseNotDone",
    "goal_series",
    "goal_baseline",
    "smart_check",
    "Evaluation",
    "evaluate_goal",
    "next_evaluation_due",
    "overdue",
    "create_project_from_proposal",
    "item_text",
]


# --------------------------------------------------------------------------- phases


@dataclass(frozen=True)
class Phase:
    """One phase of the cycle.

    code: stored code. checklist: item codes; the text of item ``i`` is the catalog
    entry ``cycle.check.<code>.<i>``, the phase's name ``cycle.phase.<code>``.
    """

    code: str
    checklist: tuple[str, ...]

    @property
    def name_key(self) -> str:
        return f"cycle.phase.{self.code}"

    def item_key(self, item: str) -> str:
        return f"cycle.check.{self.code}.{item}"

    def name(self, language: str | None = None) -> str:
        return t(self.name_key, language=language)


#: The five phases in order, each with its default checklist from the guideline text.
PHASES: tuple[Phase, ...] = (
    Phase(
        "forberedelse",
        ("need_recognised", "knowledge_values", "anchored", "user_representatives"),
    ),
    Phase(
        "planlegging",
        ("smart_goal", "measurement_tool", "baseline_mapped", "practice_planned"),
    ),
    Phase("utforing", ("training_given", "change_log_kept", "checklists_in_use")),
    Phase(
        "kontroll",
        ("goal_reached", "effect_levels", "users_involved"),
    ),
    Phase(
        "standardisering",
        ("made_standard", "evaluations_scheduled", "leaders_follow_up"),
    ),
)
PHASE_CODES: tuple[str, ...] = tuple(p.code for p in PHASES)
#: Roles of a project member (no client data: members are staff and user representatives).
MEMBER_ROLES: tuple[str, ...] = ("leader", "member", "user_representative", "sponsor")
NOTE_KINDS: tuple[str, ...] = ("note", "decision")
#: Who may create and edit projects (a team lead: their own team's), and who may read them
#: (a clinician: their team's). Researchers have no access to projects.
EDIT_ROLES: tuple[str, ...] = ("team_lead", "quality_lead", "admin")
READ_ROLES: tuple[str, ...] = (*EDIT_ROLES, "clinician")
SMART_LETTERS: tuple[str, ...] = ("S", "M", "A", "R", "T", "E")
OUTCOMES: tuple[str, ...] = ("improved", "no_signal", "worse")


def phase(code: str) -> Phase:
    """The phase declared with ``code``."""
    for p in PHASES:
        if p.code == code:
            return p
    raise ValidationError("error.bad_choice", field="phase", choices=", ".join(PHASE_CODES))


def next_phase(code: str) -> str | None:
    """The phase after ``code``; None after the last."""
    i = PHASE_CODES.index(phase(code).code)
    return PHASE_CODES[i + 1] if i + 1 < len(PHASE_CODES) else None


def default_checklist() -> list[dict[str, Any]]:
    """Rows of the default checklist: ``phase``, ``item_key``, ``position`` per item."""
    return [
        {"phase": p.code, "item_key": p.item_key(item), "position": i}
        for p in PHASES
        for i, item in enumerate(p.checklist)
    ]


# --------------------------------------------------------------------------- goal measures


@dataclass(frozen=True)
class GoalMeasure:
    """A measure a SMART goal can be bound to.

    key: stored key. label_key: catalog key of its name. column: the indicator column
    of :func:`kor.indicators.service_indicators` (KOR measures). chart: ``"p"`` for a
    percentage with a denominator (P chart), ``"i"`` for a mean (I chart).
    denominator: for ``"p"``, how many units each month's percentage is of: an
    indicator column name, or a function of the indicator frame.
    higher_is_better: direction of improvement. bounds: the measure's range.
    max_gap: the largest target-baseline gap still called realistic (SMART «R»),
    in the measure's unit; a service may declare another.
    unit: catalog key of the unit shown after numbers.
    series: for measures not computed from the session table (e.g. BSB items), a
    function ``(data, team, start, end) -> DataFrame[month, value, n]``; ``source``
    then names what ``data`` is (``"sessions"`` = the KOR session table), so the
    app layer knows what to load; extra columns it returns are kept after the usual four.
    evaluate: for measures whose series is too short for a control chart (a BSB item
    has one point per survey round), a function with the signature of
    :func:`evaluate_goal` that returns an :class:`Evaluation` (or a subclass);
    :func:`evaluate_goal` hands such a measure over to it.
    """

    key: str
    label_key: str
    column: str | None
    chart: str
    higher_is_better: bool
    bounds: tuple[float, float]
    max_gap: float
    unit: str = "cycle.unit.percent"
    denominator: str | Callable[[pd.DataFrame], pd.Series] | None = None
    source: str = "sessions"
    series: Callable[..., pd.DataFrame] | None = field(default=None, compare=False)
    evaluate: Callable[..., Evaluation] | None = field(default=None, compare=False)

    def label(self, language: str | None = None) -> str:
        return t(self.label_key, language=language)


def _alliance_sessions(ind: pd.DataFrame) -> pd.Series:
    return ind["sessions"].astype(float) * ind["pct_sessions_with_alliance"].astype(float) / 100.0


#: Modules that register more goal measures (and their sources) when imported, the way
#: :data:`kor.cli.EXTENSIONS` adds commands. They are imported the first time
#: :data:`GOAL_MEASURES` is read, not when this module is, so ``kor`` never imports
#: them at start-up and they may import ``kor.cycle`` freely.
GOAL_MEASURE_MODULES: tuple[str, ...] = ("surveys.goal_measures",)


class _MeasureRegistry(dict):
    """The goal-measure dict; reading it first imports :data:`GOAL_MEASURE_MODULES`.

    Every consumer (the store, the report, the app, :func:`smart_check`) then sees a
    goal bound to e.g. a BSB item without having imported its module itself.
    """

    _loaded = False

    def _load(self) -> None:
        if type(self)._loaded:
            return
        type(self)._loaded = True  # before importing: the modules register into us
        import importlib

        for name in GOAL_MEASURE_MODULES:
            try:
                importlib.import_module(name)
            except ImportError as exc:  # an optional part not installed: KOR goals still work
                warnings.warn(f"goal measures of {name} not loaded: {exc}", stacklevel=3)

    def __getitem__(self, key: str) -> GoalMeasure:
        self._load()
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._load()
        return super().__contains__(key)

    def __iter__(self) -> Any:
        self._load()
        return super().__iter__()

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def get(self, key: str, default: Any = None) -> Any:
        self._load()
        return super().get(key, default)

    def keys(self) -> Any:
        self._load()
        return super().keys()

    def values(self) -> Any:
        self._load()
        return super().values()

    def items(self) -> Any:
        self._load()
        return super().items()


_PCT = (0.0, 100.0)
#: Measures a goal can be bound to, by key. Add with :func:`register_goal_measure`;
#: the modules of :data:`GOAL_MEASURE_MODULES` add theirs when it is first read.
GOAL_MEASURES: dict[str, GoalMeasure] = _MeasureRegistry(
    (m.key, m)
    for m in (
        GoalMeasure(
            "pct_sessions_with_alliance",
            "cycle.measure.pct_sessions_with_alliance",
            "pct_sessions_with_alliance",
            "p",
            True,
            _PCT,
            40.0,
            denominator="sessions",
        ),
        GoalMeasure(
            "pct_sessions_with_outcome",
            "cycle.measure.pct_sessions_with_outcome",
            "pct_sessions_with_outcome",
            "p",
            True,
            _PCT,
            40.0,
            denominator="sessions",
        ),
        GoalMeasure(
            "pct_improved",
            "cycle.measure.pct_improved",
            "pct_improved",
            "p",
            True,
            _PCT,
            25.0,
            denominator="episodes_assessable",
        ),
        GoalMeasure(
            "pct_deteriorated",
            "cycle.measure.pct_deteriorated",
            "pct_deteriorated",
            "p",
            False,
            _PCT,
            15.0,
            denominator="episodes_assessable",
        ),
        GoalMeasure(
            "pct_alliance_low",
            "cycle.measure.pct_alliance_low",
            "pct_alliance_low",
            "p",
            False,
            _PCT,
            25.0,
            denominator=_alliance_sessions,
        ),
        GoalMeasure(
            "dropout_rate",
            "cycle.measure.dropout_rate",
            "dropout_rate",
            "p",
            False,
            _PCT,
            20.0,
            denominator="episodes",
        ),
        GoalMeasure(
            "alliance_mean",
            "cycle.measure.alliance_mean",
            "alliance_mean",
            "i",
            True,
            (0.0, 40.0),
            3.0,
            unit="cycle.unit.points",
        ),
        GoalMeasure(
            "change_mean",
            "cycle.measure.change_mean",
            "change_mean",
            "i",
            True,
            (-40.0, 40.0),
            5.0,
            unit="cycle.unit.points",
        ),
    )
)


def register_goal_measure(measure: GoalMeasure, *, replace: bool = False) -> GoalMeasure:
    """Add a measure goals can be bound to (e.g. a «Bruker spør bruker» item).

    A measure that is not a KOR indicator gives its own ``series`` function and
    ``source``; ``label_key`` must be in the catalog. Raises if the key is taken,
    unless ``replace``.
    """
    if measure.chart not in ("p", "i", "run"):
        raise ValidationError("error.bad_choice", field="chart", choices="p, i, run")
    if measure.column is None and measure.series is None:
        raise ValidationError("error.required", field="series")
    if measure.key in GOAL_MEASURES and not replace:
        raise ValidationError("error.cycle.measure_exists", field="key", measure=measure.key)
    GOAL_MEASURES[measure.key] = measure
    return measure


#: Loaders of data for measures whose ``source`` is not the session table:
#: source name -> ``loader(store, actor, team) -> DataFrame`` (called by the store).
GOAL_SOURCES: dict[str, Callable[..., pd.DataFrame]] = {}


def register_goal_source(name: str, loader: Callable[..., pd.DataFrame]) -> None:
    """Register how the store loads the data of measures with ``source == name``.

    ``loader(store, actor, team)`` returns the frame the measure's ``series`` takes
    (e.g. «Bruker spør bruker» responses for a team); it must respect the actor's access.
    """
    GOAL_SOURCES[name] = loader


def _measure(key: str | GoalMeasure) -> GoalMeasure:
    if isinstance(key, GoalMeasure):
        return key
    if key not in GOAL_MEASURES:
        raise ValidationError(
            "error.bad_choice", field="measure", choices=", ".join(sorted(GOAL_MEASURES))
        )
    return GOAL_MEASURES[key]


# --------------------------------------------------------------------------- series, baseline

SERIES_COLUMNS: tuple[str, ...] = ("month", "value", "n", "count")


def _indicators(sessions: pd.DataFrame, team: str | None, **kw: Any) -> pd.DataFrame:
    from kor.indicators import service_indicators

    if team is not None:
        sessions = sessions.loc[sessions["team"] == team]
    return service_indicators(sessions, by=(), **kw)


def goal_series(
    sessions: pd.DataFrame,
    measure: str | GoalMeasure,
    team: str | None = None,
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Monthly values of a goal's measure for a team (None = the whole service).

    sessions: the session table (or, for a measure with its own ``series``, the data
    its ``source`` names). start, end: the window (inclusive dates).
    Returns one row per month with data, columns ``month`` (Timestamp, first day),
    ``value`` (the indicator, in the measure's unit), ``n`` (denominator of a
    percentage, NaN for means) and ``count`` (``value * n / 100`` rounded, the
    numerator of a P chart). Months suppressed by the small-cell rule (fewer than 5
    clients, :func:`kor.indicators.suppress`) and months without a value are left out.

    >>> from kor import frames, sample
    >>> s = frames.session_table(sample.generate(200, seed=3))
    >>> list(goal_series(s, "pct_sessions_with_alliance", "VOP").columns)
    ['month', 'value', 'n', 'count']
    """
    m = _measure(measure)
    extra: list[str] = []
    if m.series is not None:
        out = m.series(sessions, team, start, end)
        extra = [c for c in out.columns if c not in SERIES_COLUMNS]
    else:
        ind = _indicators(sessions, team, period="M", start=start, end=end)
        if ind.empty:
            return pd.DataFrame({c: pd.Series(dtype=float) for c in SERIES_COLUMNS}).assign(
                month=pd.Series(dtype="datetime64[ns]")
            )
        if m.denominator is None:
            n = pd.Series(np.nan, index=ind.index)
        elif callable(m.denominator):
            n = m.denominator(ind)
        else:
            n = ind[m.denominator]
        out = pd.DataFrame(
            {
                "month": ind["period"].map(lambda p: p.to_timestamp()),
                "value": pd.to_numeric(ind[m.column], errors="coerce").astype(float),
                "n": pd.to_numeric(n, errors="coerce").astype(float),
            }
        )
        out = out.loc[~ind["suppressed"].to_numpy(dtype=bool)]
    out = out.loc[out["value"].notna()].copy()
    if m.chart == "p":
        out = out.loc[out["n"] > 0]
        out["count"] = np.rint(out["value"] * out["n"] / 100.0)
    else:
        out["count"] = np.nan
    out["month"] = pd.to_datetime(out["month"])
    columns = [*SERIES_COLUMNS, *extra]
    return out.loc[:, columns].sort_values("month").reset_index(drop=True)


def goal_baseline(
    sessions: pd.DataFrame,
    measure: str | GoalMeasure,
    team: str | None,
    start: Any,
    end: Any,
) -> float | None:
    """The measure over the baseline period, as one number (None if suppressed or empty).

    For a KOR indicator it is the indicator over the whole period (the same number
    the quality dashboard shows for that window); for a measure with its own series,
    the pooled percentage (sum of counts / sum of n) or the mean of the monthly values.
    """
    m = _measure(measure)
    if m.series is None:
        ind = _indicators(sessions, team, period=None, start=start, end=end)
        if ind.empty or bool(ind["suppressed"].iloc[0]):
            return None
        value = pd.to_numeric(ind[m.column], errors="coerce").iloc[0]
        return None if pd.isna(value) else round(float(value), 2)
    s = goal_series(sessions, m, team, start, end)
    if s.empty:
        return None
    if m.chart == "p":
        return round(float(100.0 * s["count"].sum() / s["n"].sum()), 2)
    return round(float(s["value"].mean()), 2)


# --------------------------------------------------------------------------- goal, SMART


@dataclass(frozen=True)
class Goal:
    """A SMART goal bound to a live measure.

    measure: key in :data:`GOAL_MEASURES`. team: team code (None = whole service).
    period_start, period_end: the baseline period. baseline: the measure over it, computed from
    the data (:func:`goal_baseline`). target: the value to reach by ``deadline``.
    agreed_by/agreed_at: who agreed on the goal and when (SMART «E», enighet).
    """

    measure: str
    team: str | None
    period_start: date | None
    period_end: date | None
    baseline: float | None
    target: float | None
    deadline: date | None
    agreed_by: str | None = None
    agreed_at: datetime | None = None
    id: int | None = None
    project_id: int | None = None
    version: int = 1

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> Goal:
        """A goal from a stored row (dict); unknown keys are ignored."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in row.items() if k in names})


def _finite(value: Any) -> bool:
    try:
        return value is not None and bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def smart_check(goal: Goal | Mapping[str, Any]) -> dict[str, tuple[bool, str]]:
    """Check a goal letter by letter: S, M, A, R, T, E (the guideline's SMART + enighet).

    Returns letter -> ``(ok, reason key)``; the reason is a catalog key
    ``cycle.smart.<letter>.<reason>`` that says why in plain words:

    * S, spesifikt: a known measure for a named team and a baseline period;
    * M, målbart: a baseline computed from the data (not suppressed, not empty);
    * A, ansporende: the target is better than the baseline in the measure's direction;
    * R, realistisk: the target is within the measure's range and no further from the
      baseline than the measure's ``max_gap``;
    * T, tidsbestemt: a deadline after the end of the baseline period;
    * E, enighet: who agreed and when is recorded.

    >>> g = Goal("pct_sessions_with_alliance", "VOP", date(2025, 1, 1), date(2025, 6, 30),
    ...          70.0, 90.0, date(2026, 6, 30), "Arbeidsgruppen", datetime(2025, 7, 1))
    >>> all(ok for ok, _ in smart_check(g).values())
    True
    """
    g = goal if isinstance(goal, Goal) else Goal.from_mapping(goal)
    m = GOAL_MEASURES.get(g.measure)
    out: dict[str, tuple[bool, str]] = {}
    if m is None:
        out["S"] = (False, "cycle.smart.S.no_measure")
    elif not g.team:
        out["S"] = (False, "cycle.smart.S.no_team")
    elif g.period_start is None or g.period_end is None or g.period_end < g.period_start:
        out["S"] = (False, "cycle.smart.S.no_period")
    else:
        out["S"] = (True, "cycle.smart.S.ok")
    out["M"] = (
        (True, "cycle.smart.M.ok") if _finite(g.baseline) else (False, "cycle.smart.M.no_baseline")
    )
    if not _finite(g.target):
        out["A"] = (False, "cycle.smart.A.no_target")
        out["R"] = (False, "cycle.smart.R.no_target")
    elif m is None or not _finite(g.baseline):
        out["A"] = (False, "cycle.smart.A.no_baseline")
        out["R"] = (False, "cycle.smart.R.no_baseline")
    else:
        gap = float(g.target) - float(g.baseline)
        better = gap > 0 if m.higher_is_better else gap < 0
        out["A"] = (True, "cycle.smart.A.ok") if better else (False, "cycle.smart.A.not_better")
        low, high = m.bounds
        if not low <= float(g.target) <= high:
            out["R"] = (False, "cycle.smart.R.out_of_range")
        elif abs(gap) > m.max_gap:
            out["R"] = (False, "cycle.smart.R.too_far")
        else:
            out["R"] = (True, "cycle.smart.R.ok")
    if g.deadline is None:
        out["T"] = (False, "cycle.smart.T.no_deadline")
    elif g.period_end is not None and g.deadline <= g.period_end:
        out["T"] = (False, "cycle.smart.T.before_baseline")
    else:
        out["T"] = (True, "cycle.smart.T.ok")
    out["E"] = (
        (True, "cycle.smart.E.ok")
        if g.agreed_by and g.agreed_at is not None
        else (False, "cycle.smart.E.not_agreed")
    )
    return {letter: out[letter] for letter in SMART_LETTERS}


#: The planning phase's checklist item that a SMART goal must back.
SMART_GOAL_ITEM = "cycle.check.planlegging.smart_goal"
#: The phase that cannot be left without a SMART goal (not even with a decision).
SMART_GOAL_PHASE = "planlegging"


class NoSmartGoal(ValidationError):
    """Ticking «SMART mål er satt» or leaving the planning phase without a SMART goal.

    The guideline's planning phase exists to set the goal; a group can move past other
    open items with a recorded decision, but not past this one. ``missing`` names the
    SMART letters the project's best goal still fails (all of them with no goal).
    """

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = list(missing)
        super().__init__(
            "error.cycle.no_smart_goal",
            missing=", ".join(t(f"cycle.smart.letter.{letter}") for letter in self.missing),
        )


def smart_gaps(goals: Iterable[Goal | Mapping[str, Any]]) -> list[str]:
    """The SMART letters the project's best goal fails ([] = it has a SMART goal)."""
    best = list(SMART_LETTERS)
    for goal in goals:
        failing = [letter for letter, (ok, _) in smart_check(goal).items() if not ok]
        if len(failing) < len(best):
            best = failing
    return best


def require_smart_goal(goals: Iterable[Goal | Mapping[str, Any]]) -> None:
    """Raise :class:`NoSmartGoal` unless one of ``goals`` passes :func:`smart_check`."""
    missing = smart_gaps(goals)
    if missing:
        raise NoSmartGoal(missing)


# --------------------------------------------------------------------------- project view


class PhaseNotDone(ValidationError):
    """Moving to the next phase with checklist items still open.

    ``open_items`` lists the open items' texts (in the language of the moment); the
    message names them. Move anyway with ``force=True`` and a recorded decision.
    """

    def __init__(self, phase_code: str, open_items: Sequence[str]) -> None:
        self.open_items = list(open_items)
        self.phase_code = phase_code
        super().__init__(
            "error.cycle.phase_not_done",
            phase=t(f"cycle.phase.{phase_code}"),
            items="; ".join(self.open_items),
        )


@dataclass(frozen=True)
class Project:
    """An improvement project as read from the store, with everything that belongs to it.

    members, checklist, notes, goals, changes, evaluations: lists of dicts (rows).
    A checklist row has ``id``, ``phase``, ``item_key`` (default item) or ``text``
    (added by the group), ``done``, ``done_by``, ``done_at``.
    """

    id: int
    title: str
    teams: tuple[str, ...]
    phase: str
    status: str
    version: int
    theme: str | None = None
    question: str | None = None
    evaluations_per_year: int | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    members: list[dict[str, Any]] = field(default_factory=list)
    checklist: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    goals: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)

    def items(self, phase_code: str) -> list[dict[str, Any]]:
        """The checklist rows of one phase, in order."""
        return [r for r in self.checklist if r["phase"] == phase_code]

    def open_items(self, phase_code: str | None = None, language: str | None = None) -> list[str]:
        """Texts of the open checklist items of ``phase_code`` (default: current phase)."""
        rows = self.items(phase_code or self.phase)
        return [item_text(r, language) for r in rows if not r["done"]]

    def next_due(self) -> date | None:
        """The earliest evaluation not yet done."""
        due = [e["due"] for e in self.evaluations if e.get("done_at") is None]
        return min(due) if due else None


def item_text(row: Mapping[str, Any], language: str | None = None) -> str:
    """A checklist row's text: the catalog text of a default item, else the group's text."""
    key = row.get("item_key")
    return t(key, language=language) if key else str(row.get("text") or "")


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The goal measure before and after the change(s), with the verdict and its rule.

    chart: the :class:`kor.spc.ControlChart`, split at the change log's dates.
    phases: the :class:`kor.spc.PhaseComparison` everything below is read from (the
    verdict, the rules, the numbers and the points :meth:`plot` marks).
    direction: its direction (``signal_up``, ``signal_down``, ``no_signal``).
    outcome: ``improved``, ``worse`` or ``no_signal`` (:func:`judge`: the direction read
    with the measure's ``higher_is_better``). rules: which signals fired in the latest
    phase against the phase before (``runs`` = unusually long run, ``crossings`` = too
    few crossings, ``sigma`` = points outside the 3-sigma limits), with ``details``
    (the numbers behind them); signals that point against the change of level leave
    the outcome at ``no_signal`` (``phases.mixed``). latest: the latest phase's level;
    baseline: the earlier phase's centre line (in the measure's unit). target_reached:
    the latest level is at or beyond the target (None without a target).
    few_points: a phase had fewer than 10 useful points (the rules have little power).
    """

    chart: spc.ControlChart
    measure: GoalMeasure
    direction: str
    outcome: str
    rules: tuple[str, ...]
    details: dict[str, Any]
    baseline: float | None
    latest: float | None
    target: float | None
    target_reached: bool | None
    few_points: bool
    changes: tuple[tuple[pd.Timestamp, str], ...] = ()
    phases: spc.PhaseComparison | None = None

    def headline(self, language: str | None = None) -> str:
        """One word-ish verdict: «Forbedret», «Ingen signal ennå», «Forverret»."""
        return t(f"cycle.verdict.{self.outcome}", language=language)

    def rule_text(self, language: str | None = None) -> str:
        """The rule behind the verdict, in plain words with its numbers.

        Every rule named here is a rule :attr:`phases` found, and the chart
        (:meth:`plot`) marks the same points, so the words and the marks agree.
        """
        if not self.rules:
            return t("cycle.rule.none", language=language, **self.details)
        parts = [t(f"cycle.rule.{rule}", language=language, **self.details) for rule in self.rules]
        if self.phases is not None and self.phases.mixed:
            parts.append(t("cycle.rule.mixed", language=language))
        return " ".join(parts)

    def text(self, language: str | None = None) -> str:
        """The plain-language verdict: outcome, the rule behind it, the target."""
        unit = t(self.measure.unit, language=language)
        parts = [
            t(
                f"cycle.verdict_text.{self.outcome}",
                language=language,
                measure=self.measure.label(language),
                before=_fmt(self.baseline, language),
                after=_fmt(self.latest, language),
                unit=unit,
            ),
            self.rule_text(language),
        ]
        if self.target_reached is not None:
            key = "cycle.target.reached" if self.target_reached else "cycle.target.not_reached"
            target = _fmt(self.target, language)
            parts.append(t(key, language=language, target=target, unit=unit))
        if self.few_points:
            parts.append(t("cycle.few_points", language=language))
        return " ".join(parts)

    def plot(self, ax: Any = None, title: str | None = None) -> Any:
        """The chart with the change log's entries as annotations; returns the Axes.

        The latest phase is drawn with the lines it was tested against (those of the
        phase before) and only the points :attr:`phases` found outside them are
        marked: what the verdict's text says is what the chart shows.
        """
        from kor import spc_plot

        chart = self.phases.chart(self.chart) if self.phases is not None else self.chart
        return spc_plot.control_chart(
            chart,
            ax=ax,
            title=title if title is not None else self.measure.label(),
            annotations=[(when, text[:40]) for when, text in self.changes],
            ylabel=t(self.measure.unit),
        )


def _fmt(value: float | None, language: str | None = None) -> str:
    """One decimal; a decimal comma in bokmål."""
    if value is None or not np.isfinite(value):
        return "–"
    text = f"{value:.1f}"
    return text.replace(".", ",") if (language or get_language()) == "nb" else text


def _changes(changes: Any) -> list[tuple[pd.Timestamp, str]]:
    """Change-log entries as (date, text), sorted; a frame, (date, text) pairs or dates."""
    if changes is None:
        return []
    if isinstance(changes, pd.DataFrame):
        date_col = "change_date" if "change_date" in changes.columns else "date"
        pairs = zip(changes[date_col], changes.get("text", [""] * len(changes)), strict=False)
    else:
        pairs = (
            (c.get("change_date", c.get("date")), c.get("text", ""))
            if isinstance(c, Mapping)
            else (c if isinstance(c, tuple) else (c, ""))
            for c in changes
        )
    return sorted((pd.Timestamp(d), str(x or "")) for d, x in pairs if d is not None)


def evaluate_goal(
    series: pd.DataFrame,
    changes: Any,
    baseline_end: Any = None,
    *,
    measure: str | GoalMeasure,
    target: float | None = None,
) -> Evaluation:
    """The goal measure's chart before and after the change, and the verdict.

    series: :func:`goal_series` output (``month``, ``value``, ``n``, ``count``).
    changes: the change log: a frame with ``change_date`` (or ``date``) and ``text``,
    dicts with those keys, or dates. Each dated change starts a new phase at the first
    month on or after it (:func:`kor.spc.control_chart`, ``part=``); changes before
    the first or after the last month split nothing.
    baseline_end: the end of the goal's baseline period: the first phase's lines come
    from the months up to it (``freeze``); later phases get their own lines.
    measure: the goal measure (chart type and direction). target: the goal's target.

    The verdict is :func:`kor.spc.compare_phases` on that chart: the latest phase tested
    against the centre line and limits of the phase before (Anhøj runs rules and the
    3-sigma rule), read with the measure's direction: a signal in the better
    direction is ``improved``, in the worse direction ``worse``, else ``no_signal``.
    The rules that fired are named with their numbers (:meth:`Evaluation.rule_text`).
    A measure with its own ``evaluate`` (too few points for these rules) is evaluated
    by it instead.

    References: Anhøj J, Olesen AV. PLoS One 2014;9(11):e113825.
    doi:10.1371/journal.pone.0113825
    """
    m = _measure(measure)
    if m.evaluate is not None:
        return m.evaluate(series, changes, baseline_end, measure=m, target=target)
    if series.empty:
        raise ValidationError("error.spc.too_few_points", n=0)
    entries = _changes(changes)
    months = pd.to_datetime(series["month"])
    breaks = [when for when, _ in entries if months.min() < when <= months.max()]
    # The baseline as a count of points: kor.spc's date form of `freeze` writes into a
    # read-only array under pandas' copy-on-write, the position form does not.
    freeze = None
    if baseline_end is not None:
        freeze = int((months <= pd.Timestamp(baseline_end)).sum()) or None
    kind = m.chart
    kw: dict[str, Any] = {"x": months, "chart": kind, "part": breaks or None, "freeze": freeze}
    if kind == "p":
        kw.update(y=series["count"], n=series["n"], multiply=100)
    else:
        kw.update(y=series["value"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KorStatisticalWarning)
        chart = spc.control_chart(**kw)
    few = any(issubclass(w.category, KorStatisticalWarning) for w in caught)
    comparison = spc.compare_phases(chart)
    direction = comparison.direction
    outcome = judge(direction, m)
    after = comparison.after
    reached = None
    if target is not None and after is not None and np.isfinite(after):
        reached = bool(after >= target) if m.higher_is_better else bool(after <= target)
    runs = comparison.runs
    tested = list(comparison.tested)
    cl = comparison.data["cl"].to_numpy(dtype=float)[tested]
    details = {
        "points": int(runs["n_obs"]),
        "useful": int(runs["n_useful"]),
        "longest_run": _int(runs["longest_run"]),
        "longest_run_max": _int(runs["longest_run_max"]),
        "crossings": _int(runs["n_crossings"]),
        "crossings_min": _int(runs["n_crossings_min"]),
        "beyond": comparison.n_beyond,
        "centre": _fmt(float(np.nanmean(cl)) if np.isfinite(cl).any() else None),
    }
    return Evaluation(
        chart=chart,
        measure=m,
        direction=direction,
        outcome=outcome,
        rules=comparison.rules,
        details=details,
        baseline=comparison.before,
        latest=after,
        target=target,
        target_reached=reached,
        few_points=few,
        changes=tuple(entries),
        phases=comparison,
    )


def judge(direction: str, measure: str | GoalMeasure) -> str:
    """``improved``/``worse``/``no_signal`` from an up/down direction and the measure.

    The one place where «up» becomes better or worse: up is ``improved`` for a measure
    where higher is better and ``worse`` where lower is better (and vice versa).
    """
    m = _measure(measure)
    if direction not in ("signal_up", "signal_down"):
        return "no_signal"
    good = "signal_up" if m.higher_is_better else "signal_down"
    return "improved" if direction == good else "worse"


def _int(value: Any) -> int | str:
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else int(value)


# --------------------------------------------------------------------------- schedule


def next_evaluation_due(last: date, per_year: int = 1) -> date:
    """The date of the next evaluation: ``12 / per_year`` months after ``last``.

    The guideline asks for evaluations 1-2 times a year so that the effect of the
    improvement does not fade (standardisering og oppfølging).

    >>> next_evaluation_due(date(2026, 1, 31), 2)
    datetime.date(2026, 7, 31)
    """
    if per_year not in (1, 2):
        raise ValidationError("error.bad_choice", field="per_year", choices="1, 2")
    return (pd.Timestamp(last) + pd.DateOffset(months=12 // per_year)).date()


def overdue(evaluations: pd.DataFrame | Iterable[Mapping[str, Any]], today: date) -> pd.DataFrame:
    """Evaluations due before ``today`` and not done, with ``days_overdue``.

    evaluations: rows with ``project_id``, ``due`` (date) and ``done_at`` (None/NaT
    while not done); other columns are kept. Returns the overdue rows sorted by due
    date, plus ``days_overdue`` (int).
    """
    frame = evaluations if isinstance(evaluations, pd.DataFrame) else pd.DataFrame(evaluations)
    if frame.empty:
        return frame.assign(days_overdue=pd.Series(dtype="int64"))
    due = pd.to_datetime(frame["due"])
    open_ = frame["done_at"].isna() if "done_at" in frame.columns else True
    mask = open_ & (due < pd.Timestamp(today))
    out = frame.loc[mask].copy()
    out["days_overdue"] = (pd.Timestamp(today) - due[mask]).dt.days.astype("int64")
    return out.sort_values("due").reset_index(drop=True)


def default_goal_dates(today: date) -> tuple[date, date, date]:
    """Suggested baseline period and deadline for a new goal.

    Baseline: the 12 months ending 6 months before ``today`` (first to last day of
    month), so that there are data both in the baseline and after it; deadline: one
    year from ``today``.

    >>> default_goal_dates(date(2026, 11, 23))
    (datetime.date(2025, 5, 1), datetime.date(2026, 4, 30), datetime.date(2027, 11, 23))
    """
    month = pd.Timestamp(today).to_period("M")
    start = (month - 18).to_timestamp().date()
    end = (month - 7).to_timestamp(how="end").date()
    deadline = (pd.Timestamp(today) + pd.DateOffset(years=1)).date()
    return start, end, deadline


# --------------------------------------------------------------------------- from a BSB proposal


def create_project_from_proposal(store: Any, actor: Any, proposal: Mapping[str, Any]) -> int:
    """Turn an improvement agreed at a dialogue conference into a project; returns its id.

    proposal keys:

    * ``title`` (str, required): the project's title;
    * ``team`` (str, required): the team code the improvement is for;
    * ``theme`` (str, optional): the BSB theme (e.g. ``"information"``);
    * ``question`` (str, optional): the questionnaire item or question behind it;
    * ``baseline`` (number or str, optional): the result that showed the need, e.g.
      ``"58 % of users felt heard (staff believed 85 %)"``; kept as a note in the
      planning phase, so the group maps current practice from it.

    The project starts in forberedelse with «need recognised» ticked (the users showed
    it) and a decision recording where the proposal came from.
    """
    title = str(proposal.get("title") or "").strip()
    team = proposal.get("team")
    if not title:
        raise ValidationError("error.required", field="title")
    if not team:
        raise ValidationError("error.required", field="team")
    project_id = store.create_project(
        actor,
        title,
        teams=[str(team)],
        theme=proposal.get("theme"),
        question=proposal.get("question"),
        source="bsb",
    )
    store.add_note(
        actor,
        project_id,
        "forberedelse",
        t("cycle.proposal.decision", theme=proposal.get("theme") or "–"),
        kind="decision",
    )
    if proposal.get("baseline") is not None:
        store.add_note(
            actor,
            project_id,
            "planlegging",
            t("cycle.proposal.baseline", baseline=proposal["baseline"]),
        )
    need = PHASES[0].item_key("need_recognised")
    for row in store.project(actor, project_id).checklist:
        if row.get("item_key") == need:
            store.set_checklist_item(actor, row["id"], True)
    return project_id
