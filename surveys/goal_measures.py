"""«Bruker spør bruker» items as goal measures of the improvement cycle.

The issue asks for SMART goals bound to a live measure, «a KOR indicator … or a BSB
item». This module declares one :class:`kor.cycle.GoalMeasure` per scored user question
of a questionnaire (key ``"bsb:<question>"``, the key
:func:`surveys.improvements.propose_projects` already puts in its proposals) and the
loader of their data (source ``"bsb"``).

What a BSB goal measures. One point per survey round (baseline, follow-up, …) of the
goal's team (the survey's ``service``): the **mean score of the users interviewed** (1-5
on a Likert item, 0-10 on the overall scale), with ``n`` = users with a scored answer,
their SD and a 95 % t-interval. The mean, not the share in the top two options, because
it is the number the dialogue conference saw (:func:`surveys.improvements.propose_projects`
gives the users' mean as the baseline) and the number whose change
:func:`surveys.analysis.changes` tests and gives a confidence interval for. «Vet ikke» and
«ikke aktuelt» are not scored (:func:`surveys.analysis.score_answers`). A round with fewer
than :data:`surveys.analysis.MIN_GROUP` (5) scored user answers is suppressed: left out of
the series, so it is neither a point, nor a baseline, nor compared.

Baseline. The goal's baseline is the value in the round(s) dated inside the goal's
baseline period (:func:`kor.cycle.goal_baseline`: with one round in the period, the
round's mean; with more, the mean of their means). Target and deadline are set by the
group as for any goal.

Evaluation. Surveys are repeated once or twice a year, so a goal has two or three points:
far too few for a run chart with Anhøj's rules (they need at least 10 useful points). So
a BSB goal is evaluated round against round instead (:func:`evaluate_rounds`): the latest
round after the baseline period against the baseline round(s), with the statistics of
:func:`surveys.analysis.changes` (its engine :func:`surveys.analysis.compare_groups`):
difference in means with a Welch CI, probability of superiority with its CI and the
Brunner-Munzel test, a rank test for ordinal answers of two independent samples (the
respondents of two rounds are different people). Improved / worse when the test is
significant at 5 % in the better / worse direction, else «no signal»; the verdict text
names the test, its numbers, and why no control chart is used.

Why no import cycle. ``kor`` never imports this module at start-up: ``kor.cycle`` lists
it in :data:`kor.cycle.GOAL_MEASURE_MODULES` and imports it the first time its measure
registry is read (as :data:`kor.cli.EXTENSIONS` names command modules); importing it
registers the default questionnaire's items and the ``"bsb"`` source. A service with its
own questionnaire calls :func:`register_bsb_measures` with it.

References: Brunner E, Munzel U. Biom J 2000;42(1):17-25.
doi:10.1002/(SICI)1521-4036(200001)42:1<17::AID-BIMJ17>3.0.CO;2-U
Anhøj J, Olesen AV. PLoS One 2014;9(11):e113825. doi:10.1371/journal.pone.0113825
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kor import cycle
from kor.access import Actor, require_role
from kor.errors import AccessDenied
from kor.i18n import get_language, t
from surveys import analysis
from surveys.forms import Questionnaire, default_form

__all__ = [
    "SOURCE",
    "KEY_PREFIX",
    "RESPONDENT",
    "ALPHA",
    "REALISTIC_SHARE",
    "FRAME_COLUMNS",
    "BsbGoalMeasure",
    "RoundEvaluation",
    "measure_key",
    "goal_frame",
    "round_series",
    "evaluate_rounds",
    "bsb_measures",
    "register_bsb_measures",
    "load_goal_data",
]

#: The goal source name of BSB measures (:func:`kor.cycle.register_goal_source`).
SOURCE = "bsb"
#: Keys of BSB goal measures are ``KEY_PREFIX + question``.
KEY_PREFIX = "bsb:"
#: Whose answers a goal follows: the users' own.
RESPONDENT = "user"
#: Significance level of the round-to-round test.
ALPHA = 0.05
#: The largest target-baseline gap still called realistic (SMART «R»), as a share of the
#: scale's range: 1.2 points on a 1-5 item, 3 points on the 0-10 scale.
REALISTIC_SHARE = 0.3
#: Columns of :func:`goal_frame` (the data a BSB goal measure is computed from).
FRAME_COLUMNS: tuple[str, ...] = (
    "service",
    "survey_id",
    "round",
    "date",
    "respondent",
    "question",
    "score",
)
#: Anhøj's rules need at least this many useful points (the verdict text says so).
_RUNS_MIN_POINTS = 10


def measure_key(question: str) -> str:
    """The goal-measure key of a BSB question.

    >>> measure_key("u_heard")
    'bsb:u_heard'
    """
    return f"{KEY_PREFIX}{question}"


# --------------------------------------------------------------------------- data


def goal_frame(answers: pd.DataFrame, form: Questionnaire) -> pd.DataFrame:
    """Scored answers dated by their round: the frame a BSB goal measure takes.

    answers: :meth:`kor.store.Store.survey_answers` (``round``, ``respondent``,
    ``question``, ``value_text``; ``service`` and ``survey_id`` if known) plus ``date``,
    the date the round began. form: the questionnaire the answers were given to.
    Returns :data:`FRAME_COLUMNS`, one row per scored answer («vet ikke» and unscored
    questions left out); ``score`` in the item's unit.

    >>> a = pd.DataFrame({"round": "baseline", "respondent": "user", "question": "u_heard",
    ...                   "value_text": ["4", "vet_ikke"], "date": "2025-03-03"})
    >>> goal_frame(a, default_form())["score"].tolist()
    [4.0]
    """
    if answers.empty:
        return _empty_frame()
    scored = analysis.score_answers(answers, form)
    scored = scored.loc[scored["score"].notna()].copy()
    for col in ("service", "survey_id"):
        if col not in scored.columns:
            scored[col] = None
    scored["date"] = pd.to_datetime(scored["date"])
    return scored.loc[:, list(FRAME_COLUMNS)].reset_index(drop=True)


def _empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in FRAME_COLUMNS})
    return frame.astype({"date": "datetime64[ns]", "score": float})


def round_series(
    data: pd.DataFrame,
    team: str | None = None,
    start: Any = None,
    end: Any = None,
    *,
    question: str,
    min_n: int = analysis.MIN_GROUP,
) -> pd.DataFrame:
    """One point per survey round: the users' mean score on ``question``.

    data: :func:`goal_frame`. team: the survey's service (None = every service).
    start, end: keep rounds that began in this window (inclusive dates).
    Returns, sorted by date, ``month`` (the date the round began), ``value`` (mean
    score), ``n`` (users with a scored answer), ``round``, ``sd``, ``ci_low``,
    ``ci_high`` (95 % t-interval of the mean) and ``scores`` (the round's scores as a
    sorted tuple, for the round-to-round test). Rounds with fewer than ``min_n`` scores
    are suppressed: left out. This is the ``series`` of a :class:`BsbGoalMeasure`.
    """
    from scipy import stats

    d = data.loc[(data["respondent"] == RESPONDENT) & (data["question"] == question)]
    if team is not None:
        d = d.loc[d["service"] == team]
    when = pd.to_datetime(d["date"])
    if start is not None:
        d = d.loc[when >= pd.Timestamp(start)]
        when = when.loc[d.index]
    if end is not None:
        d = d.loc[when <= pd.Timestamp(end)]
    rows = []
    for (day, rnd), part in d.groupby([pd.to_datetime(d["date"]), "round"], sort=True):
        scores = np.sort(part["score"].dropna().to_numpy(float))
        n = len(scores)
        if n < min_n:
            continue
        mean, sd = float(scores.mean()), float(scores.std(ddof=1))
        half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n))
        rows.append(
            {
                "month": pd.Timestamp(day),
                "value": mean,
                "n": float(n),
                "round": rnd,
                "sd": sd,
                "ci_low": mean - half,
                "ci_high": mean + half,
                "scores": tuple(scores.tolist()),
            }
        )
    columns = ["month", "value", "n", "round", "sd", "ci_low", "ci_high", "scores"]
    out = pd.DataFrame(rows, columns=columns)
    out["month"] = pd.to_datetime(out["month"])
    return out.sort_values("month").reset_index(drop=True)


# --------------------------------------------------------------------------- evaluation


def _fmt(value: float | None, language: str | None, digits: int = 1) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if (language or get_language()) == "nb" else text


def _p(value: float, language: str | None) -> str:
    if not np.isfinite(value):
        return "–"
    return "< " + _fmt(0.001, language, 3) if value < 0.001 else "= " + _fmt(value, language, 3)


def _round_name(rounds: Sequence[tuple[str, pd.Timestamp]], language: str | None) -> str:
    """«Første runde 2025-03» (several rounds joined with «+»)."""
    return " + ".join(
        f"{t(f'surveys.round.{rnd}', language=language)} {pd.Timestamp(when):%Y-%m}"
        for rnd, when in rounds
    )


@dataclass(frozen=True, eq=False)
class RoundEvaluation(cycle.Evaluation):
    """The verdict on a BSB goal: the latest round against the baseline round(s).

    Everything :class:`kor.cycle.Evaluation` has (``outcome``, ``baseline``, ``latest``,
    ``target_reached``, ``text()``, ``plot()``), except ``chart``, which is None: two or
    three rounds make no control chart. state: ``"compared"``, ``"no_baseline"`` (no
    unsuppressed round in the baseline period) or ``"no_follow_up"`` (none after it yet).
    rounds: :func:`round_series` (the points). comparison: the row of
    :func:`surveys.analysis.compare_groups` (``difference``, ``ci_low``, ``ci_high``,
    ``prob_superiority``, ``ps_ci_low``, ``ps_ci_high``, ``p_value``, ``n_a`` = after,
    ``n_b`` = before), empty unless compared.
    """

    state: str = "compared"
    rounds: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparison: dict[str, Any] = field(default_factory=dict)
    alpha: float = ALPHA

    def rule_text(self, language: str | None = None) -> str:
        """The test behind the verdict with its numbers, and why it is not a run chart."""
        if self.state != "compared":
            return t(f"bsb_goal.{self.state}", language=language, min_n=analysis.MIN_GROUP)
        c = self.comparison
        unit = t(self.measure.unit, language=language)
        level = _fmt(100 * self.alpha, language, 0)
        parts = [
            t(
                "bsb_goal.test",
                language=language,
                difference=_fmt(c["difference"], language, 2),
                ci_low=_fmt(c["ci_low"], language, 2),
                ci_high=_fmt(c["ci_high"], language, 2),
                unit=unit,
                ps=_fmt(c["prob_superiority"], language, 2),
                ps_low=_fmt(c["ps_ci_low"], language, 2),
                ps_high=_fmt(c["ps_ci_high"], language, 2),
                p=_p(c["p_value"], language),
            ),
            t(
                "bsb_goal.significant" if c["p_value"] < self.alpha else "bsb_goal.not_significant",
                language=language,
                level=level,
            ),
            t(
                "bsb_goal.why",
                language=language,
                rounds=len(self.rounds),
                minimum=_RUNS_MIN_POINTS,
            ),
        ]
        return " ".join(parts)

    def text(self, language: str | None = None) -> str:
        """The plain-language verdict: outcome with the rounds, the test, the target."""
        unit = t(self.measure.unit, language=language)
        parts = []
        if self.state == "compared":
            c = self.comparison
            parts.append(
                t(
                    f"bsb_goal.verdict.{self.outcome}",
                    language=language,
                    measure=self.measure.label(language),
                    before=_fmt(self.baseline, language),
                    after=_fmt(self.latest, language),
                    unit=unit,
                    before_round=_round_name(c["before_rounds"], language),
                    after_round=_round_name([c["after_round"]], language),
                    n_before=int(c["n_b"]),
                    n_after=int(c["n_a"]),
                )
            )
        else:
            parts.append(
                t(
                    "bsb_goal.verdict.pending",
                    language=language,
                    measure=self.measure.label(language),
                    before=_fmt(self.baseline, language),
                    unit=unit,
                )
            )
        parts.append(self.rule_text(language))
        if self.target_reached is not None:
            key = "cycle.target.reached" if self.target_reached else "cycle.target.not_reached"
            parts.append(t(key, language=language, target=_fmt(self.target, language), unit=unit))
        return " ".join(parts)

    def plot(self, ax: Any = None, title: str | None = None) -> Any:
        """Round means with their 95 % intervals, the baseline, the target and the change
        log's dates; returns the Axes."""
        return _plot_rounds(self, ax=ax, title=title)


def evaluate_rounds(
    series: pd.DataFrame,
    changes: Any = None,
    baseline_end: Any = None,
    *,
    measure: str | cycle.GoalMeasure,
    target: float | None = None,
    alpha: float = ALPHA,
) -> RoundEvaluation:
    """The latest round after the baseline period against the baseline round(s).

    series: :func:`round_series` as :func:`kor.cycle.goal_series` returns it (from the
    baseline start to today). changes: the change log (shown on the chart only).
    baseline_end: rounds that began on or before it are the baseline (pooled, if more
    than one); without it the first round is. measure: the BSB goal measure.
    The comparison is :func:`surveys.analysis.compare_groups` on the two groups of
    scores, as :func:`surveys.analysis.changes` makes it: Welch CI of the difference,
    probability of superiority, Brunner-Munzel p. ``improved`` when p < ``alpha`` in the
    measure's better direction, ``worse`` in the other, else ``no_signal``; without a
    baseline or a later round the outcome is ``no_signal`` and the state says why.
    """
    m = cycle.GOAL_MEASURES[measure] if isinstance(measure, str) else measure
    rounds = series.sort_values("month").reset_index(drop=True)
    when = pd.to_datetime(rounds["month"])
    if baseline_end is None:
        is_before = pd.Series(np.arange(len(rounds)) == 0, index=rounds.index)
    else:
        is_before = when <= pd.Timestamp(baseline_end)
    before, after = rounds.loc[is_before], rounds.loc[~is_before]
    common = {
        "chart": None,  # two or three rounds make no control chart
        "measure": m,
        "target": target,
        "few_points": False,
        "changes": tuple(cycle._changes(changes)),
        "rounds": rounds,
        "alpha": alpha,
    }
    pooled = (
        np.concatenate([np.asarray(s, float) for s in before["scores"]]) if len(before) else None
    )
    baseline = float(pooled.mean()) if pooled is not None else None
    if before.empty or after.empty:
        return RoundEvaluation(
            direction="no_signal",
            outcome="no_signal",
            rules=(),
            details={},
            baseline=baseline,
            latest=None,
            target_reached=None,
            state="no_baseline" if before.empty else "no_follow_up",
            **common,
        )
    last = after.iloc[-1]
    key = m.key if isinstance(m, cycle.GoalMeasure) else str(m)
    row = analysis.compare_groups(
        [(key, np.asarray(last["scores"], float), pooled)], alpha=alpha
    ).iloc[0]
    comparison = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    comparison["before_rounds"] = list(zip(before["round"], before["month"], strict=True))
    comparison["after_round"] = (last["round"], last["month"])
    significant = bool(np.isfinite(row["p_value"]) and row["p_value"] < alpha)
    direction = "no_signal"
    if significant and row["difference"] != 0:
        direction = "signal_up" if row["difference"] > 0 else "signal_down"
    good = "signal_up" if m.higher_is_better else "signal_down"
    outcome = (
        "no_signal" if direction == "no_signal" else ("improved" if direction == good else "worse")
    )
    latest = float(row["mean_a"])
    reached = None
    if target is not None:
        reached = bool(latest >= target) if m.higher_is_better else bool(latest <= target)
    return RoundEvaluation(
        direction=direction,
        outcome=outcome,
        rules=("rank_test",) if direction != "no_signal" else (),
        details={"p_value": float(row["p_value"]), "difference": float(row["difference"])},
        baseline=float(row["mean_b"]),
        latest=latest,
        target_reached=reached,
        state="compared",
        comparison=comparison,
        **common,
    )


def _plot_rounds(ev: RoundEvaluation, ax: Any = None, title: str | None = None) -> Any:
    """Draw an evaluation's rounds (no statistics here: the series carries them)."""
    from kor.plotting import MARKERS, PALETTE, new_axes

    ax = ax if ax is not None else new_axes()
    r = ev.rounds
    if not r.empty:
        x = pd.to_datetime(r["month"])
        y = r["value"].to_numpy(float)
        err = np.vstack([y - r["ci_low"].to_numpy(float), r["ci_high"].to_numpy(float) - y])
        ax.errorbar(
            x,
            y,
            yerr=err,
            color=PALETTE[0],
            marker=MARKERS[0],
            markersize=8,
            capsize=6,
            linewidth=2,
            label=t("bsb_goal.legend.mean"),
        )
        for xi, yi, ni, rnd in zip(x, r["ci_high"], r["n"], r["round"], strict=True):
            label = f"{t(f'surveys.round.{rnd}')}\nn = {int(ni)}"
            ax.annotate(
                label, (xi, yi), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=9
            )
        pad = pd.Timedelta(days=90)
        ax.set_xlim(x.min() - pad, x.max() + pad)
    if ev.baseline is not None:
        ax.axhline(
            ev.baseline,
            color=PALETTE[1],
            linestyle="--",
            linewidth=1.5,
            label=t("bsb_goal.legend.baseline"),
        )
    if ev.target is not None:
        ax.axhline(
            ev.target,
            color=PALETTE[2],
            linestyle=":",
            linewidth=2,
            label=t("bsb_goal.legend.target"),
        )
    for when, text in ev.changes:
        ax.axvline(when, color=PALETTE[7], linestyle="-.", linewidth=1)
        ax.annotate(
            text[:40],
            (when, 0.02),
            xycoords=("data", "axes fraction"),
            rotation=90,
            xytext=(-4, 0),
            textcoords="offset points",
            fontsize=8,
            va="bottom",
            ha="right",
        )
    low, high = ev.measure.bounds
    ax.set_ylim(low, high + 0.12 * (high - low))
    ax.set_ylabel(t(ev.measure.unit))
    ax.set_xlabel(t("bsb_goal.axis.round"))
    ax.set_title("\n".join(textwrap.wrap(title or ev.measure.label(), 70)), fontsize=11)
    ax.legend(loc="lower right", fontsize=9)
    return ax


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class BsbGoalMeasure(cycle.GoalMeasure):
    """A goal measure on one BSB user question; its label is the question's own text.

    question: the user question's name. texts: (language, short question text) pairs.
    """

    question: str = ""
    texts: tuple[tuple[str, str], ...] = ()

    def label(self, language: str | None = None) -> str:
        texts = dict(self.texts)
        lang = language or get_language()
        item = texts.get(lang) or texts.get("nb") or self.question
        low, high = (_fmt(b, lang, 0) for b in self.bounds)
        return t(self.label_key, language=language, item=item, low=low, high=high)


def _short(text: str) -> str:
    """The question without its parenthesised scale explanation."""
    return text.split(" (")[0].strip()


def bsb_measures(form: Questionnaire) -> list[BsbGoalMeasure]:
    """One goal measure per scored user question with a known scale (Likert or range).

    Higher is better on every item of the default questionnaire (agreement with a
    positive statement, satisfaction). ``max_gap``: :data:`REALISTIC_SHARE` of the range.
    """
    out = []
    for q in form.for_respondent(RESPONDENT):
        if q.respondent != RESPONDENT or q.type == "note" or not form.is_scored(q.name):
            continue
        if form.is_likert(q.name):
            scores = [c.score for c in form.choice_list(q.name) if c.score is not None]
            bounds = (float(min(scores)), float(max(scores)))
        elif q.start is not None and q.end is not None:
            bounds = (float(q.start), float(q.end))
        else:  # an integer without a declared range: no bounds for SMART «R»
            continue
        out.append(
            BsbGoalMeasure(
                key=measure_key(q.name),
                label_key="bsb_goal.measure",
                column=None,
                chart="i",
                higher_is_better=True,
                bounds=bounds,
                max_gap=round(REALISTIC_SHARE * (bounds[1] - bounds[0]), 2),
                unit="cycle.unit.points",
                source=SOURCE,
                series=functools.partial(round_series, question=q.name),
                evaluate=evaluate_rounds,
                question=q.name,
                texts=tuple((lang, _short(text)) for lang, text in q.labels.items()),
            )
        )
    return out


def register_bsb_measures(form: Questionnaire | None = None) -> list[str]:
    """Register the BSB goal measures of ``form`` (default: the default questionnaire)
    and the ``"bsb"`` source; returns the keys. Registering again replaces them."""
    measures = bsb_measures(form or default_form())
    for m in measures:
        cycle.register_goal_measure(m, replace=True)
    cycle.register_goal_source(SOURCE, load_goal_data)
    return [m.key for m in measures]


# --------------------------------------------------------------------------- loading


def load_goal_data(store: Any, actor: Actor, team: str | None) -> pd.DataFrame:
    """The :func:`goal_frame` of every dated survey round of ``team`` (None = all).

    Who may read: the roles that read improvement projects; a team lead or clinician
    only their own team's surveys (a researcher never). Rounds without a start date
    cannot be placed in time and are left out. Each survey is scored with its own
    questionnaire.
    """
    require_role(actor, *cycle.READ_ROLES)
    if actor.role in ("team_lead", "clinician"):
        if not actor.team or (team is not None and team != actor.team):
            raise AccessDenied()
        team = actor.team
    surveys = store.surveys(actor)
    if team is not None:
        surveys = surveys.loc[surveys["service"] == team]
    surveys = surveys.loc[surveys["start_date"].notna()]
    if surveys.empty:
        return _empty_frame()
    answers = store.survey_answers(actor, surveys["id"].tolist())
    dates = dict(zip(surveys["id"], surveys["start_date"], strict=True))
    answers["date"] = answers["survey_id"].map(dates)
    forms = dict(zip(surveys["id"], surveys["questionnaire_id"], strict=True))
    parts = []
    for qid, part in answers.groupby(answers["survey_id"].map(forms), sort=False):
        parts.append(goal_frame(part, store.questionnaire(actor, int(qid))))
    if not parts:
        return _empty_frame()
    return pd.concat(parts, ignore_index=True)


register_bsb_measures()
