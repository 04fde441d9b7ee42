"""Warnings for the clinician: rules are data, one vectorised engine evaluates them.

A :class:`Rule` is a declaration (id, kind, level, on/off, parameters); the kind says
which check the engine runs. A service switches rules on and off and changes their
thresholds from its configuration (:func:`rules_from_config`), without code.

Kinds and what they compare (``value`` / ``threshold`` in the flags frame):

==================  ==========================================================  ==================
kind                fires when                                                  value / threshold
==================  ==========================================================  ==================
not_on_track        outcome below the ``percentile`` of the expected path       outcome / p<pct>
no_improvement      no reliable improvement up to and including the first       best improvement
                    session >= ``by_session`` that has an outcome value         so far / rci
deterioration       outcome at least rci below intake                           improvement / -rci
alliance_low        alliance total below the measure's ``alliance_threshold``   alliance / 36
alliance_drop       alliance fell >= ``alliance_drop`` from the previous value  drop / 1
alliance_item       lowest alliance item below ``item_threshold``               min item / 9
missing_outcome     session without outcome value                               NaN / NaN
missing_alliance    session without alliance value                              NaN / NaN
==================  ==========================================================  ==================

"Improvement" is ``outcome - intake`` in points, sign-flipped for a measure where lower
is better, so positive always means better. The rci and the thresholds come from the
measure declarations (:mod:`kor.measures`: ORS reliable change 5, SRS alliance
threshold 36, drop 1, item 9) unless the rule sets ``threshold``. Differences are rounded
to 10 decimals and comparisons allow 1e-9 points, so an SRS drop from 32.8 to 31.8
(0.9999999999999964 in floating point) counts as the 1.0 it is.

Sources: non-improvement by session 3 / 6 and the advice to change approach or clinician:
Helsedirektoratet, «Sammen om mestring» (IS-2076, 2013), KOR section: «Hvis behandlingen
etter en viss tid ikke har effekt, skiftes behandler og/eller metode». Alliance alerts:
Duncan BL et al. J Brief Ther 2003;3(1):3-12, as the licensed FIT systems alert.
Expected-path percentiles: :mod:`kor.trajectories`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from kor import measures
from kor.change import _EPS, _clean, _group_codes, _measure_params, _Sorted
from kor.errors import ConfigError, ValidationError
from kor.frames import require_columns
from kor.i18n import catalog, get_language, t

__all__ = [
    "KINDS",
    "LEVELS",
    "PERSISTENT_KINDS",
    "FLAG_COLUMNS",
    "Rule",
    "DEFAULT_RULES",
    "rules_from_config",
    "evaluate_flags",
    "current_flags",
    "explain",
    "rule_name",
]

KINDS: tuple[str, ...] = (
    "not_on_track",
    "no_improvement",
    "deterioration",
    "alliance_low",
    "alliance_drop",
    "alliance_item",
    "missing_outcome",
    "missing_alliance",
)
LEVELS: tuple[str, ...] = ("alert", "warning", "info")  # most severe first
PERSISTENT_KINDS: tuple[str, ...] = ("no_improvement", "deterioration")

FLAG_COLUMNS: tuple[str, ...] = (
    "episode",
    "client",
    "team",
    "clinician",
    "session_no",
    "session_date",
    "rule",
    "kind",
    "level",
    "value",
    "threshold",
    "last_session_no",
    "resolved_session_no",
)

# Parameters each kind uses besides ``enabled`` and ``level``.
_PARAMETERS: dict[str, tuple[str, ...]] = {
    "not_on_track": ("percentile",),
    "no_improvement": ("by_session", "threshold"),
    "deterioration": ("threshold",),
    "alliance_low": ("threshold",),
    "alliance_drop": ("threshold",),
    "alliance_item": ("threshold",),
    "missing_outcome": (),
    "missing_alliance": (),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "not_on_track": ("percentile",),
    "no_improvement": ("by_session",),
}
# Where a rule without its own threshold takes it from: (measure column, Measure field).
_MEASURE_FIELD: dict[str, tuple[str, str]] = {
    "no_improvement": ("outcome_measure", "reliable_change"),
    "deterioration": ("outcome_measure", "reliable_change"),
    "alliance_low": ("alliance_measure", "alliance_threshold"),
    "alliance_drop": ("alliance_measure", "alliance_drop"),
    "alliance_item": ("alliance_measure", "item_threshold"),
}


@dataclass(frozen=True)
class Rule:
    """One flag rule (a declaration; :func:`evaluate_flags` is the engine).

    id: unique name, also the catalog prefix (``flag.<id>.name/explain/action``).
    kind: one of :data:`KINDS`; level: ``"alert"``, ``"warning"`` or ``"info"``.
    enabled: a disabled rule never fires.
    threshold: points compared with (rci for no_improvement/deterioration, ORS 5; the
    alliance limit 36, drop 1 or item limit 9 for alliance kinds, on the 0-40 total or
    0-10 item scale); None = from the measure declaration.
    by_session: no_improvement only; the session number (1-based) by which reliable
    improvement is expected (3 and 6 by default).
    percentile: not_on_track only; the expected-path percentile, 0-100 exclusive
    (column ``p<percentile>`` of the ``expected`` frame; 10 and 25 by default).

    >>> Rule("alliance_low_35", "alliance_low", "warning", threshold=35.0).persistent
    False
    """

    id: str
    kind: str
    level: str
    enabled: bool = True
    threshold: float | None = None
    by_session: int | None = None
    percentile: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ConfigError(f"flag rule: id must be a non-empty string, not {self.id!r}")
        if self.kind not in KINDS:
            raise ConfigError(f"flag rule {self.id!r}: unknown kind {self.kind!r}; use {KINDS}")
        if self.level not in LEVELS:
            raise ConfigError(f"flag rule {self.id!r}: unknown level {self.level!r}; use {LEVELS}")
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"flag rule {self.id!r}: enabled must be true or false")
        allowed = _PARAMETERS[self.kind]
        for name in ("threshold", "by_session", "percentile"):
            value = getattr(self, name)
            if value is None:
                if name in _REQUIRED.get(self.kind, ()):
                    raise ConfigError(f"flag rule {self.id!r}: {self.kind} needs {name}")
                continue
            if name not in allowed:
                raise ConfigError(
                    f"flag rule {self.id!r}: parameter {name!r} is not used by {self.kind}"
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"flag rule {self.id!r}: {name} must be a number")
            if not math.isfinite(value):
                raise ConfigError(f"flag rule {self.id!r}: {name} must be finite")
        if self.by_session is not None and (
            int(self.by_session) != self.by_session or self.by_session < 1
        ):
            raise ConfigError(f"flag rule {self.id!r}: by_session must be a whole number >= 1")
        if self.percentile is not None and not 0 < self.percentile < 100:
            raise ConfigError(f"flag rule {self.id!r}: percentile must lie between 0 and 100")

    @property
    def persistent(self) -> bool:
        """True for kinds that stay current until resolved (no_improvement, deterioration)."""
        return self.kind in PERSISTENT_KINDS


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("not_on_track_alert", "not_on_track", "alert", percentile=10),
    Rule("not_on_track_warning", "not_on_track", "warning", percentile=25),
    Rule("no_improvement_s6", "no_improvement", "alert", by_session=6),
    Rule("no_improvement_s3", "no_improvement", "warning", by_session=3),
    Rule("deterioration", "deterioration", "alert"),
    Rule("alliance_low", "alliance_low", "warning"),
    Rule("alliance_drop", "alliance_drop", "warning"),
    Rule("alliance_item", "alliance_item", "warning", enabled=False),
    Rule("missing_outcome", "missing_outcome", "info"),
    Rule("missing_alliance", "missing_alliance", "info"),
)


_SERVICE: dict[str, tuple[Rule, ...]] = {"rules": DEFAULT_RULES}


def configure(mapping: Mapping[str, Mapping[str, object]]) -> tuple[Rule, ...]:
    """Make a service's rule changes the rules in force (the ``[flags]`` section of its
    configuration, applied by :func:`kor.config.apply_service_config`); returns them."""
    _SERVICE["rules"] = rules_from_config(mapping)
    return _SERVICE["rules"]


def service_rules() -> tuple[Rule, ...]:
    """The rules in force: :data:`DEFAULT_RULES` with the service's configuration applied."""
    return _SERVICE["rules"]


def rules_from_config(
    mapping: Mapping[str, Mapping[str, object]],
    *,
    base: tuple[Rule, ...] = DEFAULT_RULES,
) -> tuple[Rule, ...]:
    """Rules with a service's changes applied, e.g. from its TOML configuration.

    mapping: rule id -> parameter changes, for example
    ``{"alliance_item": {"enabled": True}, "alliance_low": {"threshold": 35}}``.
    Changeable: ``enabled``, ``level`` and the parameters the rule's kind uses
    (``threshold``, ``by_session``, ``percentile``). Unknown rule ids, unknown or unused
    parameters and bad values raise :class:`~kor.errors.ConfigError` naming them;
    nothing is applied then.

    >>> rules = rules_from_config({"alliance_low": {"threshold": 35}})
    >>> next(r for r in rules if r.id == "alliance_low").threshold
    35
    """
    by_id = {r.id: r for r in base}
    unknown = sorted(set(mapping) - set(by_id))
    if unknown:
        raise ConfigError(f"unknown flag rule(s) {unknown}; known: {sorted(by_id)}")
    changed: dict[str, Rule] = {}
    for rule_id, changes in mapping.items():
        if not isinstance(changes, Mapping):
            raise ConfigError(f"flag rule {rule_id!r}: expected a table of parameters")
        rule = by_id[rule_id]
        allowed = {"enabled", "level", *_PARAMETERS[rule.kind]}
        bad = sorted(set(changes) - allowed)
        if bad:
            raise ConfigError(
                f"flag rule {rule_id!r}: unknown parameter(s) {bad}; allowed: {sorted(allowed)}"
            )
        changed[rule_id] = replace(rule, **changes)  # validated in __post_init__
    return tuple(changed.get(r.id, r) for r in base)


# --------------------------------------------------------------------------- engine

_SESSION_COLUMNS = [
    "episode",
    "age_group",
    "client",
    "team",
    "clinician",
    "session_date",
    "session_no",
    "outcome_measure",
    "outcome",
    "alliance_measure",
    "alliance",
    "alliance_min_item",
]


_VARIES = object()  # _declared_value: the measures of the kind declare different values


def _declared_value(attribute: str, kind: str) -> object:
    """``Measure.<attribute>`` if every registered measure of ``kind`` declares the same
    value (NaN for None), else :data:`_VARIES`."""
    declared = {getattr(m, attribute) for m in measures.MEASURES.values() if m.kind == kind}
    if len(declared) != 1:
        return _VARIES
    (only,) = declared
    return np.nan if only is None else float(only)


def _measure_values(codes: pd.Series, attribute: str, kind: str) -> np.ndarray:
    """``Measure.<attribute>`` per row (NaN where no code or no value declared).

    Fast path: when every registered measure of ``kind`` declares the same value (the
    shipped alliance measures all say 36 / 1 / 9), it applies to every row, without
    hashing 800,000 strings (codes are validated when stored, see :mod:`kor.measures`).
    Otherwise codes are looked up one by one, and a code
    that is not registered raises :class:`~kor.errors.ValidationError`.
    """
    column = f"{kind}_measure"
    declared = _declared_value(attribute, kind)
    if declared is not _VARIES:
        return np.full(len(codes), declared)
    values, uniques = pd.factorize(codes.astype("object"), use_na_sentinel=True)
    unknown = [u for u in uniques if u not in measures.MEASURES]
    if unknown:
        raise ValidationError("error.unknown_measure", field=column, measure=unknown[0])
    table = np.array(
        [
            np.nan
            if getattr(measures.MEASURES[u], attribute) is None
            else float(getattr(measures.MEASURES[u], attribute))
            for u in uniques
        ]
        + [np.nan],
        dtype="float64",
    )
    return table[values]  # sentinel -1 picks the trailing NaN


def _best_so_far(x: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Largest non-NaN ``x`` over positions ``start[i]..end[i]`` (inclusive), per i."""
    if len(end) == 0:
        return np.empty(0)
    padded = np.r_[x, np.nan]  # reduceat needs every index < len
    bounds = np.empty(2 * len(end), dtype="int64")
    bounds[0::2] = start
    bounds[1::2] = end + 1
    return np.fmax.reduceat(padded, bounds)[0::2]


def _first_per_group(codes: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(groups, first position) for sorted ``positions`` of rows with group ``codes``."""
    if len(positions) == 0:
        return positions, positions
    g = codes[positions]
    keep = np.r_[True, g[1:] != g[:-1]]
    return g[keep], positions[keep]


def _next_in_group(codes: np.ndarray, fired: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """For each fired position, the next candidate position in the same group, or -1."""
    if len(candidates) == 0:
        return np.full(len(fired), -1)
    j = np.searchsorted(candidates, fired, side="right")
    ok = j < len(candidates)
    nxt = np.where(ok, candidates[np.minimum(j, len(candidates) - 1)], -1)
    same = ok & (codes[np.maximum(nxt, 0)] == codes[fired])
    return np.where(same, nxt, -1)


class _Expected:
    """The ``expected`` frame's percentile columns aligned to the sorted sessions."""

    def __init__(self, expected: pd.DataFrame, episode: np.ndarray, session_no: np.ndarray):
        require_columns(expected, ("episode", "session_no"), where="expected")
        self.frame = expected.dropna(subset=["episode", "session_no"])
        e_ep = self.frame["episode"].to_numpy()
        e_no = pd.to_numeric(self.frame["session_no"]).to_numpy().astype("int64")
        if episode.dtype.kind in "iu" and e_ep.dtype.kind in "iu":
            # One integer key per (episode, session): a hash lookup instead of a merge.
            m = int(max(session_no.max(initial=0), e_no.max(initial=0))) + 1
            index = pd.Index(e_ep.astype("int64") * m + e_no)
            wanted = episode.astype("int64") * m + session_no
        else:
            index = pd.MultiIndex.from_arrays([e_ep, e_no])
            wanted = pd.MultiIndex.from_arrays([episode, session_no])
        if not index.is_unique:
            raise ValidationError("flag.error.expected_duplicate", field="expected")
        self.rows = index.get_indexer(wanted)
        self.cache: dict[str, np.ndarray] = {}

    def column(self, name: str, *, required: bool) -> np.ndarray:
        """The column per sorted session (NaN where no expected row or no column)."""
        if name not in self.cache:
            if name not in self.frame.columns:
                if required:
                    require_columns(self.frame, (name,), where="expected")
                return np.full(len(self.rows), np.nan)
            values = pd.to_numeric(self.frame[name]).to_numpy(dtype="float64", na_value=np.nan)
            found = self.rows >= 0
            out = np.full(len(self.rows), np.nan)
            out[found] = values[self.rows[found]]
            self.cache[name] = out
        return self.cache[name]


@dataclass
class _Fired:
    positions: np.ndarray
    value: np.ndarray
    threshold: np.ndarray
    resolved: np.ndarray  # position of the resolving session, -1 if none


def _empty_flags() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "episode": pd.Series(dtype="int64"),
            "client": pd.Series(dtype=object),
            "team": pd.Series(dtype=object),
            "clinician": pd.Series(dtype=object),
            "session_no": pd.Series(dtype="int64"),
            "session_date": pd.Series(dtype="datetime64[ns]"),
            "rule": pd.Series(dtype=object),
            "kind": pd.Series(dtype=object),
            "level": pd.Series(dtype=object),
            "value": pd.Series(dtype="float64"),
            "threshold": pd.Series(dtype="float64"),
            "last_session_no": pd.Series(dtype="int64"),
            "resolved_session_no": pd.Series(dtype="Int64"),
        }
    )


def evaluate_flags(
    sessions: pd.DataFrame,
    *,
    rules: tuple[Rule, ...] | list[Rule] | None = None,
    expected: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every flag that fires, one row per rule per session.

    Parameters
    ----------
    sessions : DataFrame
        The session table (:data:`kor.frames.SESSION_COLUMNS`); need not be sorted.
    rules : sequence of Rule
        The rules to evaluate (default :func:`service_rules`, i.e. :data:`DEFAULT_RULES`
        with the service's configuration; see :func:`rules_from_config`).
        Disabled rules never fire.
    expected : DataFrame, optional
        Expected-path percentiles, columns ``episode, session_no, p10, p25, p50, p75``
        (points; from :mod:`kor.trajectories`), merged on (episode, session_no). Without
        it the not_on_track rules are skipped.

    Returns
    -------
    DataFrame
        Columns (:data:`FLAG_COLUMNS`): episode, client, team, clinician, session_no,
        session_date, rule (id), kind, level, value (the observed number), threshold (the
        number it was compared with; see the module docstring for each kind),
        then two columns for :func:`current_flags`: last_session_no (the episode's latest
        session number in ``sessions``) and resolved_session_no (for no_improvement and
        deterioration: the session that resolved the flag, ``<NA>`` while it stands; always
        ``<NA>`` for other kinds). Sorted by episode, session, severity, rule order.

    Notes
    -----
    * Within one session, of several fired rules of the same kind only the most severe
      is kept (then the first in ``rules``): an outcome below the 10th percentile gives
      the not_on_track *alert* only, not also the warning; when session 3 is missing and
      sessions 4-5 too, no_improvement by 3 and by 6 are both evaluated at session 6, and
      only the alert shows.
    * no_improvement is evaluated once, at the first session with number >= by_session
      that has an outcome value and is not the intake (the episode's first outcome
      value); it fires unless some outcome up to and including it was at least rci above
      intake. It is resolved by the first later session that reaches that.
    * deterioration fires at every outcome session at least rci below intake; each such
      flag is resolved by the next outcome session that is not.
    * alliance_drop compares with the previous *recorded* alliance value in the episode
      (a session without SRS is skipped), whichever alliance measure it was.
    * missing_outcome / missing_alliance fire for every session without that value.
    * Vectorised (array indexing and cumulative sums per episode, no loop per episode):
      800,000 sessions giving 0.65-1.1 million flags took 0.3-0.5 s CPU when sorted and
      0.65-0.9 s shuffled with an expected frame (2-core development machine).

    References
    ----------
    Helsedirektoratet. Sammen om mestring: veileder i lokalt psykisk helsearbeid og
    rusarbeid for voksne (IS-2076), 2013; KOR section (no improvement: change approach
    or clinician).
    Duncan BL, Miller SD, Sparks JA et al. The Session Rating Scale. J Brief Ther
    2003;3(1):3-12 (alliance below 36).
    Jacobson NS, Truax P. J Consult Clin Psychol 1991;59(1):12-19.
    doi:10.1037/0022-006X.59.1.12 (reliable change).
    Expected-path percentiles (not on track): see :mod:`kor.trajectories`.

    Examples
    --------
    >>> from kor import frames, sample
    >>> flags = evaluate_flags(frames.session_table(sample.generate(50, seed=1)))
    >>> sorted(set(flags["kind"]) & {"alliance_low", "no_improvement"})
    ['alliance_low', 'no_improvement']
    """
    rules = service_rules() if rules is None else tuple(rules)
    require_columns(sessions, _SESSION_COLUMNS, where="sessions")
    active = [(i, r) for i, r in enumerate(rules) if r.enabled]
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"flag rule id(s) used twice: {dupes}")
    if len(sessions) == 0 or not active:
        return _empty_flags()

    s = _Sorted(sessions)
    episode = s.raw("episode")
    codes = _group_codes(episode)
    session_no = s.numbers("session_no", dtype="int64")
    outcome = s.numbers("outcome")
    alliance = s.numbers("alliance")
    min_item = s.numbers("alliance_min_item")
    has_out = ~np.isnan(outcome)
    has_all = ~np.isnan(alliance)
    group_end = np.flatnonzero(np.r_[codes[1:] != codes[:-1], True])
    group_start = np.r_[0, group_end[:-1] + 1]
    last_session = session_no[group_end][codes]

    # Intake and the intake measure's rules, per row of the episode.
    n_groups = len(group_end)
    out_pos = np.flatnonzero(has_out)
    g_with, intake_pos = _first_per_group(codes, out_pos)
    intake = np.full(n_groups, np.nan)
    intake[g_with] = outcome[intake_pos]
    params = _measure_params(s.take("outcome_measure", intake_pos), s.take("age_group", intake_pos))
    g_rci = np.full(n_groups, np.nan)
    g_rci[g_with] = params["rci"].to_numpy()
    g_sign = np.ones(n_groups)
    g_sign[g_with] = np.where(params["higher_is_better"].to_numpy(), 1.0, -1.0)
    improvement = _clean(g_sign[codes] * (outcome - intake[codes]))  # NaN without outcome
    n_out_cum = np.cumsum(has_out)
    n_out_so_far = n_out_cum - (n_out_cum[group_start] - has_out[group_start])[codes]

    wants_path = any(r.kind == "not_on_track" for _, r in active)
    aligned = (
        _Expected(expected, episode, session_no) if expected is not None and wants_path else None
    )
    # Most severe first, then rule order: the rank decides which flag of a kind is kept
    # in a session and the order of flags within a session.
    ranked = sorted(active, key=lambda item: (LEVELS.index(item[1].level), item[0]))
    taken: dict[str, np.ndarray] = {}  # kind -> True at the positions already flagged
    parts: list[tuple[int, _Fired]] = []
    for rank, (_, rule) in enumerate(ranked):
        f = _evaluate_rule(
            rule,
            s=s,
            codes=codes,
            session_no=session_no,
            outcome=outcome,
            alliance=alliance,
            min_item=min_item,
            has_out=has_out,
            has_all=has_all,
            improvement=improvement,
            rci_row=g_rci[codes],
            g_sign=g_sign,
            n_out_so_far=n_out_so_far,
            group_start=group_start,
            expected=aligned,
        )
        if f is None or not len(f.positions):
            continue
        # A mask per kind rather than sorted sets: one pass, whatever the flag count.
        if rule.kind in taken:
            keep = ~taken[rule.kind][f.positions]
            f = _Fired(*(a[keep] for a in (f.positions, f.value, f.threshold, f.resolved)))
        else:
            taken[rule.kind] = np.zeros(s.n, dtype=bool)
        taken[rule.kind][f.positions] = True
        parts.append((rank, f))
    if not parts:
        return _empty_flags()

    n_rules = len(ranked)
    key = np.concatenate([f.positions.astype("int64") * n_rules + r for r, f in parts])
    idx = np.argsort(key, kind="stable")  # timsort: merges the already sorted runs
    key = key[idx]
    pos, rank = key // n_rules, key % n_rules
    value = np.concatenate([f.value for _, f in parts])[idx]
    threshold = np.concatenate([f.threshold for _, f in parts])[idx]
    resolved = np.concatenate([f.resolved for _, f in parts])[idx]

    def at(column: str) -> pd.Series:
        return s.take(column, pos)

    def strings(values: list[str]) -> pd.Series:
        return pd.Series(values).take(rank).reset_index(drop=True)

    resolved_no = pd.array(session_no[np.maximum(resolved, 0)], dtype="Int64")
    resolved_no[resolved < 0] = pd.NA
    out = pd.DataFrame(
        {
            "episode": at("episode"),
            "client": at("client"),
            "team": at("team"),
            "clinician": at("clinician"),
            "session_no": session_no[pos],
            "session_date": at("session_date"),
            "rule": strings([r.id for _, r in ranked]),
            "kind": strings([r.kind for _, r in ranked]),
            "level": strings([r.level for _, r in ranked]),
            "value": value,
            "threshold": threshold,
            "last_session_no": last_session[pos],
            "resolved_session_no": resolved_no,
        },
        copy=False,  # fresh arrays: not stacked into blocks (0.9 s per 8 million flags)
    )
    return out.loc[:, list(FLAG_COLUMNS)]


def _rule_threshold(rule: Rule, s: _Sorted, rows: np.ndarray | None = None) -> np.ndarray:
    """The rule's threshold per row: its own, or the declared one of the row's measure."""
    column, attribute = _MEASURE_FIELD[rule.kind]
    n = s.n if rows is None else len(rows)
    if rule.threshold is not None:
        return np.full(n, float(rule.threshold))
    declared = _declared_value(attribute, "alliance")
    if declared is not _VARIES:  # the same for every measure: no need to read the codes
        return np.full(n, declared)
    codes = s.take(column, np.arange(s.n) if rows is None else rows)
    return _measure_values(codes, attribute, "alliance")


def _evaluate_rule(
    rule: Rule,
    *,
    s: _Sorted,
    codes: np.ndarray,
    session_no: np.ndarray,
    outcome: np.ndarray,
    alliance: np.ndarray,
    min_item: np.ndarray,
    has_out: np.ndarray,
    has_all: np.ndarray,
    improvement: np.ndarray,
    rci_row: np.ndarray,
    g_sign: np.ndarray,
    n_out_so_far: np.ndarray,
    group_start: np.ndarray,
    expected: _Expected | None,
) -> _Fired | None:
    """Positions (in the sorted frame) where ``rule`` fires, with value and threshold."""
    kind = rule.kind
    none = np.empty(0, dtype="int64")

    def result(p: np.ndarray, v: np.ndarray, th: np.ndarray, res: np.ndarray | None = None):
        return _Fired(p, v, th, np.full(len(p), -1) if res is None else res)

    if kind == "missing_outcome":
        p = np.flatnonzero(~has_out)
        return result(p, np.full(len(p), np.nan), np.full(len(p), np.nan))
    if kind == "missing_alliance":
        p = np.flatnonzero(~has_all)
        return result(p, np.full(len(p), np.nan), np.full(len(p), np.nan))
    if kind in ("alliance_low", "alliance_item"):
        x = alliance if kind == "alliance_low" else min_item
        th = _rule_threshold(rule, s)
        with np.errstate(invalid="ignore"):
            p = np.flatnonzero(x < th - _EPS)
        return result(p, x[p], th[p])
    if kind == "alliance_drop":
        ap = np.flatnonzero(has_all)
        if len(ap) < 2:
            return result(none, np.empty(0), np.empty(0))
        cur, prev = ap[1:], ap[:-1]
        same = codes[cur] == codes[prev]
        cur, prev = cur[same], prev[same]
        drop = _clean(alliance[prev] - alliance[cur])
        th = _rule_threshold(rule, s, cur)
        with np.errstate(invalid="ignore"):
            hit = drop >= th - _EPS
        return result(cur[hit], drop[hit], th[hit])

    rci = np.full(s.n, float(rule.threshold)) if rule.threshold is not None else rci_row
    if kind == "deterioration":
        with np.errstate(invalid="ignore"):
            bad = improvement <= -rci + _EPS
        p = np.flatnonzero(bad)
        ok = np.flatnonzero(has_out & ~bad)
        nxt = _next_in_group(codes, p, ok)
        return result(p, improvement[p], -rci[p], nxt)
    if kind == "no_improvement":
        with np.errstate(invalid="ignore"):
            reached = improvement >= rci - _EPS
        cand = np.flatnonzero(has_out & (session_no >= rule.by_session) & (n_out_so_far >= 2))
        groups, at = _first_per_group(codes, cand)
        if len(at) == 0:
            return result(none, np.empty(0), np.empty(0))
        # Reached anywhere up to and including the evaluation session?
        reached_pos = np.flatnonzero(reached)
        g_reached, first_reached = _first_per_group(codes, reached_pos)
        first_hit = np.full(int(codes.max()) + 1, np.iinfo(np.int64).max)
        first_hit[g_reached] = first_reached
        fire = (first_hit[groups] > at) & ~np.isnan(rci[at])
        p = at[fire]
        best = _best_so_far(improvement, group_start[codes[p]], p)
        res = first_hit[codes[p]]
        res = np.where(res == np.iinfo(np.int64).max, -1, res)
        return result(p, best, rci[p], res)
    if kind == "not_on_track":
        if expected is None:
            return None
        lower = expected.column(f"p{rule.percentile:g}", required=True)
        upper = expected.column(f"p{100 - rule.percentile:g}", required=False)
        th = np.where(g_sign[codes] > 0, lower, upper)
        with np.errstate(invalid="ignore"):
            hit = np.where(g_sign[codes] > 0, outcome < th - _EPS, outcome > th + _EPS)
        p = np.flatnonzero(hit)
        return result(p, outcome[p], th[p])
    raise ConfigError(f"flag rule {rule.id!r}: no engine for kind {kind!r}")  # pragma: no cover


# --------------------------------------------------------------------------- today's view


def current_flags(flags: pd.DataFrame) -> pd.DataFrame:
    """What a clinician sees today: per episode the flags of its latest session, plus
    no_improvement and deterioration flags from earlier sessions that are not resolved.

    flags: the frame of :func:`evaluate_flags` (needs ``last_session_no`` and
    ``resolved_session_no``). Of persistent flags of one rule only the latest is kept, and
    per episode and kind only the most severe (no_improvement by session 6 replaces the
    one by session 3). Returns the same columns, sorted by episode, severity, session.
    """
    require_columns(flags, FLAG_COLUMNS, where="flags")
    if len(flags) == 0:
        return flags.copy()
    latest = (flags["session_no"] == flags["last_session_no"]).to_numpy()
    standing = (
        flags["kind"].isin(PERSISTENT_KINDS).to_numpy()
        & flags["resolved_session_no"].isna().to_numpy()
    )
    cur = flags.loc[latest | standing].copy()
    cur["_severity"] = cur["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    cur = cur.sort_values(
        ["episode", "_severity", "session_no"], ascending=[True, True, False], kind="stable"
    )
    cur = cur.drop_duplicates(["episode", "rule"]).drop_duplicates(["episode", "kind"])
    return cur.drop(columns="_severity").reset_index(drop=True)


# --------------------------------------------------------------------------- texts


def _find_rule(rule: str | Rule) -> Rule:
    if isinstance(rule, Rule):
        return rule
    for r in (*service_rules(), *DEFAULT_RULES):
        if r.id == rule:
            return r
    raise ConfigError(f"unknown flag rule {rule!r}; known: {sorted(r.id for r in DEFAULT_RULES)}")


def _number(x: float, language: str) -> str:
    text = f"{x:g}"
    return text.replace(".", ",") if language == "nb" else text


def _params(rule: Rule, language: str) -> dict[str, str]:
    """Numbers for the texts; thresholds not set on the rule come from ORS / SRS."""
    params: dict[str, str] = {}
    if rule.by_session is not None:
        params["by_session"] = str(int(rule.by_session))
    if rule.percentile is not None:
        params["percentile"] = _number(rule.percentile, language)
    if rule.kind in _MEASURE_FIELD:
        _, attribute = _MEASURE_FIELD[rule.kind]
        default = measures.ORS if rule.kind in PERSISTENT_KINDS else measures.SRS
        value = rule.threshold if rule.threshold is not None else getattr(default, attribute)
        if value is not None:
            params["threshold"] = _number(float(value), language)
    return params


def _text(rule: Rule, part: str, language: str) -> str:
    key = f"flag.{rule.id}.{part}"
    if key not in catalog():
        key = f"flag.kind.{rule.kind}.{part}"
    return t(key, language=language, **_params(rule, language))


def rule_name(rule: str | Rule, language: str | None = None) -> str:
    """Short name of a rule for lists and badges (``flag.<id>.name``)."""
    r = _find_rule(rule)
    return _text(r, "name", language or get_language())


def explain(rule: str | Rule, language: str | None = None) -> str:
    """A short explanation of the flag and what to do, in bokmål (default) or English.

    rule: a rule id of :data:`DEFAULT_RULES` or a :class:`Rule` (its own thresholds are
    then filled in). Texts: ``flag.<id>.explain`` and ``flag.<id>.action`` in
    ``kor/catalog/flags.toml``; a rule without its own texts uses its kind's.

    >>> "session 6" in explain("no_improvement_s6", "en")
    True
    """
    r = _find_rule(rule)
    lang = language or get_language()
    return f"{_text(r, 'explain', lang)} {_text(r, 'action', lang)}"
