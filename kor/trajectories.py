"""Expected treatment response: the expected outcome path given intake score and session.

A client's ORS (or CORS/YCORS) total at session *n* is compared with what the
service's own completed episodes with the same intake score showed at session *n*.
:class:`ExpectedResponse` fits that expected path with percentile bands (10/25/50/75
by default); :mod:`kor.flags` calls a case *not on track* below the 25th (warning)
or 10th (alert) percentile.

Model
-----
One linear quantile regression (Koenker & Bassett 1978) per quantile *q*::

    Q_q(outcome at n | intake) = b0 + b1*intake + b2*log(n) + b3*intake*log(n)

*n* counts sessions since the intake measurement (the intake session is n = 1, so
n equals ``session_no`` when the ORS was given at the first session, as it should
be). ``log(n)`` gives the concave curve of the dose-effect literature: most change
comes early (Howard et al. 1986). The ``intake*log(n)`` term lets clients who start
low gain more (regression toward the mean and room to improve). Sessions beyond
``max_session`` are left out of the fit (few, and a selected group of long
episodes) and predicted as at ``max_session`` (the curve is held flat there).

Quantile regression needs no distributional assumption, and its estimates stay
consistent when sessions of one episode are correlated; only its standard errors
would not (we use none). Crossing quantile curves are repaired by sorting the
predictions of each row (rearrangement, Chernozhukov et al. 2010), then clipped to
the 0-40 total range.

Which episodes teach the model
------------------------------
Only *ended* episodes whose ``end_reason`` is in ``end_reasons`` (default
``("completed",)``) and that have at least two outcome values. Open episodes are
left out because their paths are cut short (early sessions would be
over-represented by clients still in treatment); dropouts, referrals and moves are
left out because the expected path is the benchmark of a treatment that ran its
planned course, as the design sets it («fitted on the service's own completed
episodes»). A service that wants a more conservative benchmark (dropouts often
improve less) can pass ``end_reasons=None`` for every ended episode.

Age groups
----------
Each age group (and with it the outcome measure: ORS for adults and 13-17, CORS for
6-12, YCORS under 6) gets its own fit when it alone has ``min_episodes`` eligible
episodes; the others share a pooled fit over all eligible episodes. Their cut-offs
differ (25 adults, 28 adolescents, 32 children), so every group on the pooled fit is
named in ``notes_`` with its cut-off next to the pooled data's main group, and a
:class:`~kor.errors.KorStatisticalWarning` says so.

Rule-based fallback
-------------------
Below ``min_episodes`` eligible episodes in all, the service's data cannot carry a
fit, and a fixed rule (:class:`FallbackRule`) draws the path instead (``method_ ==
"fallback"``, with a warning)::

    median(n) = intake + gain * (1 - intake/40) * log(n)/log(horizon)
    sd(n)     = sqrt(error_sd**2 + (spread_sd * log(n)/log(horizon))**2)
    band_q(n) = median(n) + z_q * sd(n)        (z_0.25 = -0.674, z_0.10 = -1.282)

``error_sd = 5/1.96 = 2.55`` points is the standard error of a difference implied by
the ORS reliable-change index of 5 points (RCI = 1.96 * S_diff; Jacobson & Truax
1991); ``gain = 12`` points by ``horizon = 10`` sessions (6 points, above the
reliable change, for a typical clinical intake of 20; 9 points from 10; 3 points
from 30) and ``spread_sd = 4`` points (between-client spread of the gain at the
horizon) are **pragmatic assumptions**, not literature values: they only have to
serve until the service has ``min_episodes`` completed episodes of its own. Every
number is a field of :class:`FallbackRule` and can be changed.

Predictive validity
-------------------
:func:`evaluate_prediction` fits on 70 % of the episodes and asks, on the held-out
completed episodes, how many final non-responders (change below the RCI) fell below
p25 before their last score. On the synthetic data of :mod:`kor.sample` (5,000
clients) about 55-58 % were flagged by session 3 and 62-68 % by session 6, against
6-8 % of responders; the fallback rule did about as well there. Those are properties
of the generator, not of real services; rerun it on a service's own data.

Calibration
-----------
:func:`calibration` checks the bands themselves: of held-out sessions (episodes split
off by :func:`split_episodes` before the fit) a share *q* should score below the
predicted *q*-quantile, in every bucket of session numbers. A service's own check of
its fitted model, before the bands are used to flag clients.

References
----------
Koenker R, Bassett G. Regression quantiles. Econometrica 1978;46(1):33-50.
doi:10.2307/1913643

Howard KI, Kopta SM, Krause MS, Orlinsky DE. The dose-effect relationship in
psychotherapy. Am Psychol 1986;41(2):159-164. doi:10.1037/0003-066X.41.2.159

Chernozhukov V, Fernández-Val I, Galichon A. Quantile and probability curves without
crossing. Econometrica 2010;78(3):1093-1125. doi:10.3982/ECTA7880

Jacobson NS, Truax P. Clinical significance: a statistical approach to defining
meaningful change in psychotherapy research. J Consult Clin Psychol
1991;59(1):12-19. doi:10.1037/0022-006X.59.1.12

statsmodels is imported inside :meth:`ExpectedResponse.fit` only: importing it costs
about 2 s, and the apps that merely *draw* a stored path must start fast.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from importlib import metadata
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

import kor
from kor import measures
from kor.errors import KorStatisticalWarning, OutOfRangeError, ValidationError
from kor.frames import require_columns
from kor.i18n import t

__all__ = [
    "FORMAT_VERSION",
    "PARAM_NAMES",
    "FallbackRule",
    "ExpectedResponse",
    "PredictionEvaluation",
    "CALIBRATION_EDGES",
    "needs_refit",
    "split_episodes",
    "evaluate_prediction",
    "calibration",
]

FORMAT_VERSION = 1
PARAM_NAMES: tuple[str, ...] = ("const", "intake", "log_n", "intake_log_n")
POOLED = "pooled"
SCORE_RANGE: tuple[float, float] = measures.ORS.total_range
_FIT_COLUMNS = ("episode", "session_no", "outcome", "episode_end", "end_reason")


@dataclass(frozen=True)
class FallbackRule:
    """The rule-based expected path used before the service has enough data.

    gain: points of median improvement by ``horizon`` sessions for an intake of 0,
    scaled by ``1 - intake/ceiling`` (pragmatic assumption, see the module notes).
    horizon: session at which the gain is reached; the curve is ``log(n)/log(horizon)``.
    error_sd: measurement-error SD of a change, RCI/1.96 = 5/1.96 (Jacobson & Truax
    1991, ORS RCI of 5 points).
    spread_sd: between-client SD of the change at ``horizon`` (pragmatic assumption).
    """

    gain: float = 12.0
    ceiling: float = 40.0
    horizon: float = 10.0
    error_sd: float = 5.0 / 1.96
    spread_sd: float = 4.0

    def __post_init__(self) -> None:
        if not (self.horizon > 1 and self.ceiling > 0 and self.error_sd >= 0):
            raise ValidationError("trajectories.error.bad_setting", field="fallback")
        if self.spread_sd < 0:
            raise ValidationError("trajectories.error.bad_setting", field="fallback")


def _quantile_column(q: float) -> str:
    """Column name of quantile ``q``: 0.1 -> ``p10``, 0.025 -> ``p2.5``."""
    return f"p{q * 100:.10g}"


def _versions() -> dict[str, str | None]:
    """Software versions recorded with a stored model (no heavy imports)."""
    try:
        sm = metadata.version("statsmodels")
    except metadata.PackageNotFoundError:  # pragma: no cover - statsmodels is a dependency
        sm = None
    return {
        "kor": kor.__version__,
        "statsmodels": sm,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }


def _as_date(value: date | str | None) -> date:
    if value is None:
        return date.today()
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _intakes(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per episode: intake (first recorded outcome), its session_no, outcome count, last."""
    scored = sessions.loc[sessions["outcome"].notna(), ["episode", "session_no", "outcome"]]
    scored = scored.sort_values(["episode", "session_no"], kind="stable")
    g = scored.groupby("episode", sort=False)
    out = pd.DataFrame(
        {
            "intake": g["outcome"].first(),
            "intake_session": g["session_no"].first(),
            "last": g["outcome"].last(),
            "last_session": g["session_no"].last(),
            "n_outcomes": g["outcome"].size(),
        }
    )
    out.index.name = "episode"
    return out


def _check_range(values: pd.Series, name: str) -> None:
    low, high = SCORE_RANGE
    bad = values.notna() & ((values < low) | (values > high))
    if bad.any():
        raise OutOfRangeError("error.out_of_range", field=name, low=low, high=high)


def _episode_groups(sessions: pd.DataFrame) -> pd.Series:
    """Age group per episode (first row), or an empty series if the column is absent."""
    if "age_group" not in sessions.columns:
        return pd.Series(dtype=object)
    return sessions.groupby("episode", sort=False)["age_group"].first().astype(object)


def _design(intake: np.ndarray, n: np.ndarray) -> np.ndarray:
    log_n = np.log(n)
    return np.column_stack([np.ones_like(intake), intake, log_n, intake * log_n])


class ExpectedResponse:
    """Expected outcome path given intake and session number, with percentile bands.

    A specification (as in lifelines and statsmodels): construct, then :meth:`fit`
    on a session table (:func:`kor.frames.session_table`); fitted attributes end in
    ``_``. See the module notes for the model, the eligible episodes and the
    fallback rule.

    Units: intake, outcome and every band are outcome totals in points, 0.0-40.0
    (ORS/CORS/YCORS); ``n`` counts sessions since intake, the intake session being 1.
    The bands ``p10 <= p25 <= p50 <= p75`` are conditional quantiles of the outcome at
    session ``n`` for clients with that intake.

    Parameters
    ----------
    min_episodes : int
        Eligible episodes needed for a fit (in all, and per age group for a group's
        own fit); below it the rule-based fallback is used.
    max_session : int
        Last session number (counted from intake) used in the fit, >= 2; later
        sessions are predicted as at ``max_session``.
    quantiles : sequence of float
        The bands, strictly increasing in (0, 1). :mod:`kor.flags` needs 0.10 and 0.25.
    end_reasons : sequence of str or None
        Which ended episodes teach the model; None = every ended episode.
    fallback : FallbackRule, optional
        Numbers of the rule-based fallback.

    Attributes (after fit)
    ----------------------
    method_ : ``"quantreg"`` or ``"fallback"``.
    n_episodes_, n_sessions_ : eligible episodes and the session rows fitted
        (sessions 2..max_session after intake).
    fitted_on_ : date of the fit (the refit schedule counts from it).
    params_ : DataFrame, one row per (stratum, quantile), columns stratum, quantile,
        const, intake, log_n, intake_log_n (empty for the fallback).
    strata_ : age group -> stratum (``"pooled"`` or the group's own fit).
    groups_ : DataFrame of eligible episodes per age group and the stratum used.
    notes_ : caveats (pooled groups with other cut-offs), in the current language.

    References
    ----------
    Koenker R, Bassett G. Regression quantiles. Econometrica 1978;46(1):33-50.
    doi:10.2307/1913643
    Howard KI, Kopta SM, Krause MS, Orlinsky DE. Am Psychol 1986;41(2):159-164.
    doi:10.1037/0003-066X.41.2.159
    Chernozhukov V, Fernández-Val I, Galichon A. Econometrica 2010;78(3):1093-1125.
    doi:10.3982/ECTA7880

    Examples
    --------
    >>> model = ExpectedResponse(min_episodes=100).fit(sessions)  # doctest: +SKIP
    >>> model.path(18.0, sessions=6).round(1)  # doctest: +SKIP
    """

    def __init__(
        self,
        min_episodes: int = 100,
        max_session: int = 20,
        quantiles: Sequence[float] = (0.10, 0.25, 0.50, 0.75),
        *,
        end_reasons: Sequence[str] | None = ("completed",),
        fallback: FallbackRule | None = None,
    ) -> None:
        self.min_episodes = min_episodes
        self.max_session = max_session
        self.quantiles = tuple(float(q) for q in quantiles)
        self.end_reasons = None if end_reasons is None else tuple(end_reasons)
        self.fallback = fallback if fallback is not None else FallbackRule()
        self._check_settings()

    # ------------------------------------------------------------------ settings
    def _check_settings(self) -> None:
        q = self.quantiles
        if (
            not q
            or any(not 0 < x < 1 for x in q)
            or any(b <= a for a, b in zip(q[:-1], q[1:], strict=True))
        ):
            raise ValidationError("trajectories.error.bad_quantiles", field="quantiles")
        if int(self.min_episodes) != self.min_episodes or self.min_episodes < 1:
            raise ValidationError("trajectories.error.bad_setting", field="min_episodes")
        if int(self.max_session) != self.max_session or self.max_session < 2:
            raise ValidationError("trajectories.error.bad_setting", field="max_session")

    @property
    def columns(self) -> list[str]:
        """Band column names, e.g. ``["p10", "p25", "p50", "p75"]``."""
        return [_quantile_column(q) for q in self.quantiles]

    def _spec(self) -> ExpectedResponse:
        """An unfitted copy with the same settings."""
        return ExpectedResponse(
            self.min_episodes,
            self.max_session,
            self.quantiles,
            end_reasons=self.end_reasons,
            fallback=self.fallback,
        )

    def __repr__(self) -> str:
        if not hasattr(self, "method_"):
            return f"ExpectedResponse(min_episodes={self.min_episodes}, unfitted)"
        return (
            f"ExpectedResponse(method={self.method_!r}, n_episodes={self.n_episodes_}, "
            f"n_sessions={self.n_sessions_}, fitted_on={self.fitted_on_.isoformat()})"
        )

    # ----------------------------------------------------------------------- fit
    def eligible(self, sessions: pd.DataFrame) -> pd.DataFrame:
        """Rows that teach the model: eligible episodes, sessions 2..max_session after intake.

        Returns a new frame with columns episode, age_group, intake, n (sessions since
        intake, intake = 1), outcome.
        """
        require_columns(sessions, _FIT_COLUMNS, where="sessions")
        _check_range(sessions["outcome"], "outcome")
        ep = _intakes(sessions)
        first = sessions.groupby("episode", sort=False)[["episode_end", "end_reason"]].first()
        first = first.reindex(ep.index)
        ended = first["episode_end"].notna()
        if self.end_reasons is not None:
            ended &= first["end_reason"].isin(self.end_reasons)
        ok = ep.index[ended.to_numpy() & (ep["n_outcomes"] >= 2).to_numpy()]
        rows = sessions.loc[
            sessions["episode"].isin(ok) & sessions["outcome"].notna(),
            ["episode", "session_no", "outcome"],
        ]
        intake = rows["episode"].map(ep["intake"])
        n = rows["session_no"] - rows["episode"].map(ep["intake_session"]) + 1
        groups = _episode_groups(sessions)
        out = pd.DataFrame(
            {
                "episode": rows["episode"].to_numpy(),
                "age_group": (
                    rows["episode"].map(groups).to_numpy()
                    if len(groups)
                    else np.full(len(rows), None, dtype=object)
                ),
                "intake": intake.to_numpy(dtype=float),
                "n": n.to_numpy(dtype=float),
                "outcome": rows["outcome"].to_numpy(dtype=float),
            }
        )
        keep = (out["n"] >= 2) & (out["n"] <= self.max_session)
        return out.loc[keep].reset_index(drop=True)

    def fit(self, sessions: pd.DataFrame, *, fitted_on: date | None = None) -> ExpectedResponse:
        """Fit the expected paths on the eligible episodes of ``sessions``; returns self.

        sessions: a session table (columns episode, session_no, outcome, episode_end,
        end_reason; age_group optional). fitted_on: date of the fit, default today.
        Warns (:class:`KorStatisticalWarning`) when the fallback is used, when an age
        group shares the pooled fit, and when a fit did not converge.
        """
        self._check_settings()
        data = self.eligible(sessions)
        self.fitted_on_ = _as_date(fitted_on)
        self.n_episodes_ = int(data["episode"].nunique())
        self.n_sessions_ = int(len(data))
        self.notes_: list[str] = []
        self.rule_ = self.fallback
        counts = (
            data.drop_duplicates("episode")["age_group"]
            .astype(object)
            .fillna("unknown")
            .value_counts()
        )
        if self.n_episodes_ < self.min_episodes:
            self.method_ = "fallback"
            self.params_ = pd.DataFrame(columns=["stratum", "quantile", *PARAM_NAMES])
            self.strata_ = {}
            self.groups_ = pd.DataFrame(
                {"age_group": counts.index, "episodes": counts.to_numpy(), "stratum": "fallback"}
            )
            warnings.warn(
                t(
                    "trajectories.warning.fallback",
                    n=self.n_episodes_,
                    min=self.min_episodes,
                ),
                KorStatisticalWarning,
                stacklevel=2,
            )
            return self

        own = [g for g, c in counts.items() if c >= self.min_episodes and g != "unknown"]
        if len(counts) == 1:
            own = []  # one group only: its fit *is* the pooled fit
        strata = {str(g): str(g) for g in own}
        for g in counts.index:
            strata.setdefault(str(g), POOLED)
        self.strata_ = {g: s for g, s in strata.items() if g != "unknown"}
        self.groups_ = pd.DataFrame(
            {
                "age_group": counts.index.astype(object),
                "episodes": counts.to_numpy(),
                "stratum": [strata[str(g)] for g in counts.index],
            }
        )
        self._note_pooled(counts, own)

        rows = []
        fits = [(POOLED, data)] + [(g, data.loc[data["age_group"] == g]) for g in own]
        for stratum, frame in fits:
            for q, coef in zip(self.quantiles, self._quantreg(frame), strict=True):
                rows.append(
                    {"stratum": stratum, "quantile": q, **dict(zip(PARAM_NAMES, coef, strict=True))}
                )
        self.params_ = pd.DataFrame(rows, columns=["stratum", "quantile", *PARAM_NAMES])
        self.method_ = "quantreg"
        return self

    def _quantreg(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """One QuantReg fit per quantile; returns the coefficient vectors."""
        from statsmodels.regression.quantile_regression import QuantReg
        from statsmodels.tools.sm_exceptions import ConvergenceWarning, IterationLimitWarning

        x = _design(frame["intake"].to_numpy(float), frame["n"].to_numpy(float))
        y = frame["outcome"].to_numpy(float)
        out = []
        for q in self.quantiles:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = QuantReg(y, x).fit(q=q, max_iter=1000, p_tol=1e-6)
            if any(
                issubclass(w.category, (ConvergenceWarning, IterationLimitWarning)) for w in caught
            ):
                warnings.warn(
                    t("trajectories.warning.not_converged", q=_quantile_column(q)),
                    KorStatisticalWarning,
                    stacklevel=3,
                )
            out.append(np.asarray(res.params, dtype=float))
        return out

    def _note_pooled(self, counts: pd.Series, own: list[str]) -> None:
        """Name the age groups on the pooled fit whose cut-off differs from its main group."""
        if len(counts) < 2:
            return
        main = str(counts.index[0])
        main_cut = _cutoff(main)
        for g, c in counts.items():
            if g in own or g == main:
                continue
            cut = _cutoff(str(g))
            if cut == main_cut:
                continue
            self.notes_.append(
                t(
                    "trajectories.note.pooled",
                    group=t(f"age_group.{g}"),
                    n=int(c),
                    cutoff="–" if cut is None else f"{cut:g}",
                    main=t(f"age_group.{main}"),
                    main_cutoff="–" if main_cut is None else f"{main_cut:g}",
                    min=self.min_episodes,
                )
            )
        if self.notes_:
            warnings.warn("; ".join(self.notes_), KorStatisticalWarning, stacklevel=3)

    # ------------------------------------------------------------------- predict
    def _require_fitted(self) -> None:
        if not hasattr(self, "method_"):
            raise ValidationError("trajectories.error.not_fitted", field="model")

    def predict(
        self, intake: np.ndarray, n: np.ndarray, age_group: np.ndarray | None = None
    ) -> np.ndarray:
        """Band values, shape (rows, quantiles), for intake scores at n sessions since intake.

        n = 1 is the intake session itself (every band equals the intake); n < 1 or a
        missing intake gives NaN; n > max_session is predicted as max_session. Rows are
        sorted across quantiles (no crossing) and clipped to 0-40.
        """
        self._require_fitted()
        intake = np.asarray(intake, dtype=float)
        n = np.asarray(n, dtype=float)
        m = np.clip(n, 1.0, float(self.max_session))
        out = np.full((len(intake), len(self.quantiles)), np.nan)
        if self.method_ == "fallback":
            out[:] = self._fallback(intake, m)
        else:
            stratum = np.full(len(intake), POOLED, dtype=object)
            if age_group is not None:
                stratum = np.array(
                    [self.strata_.get(str(g), POOLED) for g in age_group], dtype=object
                )
            x = _design(intake, m)
            for name, block in self.params_.groupby("stratum", sort=False):
                rows = stratum == name
                if not rows.any():
                    continue
                coef = block.sort_values("quantile")[list(PARAM_NAMES)].to_numpy(float)
                out[rows] = x[rows] @ coef.T
        out = np.sort(out, axis=1)  # rearrangement: NaN rows stay NaN
        at_intake = n == 1
        out[at_intake] = intake[at_intake, None]
        out[(n < 1) | np.isnan(n) | np.isnan(intake)] = np.nan
        return np.clip(out, *SCORE_RANGE)

    def _fallback(self, intake: np.ndarray, n: np.ndarray) -> np.ndarray:
        r = self.rule_
        frac = np.log(n) / math.log(r.horizon)
        median = intake + r.gain * (1.0 - intake / r.ceiling) * frac
        sd = np.sqrt(r.error_sd**2 + (r.spread_sd * frac) ** 2)
        z = np.array([NormalDist().inv_cdf(q) for q in self.quantiles])
        return median[:, None] + sd[:, None] * z[None, :]

    def expected(self, sessions_or_intakes: pd.DataFrame) -> pd.DataFrame:
        """Expected bands for each (episode, session_no) row.

        sessions_or_intakes: either a session table (columns episode, session_no,
        outcome; age_group optional) - the intake of an episode is its first recorded
        outcome, and n counts sessions from that session - or an intake frame
        (columns episode, intake; age_group and session_no optional; without
        session_no each episode is expanded to sessions 1..max_session; intake is
        taken as given at session 1).

        Returns a new frame, one row per input row (intake frame: per episode and
        session) in input order: episode, session_no, then one column per quantile
        (``p10``, ``p25``, ``p50``, ``p75``), points 0-40, non-decreasing across
        columns. Rows before the intake session, or of episodes without any outcome,
        are NaN. Episodes need not be in the fitted data.
        """
        self._require_fitted()
        frame = sessions_or_intakes
        if "outcome" in frame.columns:
            require_columns(frame, ("episode", "session_no", "outcome"), where="sessions")
            _check_range(frame["outcome"], "outcome")
            ep = _intakes(frame)
            rows = frame.loc[:, ["episode", "session_no"]]
            intake = rows["episode"].map(ep["intake"]).to_numpy(dtype=float)
            start = rows["episode"].map(ep["intake_session"]).to_numpy(dtype=float)
            n = rows["session_no"].to_numpy(dtype=float) - start + 1
            groups = _episode_groups(frame)
            group = rows["episode"].map(groups).to_numpy() if len(groups) else None
        else:
            require_columns(frame, ("episode", "intake"), where="intakes")
            _check_range(frame["intake"], "intake")
            if "session_no" in frame.columns:
                rows = frame
            else:
                numbers = np.arange(1, self.max_session + 1)
                rows = frame.iloc[np.repeat(np.arange(len(frame)), len(numbers))].copy()
                rows["session_no"] = np.tile(numbers, len(frame))
            intake = rows["intake"].to_numpy(dtype=float)
            n = rows["session_no"].to_numpy(dtype=float)
            group = rows["age_group"].to_numpy() if "age_group" in rows.columns else None
        bands = self.predict(intake, n, group)
        out = pd.DataFrame(
            {
                "episode": rows["episode"].to_numpy(),
                "session_no": rows["session_no"].to_numpy(dtype=np.int64),
            }
        )
        for i, col in enumerate(self.columns):
            out[col] = bands[:, i]
        return out

    def path(
        self, intake: float, sessions: int = 20, *, age_group: str | None = None
    ) -> pd.DataFrame:
        """The expected path of one client for a chart: session_no 1..sessions and the bands.

        intake: the client's first outcome total (0-40). age_group picks the group's
        own fit when there is one.

        >>> ExpectedResponse().fit(small_sessions).path(20.0, 3).columns.tolist()  # doctest: +SKIP
        ['session_no', 'p10', 'p25', 'p50', 'p75']
        """
        if not SCORE_RANGE[0] <= float(intake) <= SCORE_RANGE[1]:
            raise OutOfRangeError(
                "error.out_of_range", field="intake", low=SCORE_RANGE[0], high=SCORE_RANGE[1]
            )
        numbers = np.arange(1, int(sessions) + 1)
        group = None if age_group is None else np.full(len(numbers), age_group, dtype=object)
        bands = self.predict(np.full(len(numbers), float(intake)), numbers.astype(float), group)
        out = pd.DataFrame({"session_no": numbers.astype(np.int64)})
        for i, col in enumerate(self.columns):
            out[col] = bands[:, i]
        return out

    # --------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description of the fitted model (for the database)."""
        self._require_fitted()
        return {
            "format": FORMAT_VERSION,
            "method": self.method_,
            "quantiles": list(self.quantiles),
            "min_episodes": int(self.min_episodes),
            "max_session": int(self.max_session),
            "end_reasons": None if self.end_reasons is None else list(self.end_reasons),
            "fallback": asdict(self.rule_),
            "params": [
                {k: (float(v) if k != "stratum" else str(v)) for k, v in row.items()}
                for row in self.params_.to_dict(orient="records")
            ],
            "strata": dict(self.strata_),
            "groups": [
                {
                    "age_group": str(r["age_group"]),
                    "episodes": int(r["episodes"]),
                    "stratum": r["stratum"],
                }
                for r in self.groups_.to_dict(orient="records")
            ],
            "notes": list(self.notes_),
            "fitted_on": self.fitted_on_.isoformat(),
            "n_episodes": int(self.n_episodes_),
            "n_sessions": int(self.n_sessions_),
            "versions": _versions(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExpectedResponse:
        """Rebuild a fitted model from :meth:`to_dict` output (predictions are identical)."""
        try:
            if d.get("format") != FORMAT_VERSION or d["method"] not in ("quantreg", "fallback"):
                raise ValidationError("trajectories.error.bad_model", field="model")
            model = cls(
                d["min_episodes"],
                d["max_session"],
                d["quantiles"],
                end_reasons=d["end_reasons"],
                fallback=FallbackRule(**d["fallback"]),
            )
            model.method_ = d["method"]
            model.rule_ = model.fallback
            model.params_ = pd.DataFrame(d["params"], columns=["stratum", "quantile", *PARAM_NAMES])
            model.strata_ = {str(k): str(v) for k, v in d["strata"].items()}
            model.groups_ = pd.DataFrame(d["groups"], columns=["age_group", "episodes", "stratum"])
            model.notes_ = list(d.get("notes", []))
            model.fitted_on_ = date.fromisoformat(d["fitted_on"])
            model.n_episodes_ = int(d["n_episodes"])
            model.n_sessions_ = int(d["n_sessions"])
            model.versions_ = dict(d.get("versions", {}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValidationError("trajectories.error.bad_model", field="model") from exc
        if model.method_ == "quantreg":
            expected = {(s, q) for s in {POOLED, *model.strata_.values()} for q in model.quantiles}
            got = set(zip(model.params_["stratum"], model.params_["quantile"], strict=True))
            if not expected <= got:
                raise ValidationError("trajectories.error.bad_model", field="params")
        return model


def _cutoff(age_group: str) -> float | None:
    try:
        return measures.measure_for("outcome", age_group).cutoff(age_group)
    except ValidationError:
        return None


def needs_refit(model_dict: Mapping[str, Any] | None, today: date, every_days: int = 30) -> bool:
    """Whether a stored model is due for refitting on the schedule.

    True when there is no model, it is of an older storage format or unreadable, or
    it was fitted ``every_days`` days or more before ``today``.

    >>> needs_refit({"format": 1, "fitted_on": "2025-01-01"}, date(2025, 1, 31))
    True
    >>> needs_refit({"format": 1, "fitted_on": "2025-01-01"}, date(2025, 1, 30))
    False
    """
    if not model_dict or model_dict.get("format") != FORMAT_VERSION:
        return True
    try:
        fitted = date.fromisoformat(str(model_dict["fitted_on"]))
    except (KeyError, ValueError):
        return True
    return (_as_date(today) - fitted).days >= every_days


#: Lower edges of the session buckets of :func:`calibration` (sessions since intake):
#: 2-3, 4-6, 7-10 and 11 up to the model's ``max_session``.
CALIBRATION_EDGES: tuple[int, ...] = (2, 4, 7, 11)


@dataclass(frozen=True)
class PredictionEvaluation:
    """How well not-on-track flags by session N predict final non-response.

    table: one row per horizon with columns horizon, nonresponders,
    flagged_nonresponders, sensitivity, responders, flagged_responders,
    false_alarm_rate, ppv (share of flagged episodes that ended as non-responders).
    """

    method: str
    band: str
    n_train_episodes: int
    n_fit_episodes: int
    n_test_episodes: int
    n_nonresponders: int
    n_responders: int
    table: pd.DataFrame = field(repr=False)

    def sensitivity(self, horizon: int) -> float:
        """Share of final non-responders flagged by ``horizon``."""
        return float(self.table.set_index("horizon").loc[horizon, "sensitivity"])

    def false_alarm_rate(self, horizon: int) -> float:
        """Share of final responders flagged by ``horizon``."""
        return float(self.table.set_index("horizon").loc[horizon, "false_alarm_rate"])

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers for a report."""
        d = {k: v for k, v in asdict(self).items() if k != "table"}
        d["table"] = self.table.to_dict(orient="records")
        return d


def split_episodes(
    sessions: pd.DataFrame,
    *,
    train_fraction: float = 0.7,
    seed: int = 20240601,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a session table at random by episode into a training and a held-out part.

    Whole episodes go to one part, so that no held-out session shares an episode with
    a session the model learned from. The distinct episode ids are sorted, permuted
    with ``numpy.random.default_rng(seed)`` and the first
    ``round(train_fraction * episodes)`` form the training part; rows without an
    episode id go to the held-out part. The same table and seed give the same split
    (:func:`evaluate_prediction` uses it).

    Parameters
    ----------
    sessions : DataFrame
        A session table with an ``episode`` column. Not changed.
    train_fraction : float
        Share of the episodes in the training part, strictly between 0 and 1.
    seed : int
        Seed of the permutation.

    Returns
    -------
    (train, held_out) : tuple of DataFrame
        The rows of ``sessions`` in each part, in input order, with their index.

    Examples
    --------
    >>> train, test = split_episodes(sessions, seed=1)  # 1,000 episodes  # doctest: +SKIP
    >>> train.episode.nunique(), test.episode.nunique()  # doctest: +SKIP
    (700, 300)
    """
    require_columns(sessions, ("episode",), where="sessions")
    if not 0 < train_fraction < 1:
        raise ValidationError("trajectories.error.bad_setting", field="train_fraction")
    episodes = np.sort(sessions["episode"].dropna().unique())
    shuffled = np.random.default_rng(seed).permutation(episodes)
    n_train = int(round(train_fraction * len(episodes)))
    is_train = sessions["episode"].isin(set(shuffled[:n_train].tolist()))
    return sessions.loc[is_train], sessions.loc[~is_train]


def evaluate_prediction(
    sessions: pd.DataFrame,
    *,
    train_fraction: float = 0.7,
    seed: int = 20240601,
    model: ExpectedResponse | None = None,
    horizons: Sequence[int] = (3, 6),
    band: str = "p25",
    exclude_final: bool = True,
) -> PredictionEvaluation:
    """Predictive validity of the expected path on held-out episodes.

    Episodes (not sessions) are split at random into a training part
    (``train_fraction``) and a held-out part; a fresh copy of ``model`` (default
    :class:`ExpectedResponse`) is fitted on the training part. On held-out episodes
    that are eligible for fitting (ended as ``model.end_reasons``, two or more
    outcomes), a *final non-responder* shows no reliable improvement: last - first
    outcome below the reliable change of the episode's outcome measure
    (:mod:`kor.measures`; 5 points for ORS). An episode is *flagged by session N*
    when its outcome lies below ``band`` at any session numbered N or less.

    exclude_final: ignore the episode's last outcome when flagging, so that a flag
    has to come *before* the outcome it predicts (otherwise a short episode's final,
    poor score would both define non-response and raise the flag).

    Returns a :class:`PredictionEvaluation`: sensitivity (share of non-responders
    flagged) and false-alarm rate (share of responders flagged) per horizon, with
    counts.
    """
    require_columns(sessions, _FIT_COLUMNS, where="sessions")
    train, test = split_episodes(sessions, train_fraction=train_fraction, seed=seed)
    n_train = int(train["episode"].nunique())
    spec = (model or ExpectedResponse())._spec()
    if band not in spec.columns:
        raise ValidationError("trajectories.error.bad_setting", field="band")
    fitted = spec.fit(train)

    eligible = spec.eligible(test)["episode"].unique() if len(test) else []
    test = test.loc[test["episode"].isin(eligible)]
    ep = _intakes(test)
    codes = (
        test.groupby("episode", sort=False)["outcome_measure"].first()
        if "outcome_measure" in test.columns
        else pd.Series(dtype=object)
    )
    rci = pd.Series([_reliable_change(codes.get(e)) for e in ep.index], index=ep.index, dtype=float)
    nonresponder = (ep["last"] - ep["intake"]) < rci

    bands = fitted.expected(test)
    below = test["outcome"].to_numpy(float) < bands[band].to_numpy(float)
    last_session = test["episode"].map(ep["last_session"]).to_numpy()
    if exclude_final:
        below &= test["session_no"].to_numpy() < last_session
    rows = []
    for h in horizons:
        hit = pd.Series(below & (test["session_no"].to_numpy() <= h), index=test.index)
        flagged = hit.groupby(test["episode"]).any().reindex(ep.index, fill_value=False)
        fn = int((flagged & nonresponder).sum())
        fr = int((flagged & ~nonresponder).sum())
        nn, nr = int(nonresponder.sum()), int((~nonresponder).sum())
        rows.append(
            {
                "horizon": int(h),
                "nonresponders": nn,
                "flagged_nonresponders": fn,
                "sensitivity": fn / nn if nn else math.nan,
                "responders": nr,
                "flagged_responders": fr,
                "false_alarm_rate": fr / nr if nr else math.nan,
                "ppv": fn / (fn + fr) if fn + fr else math.nan,
            }
        )
    return PredictionEvaluation(
        method=fitted.method_,
        band=band,
        n_train_episodes=n_train,
        n_fit_episodes=fitted.n_episodes_,
        n_test_episodes=len(ep),
        n_nonresponders=int(nonresponder.sum()),
        n_responders=int((~nonresponder).sum()),
        table=pd.DataFrame(rows),
    )


def _reliable_change(code: object) -> float:
    """Reliable change of an outcome measure code; ORS's 5 points if unknown."""
    default = measures.ORS.reliable_change or 5.0
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return default
    try:
        value = measures.get(str(code)).reliable_change
    except ValidationError:
        return default
    return default if value is None else float(value)


def _bucket_labels(edges: Sequence[int], last: int) -> list[str]:
    uppers = [*(e - 1 for e in edges[1:]), last]
    return [str(a) if a == b else f"{a}-{b}" for a, b in zip(edges, uppers, strict=True)]


def calibration(
    model: ExpectedResponse,
    sessions: pd.DataFrame,
    *,
    edges: Sequence[int] = CALIBRATION_EDGES,
) -> pd.DataFrame:
    """Calibration of the percentile bands: the observed share of sessions below each.

    A band is calibrated when a share *q* of outcomes falls below the predicted
    *q*-quantile: of the sessions whose p25 is 18.0, a quarter should score under 18.0.
    For each quantile *q* of ``model`` and each bucket *B* of session numbers::

        observed(q, B) = #{i in B : outcome_i < Q_q(intake_i, n_i)} / #{i in B}

    over the rows that :meth:`ExpectedResponse.eligible` keeps (episodes ended as
    ``model.end_reasons`` with two or more outcomes; sessions 2..``max_session``
    after intake, where *n* counts sessions since intake, intake = 1; the intake
    session is left out because every band equals the intake there). An outcome equal
    to the band is not below it (as :mod:`kor.flags` counts «below p25»). Perfect
    calibration is ``observed == quantile`` in every bucket.

    Parameters
    ----------
    model : ExpectedResponse
        A fitted model (its own groups' fits are used for their age groups).
    sessions : DataFrame
        Held-out session table (columns episode, session_no, outcome, episode_end,
        end_reason; age_group optional), e.g. the second part of
        :func:`split_episodes`. On the model's own training data the check is
        in-sample and flatters the fit. Not changed.
    edges : sequence of int
        Strictly increasing lower edges of the buckets, from 2; the last bucket runs to
        ``model.max_session``. Default :data:`CALIBRATION_EDGES`: 2-3, 4-6, 7-10, 11-20.

    Returns
    -------
    DataFrame
        One row per quantile and bucket, the buckets in order and a last bucket
        ``"all"`` over every row, columns: ``quantile`` (nominal share, e.g. 0.25),
        ``session_bucket`` (ordered categorical: ``"2-3"``, ..., ``"all"``), ``n``
        (sessions), ``below`` (sessions below the band), ``observed`` (below / n, NaN
        for an empty bucket) and ``difference`` (observed - quantile).

    Notes
    -----
    Sessions of one episode are correlated (a client above the median tends to stay
    there), so the binomial standard error ``sqrt(q(1-q)/n)`` understates how far
    ``observed`` may drift from ``quantile`` by chance; read small buckets with care.

    References
    ----------
    Gneiting T, Balabdaoui F, Raftery AE. Probabilistic forecasts, calibration and
    sharpness. J R Stat Soc B 2007;69(2):243-268. doi:10.1111/j.1467-9868.2007.00587.x

    Examples
    --------
    Not run as a doctest (the fit takes a few seconds):

    >>> from kor import frames, sample  # doctest: +SKIP
    >>> sessions = frames.session_table(sample.generate(2000, seed=11))  # doctest: +SKIP
    >>> train, test = split_episodes(sessions, seed=1)  # doctest: +SKIP
    >>> table = calibration(ExpectedResponse().fit(train), test)  # doctest: +SKIP
    >>> overall = table[table.session_bucket == "all"]  # doctest: +SKIP
    >>> overall[["quantile", "n", "observed"]].round(3)  # doctest: +SKIP
        quantile     n  observed
    4       0.10  2259     0.107
    9       0.25  2259     0.220
    14      0.50  2259     0.479
    19      0.75  2259     0.745
    """
    model._require_fitted()
    edges = list(edges)
    if (
        not edges
        or any(int(e) != e for e in edges)
        or edges[0] < 2
        or any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True))
        or edges[-1] > model.max_session
    ):
        raise ValidationError("trajectories.error.bad_setting", field="edges")
    edges = [int(e) for e in edges]
    rows = model.eligible(sessions)
    groups = rows["age_group"].to_numpy()
    bands = model.predict(
        rows["intake"].to_numpy(float),
        rows["n"].to_numpy(float),
        None if pd.isna(groups).all() else groups,
    )
    below = rows["outcome"].to_numpy(float)[:, None] < bands
    which = np.searchsorted(edges, rows["n"].to_numpy(float), side="right") - 1
    labels = _bucket_labels(edges, model.max_session)
    masks = [which == i for i in range(len(labels))] + [np.ones(len(rows), dtype=bool)]
    out = []
    for j, q in enumerate(model.quantiles):
        for label, mask in zip([*labels, "all"], masks, strict=True):
            n = int(mask.sum())
            hits = int(below[mask, j].sum())
            share = hits / n if n else math.nan
            out.append(
                {
                    "quantile": q,
                    "session_bucket": label,
                    "n": n,
                    "below": hits,
                    "observed": share,
                    "difference": share - q,
                }
            )
    table = pd.DataFrame(
        out, columns=["quantile", "session_bucket", "n", "below", "observed", "difference"]
    )
    table["session_bucket"] = pd.Categorical(
        table["session_bucket"], categories=[*labels, "all"], ordered=True
    )
    return table
