"""How much of the variation in client outcomes lies between clinicians (therapist effects).

For researchers: a two-level random-intercept model, episodes (clients) nested in
clinicians, fitted with statsmodels' MixedLM by REML. The share of the outcome
variance, after the fixed effects of the covariates (intake severity by default),
that lies between clinicians is the intraclass correlation (ICC). In routine
psychotherapy data it is small, about 0.05-0.07 (Baldwin & Imel 2013; Schiefele et al.
2017 found 5.8-7.2 % in 48,648 patients of 1,800 therapists); with few clinicians the
estimate is very uncertain, which is why a confidence interval is always returned and a
warning is given below :data:`MIN_CLINICIANS` clinicians.

statsmodels is imported inside :func:`clinician_effect` only (importing it costs about
2 s, too much for an app that may never fit a model).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kor.errors import KorStatisticalWarning, ValidationError
from kor.frames import require_columns

__all__ = ["MIN_CLINICIANS", "ClinicianEffect", "clinician_effect"]

MIN_CLINICIANS = 10
"""Fewer clinicians than this give an ICC too uncertain to act on (a warning is given).

Reliable estimates need many more therapists (see the sample-size tables of
Schiefele AK, Lutz W, Barkham M et al. Adm Policy Ment Health 2017;44(5):598-613,
doi:10.1007/s10488-016-0736-3); 10 is only the floor below which we warn.
"""


@dataclass(frozen=True)
class ClinicianEffect:
    """Result of :func:`clinician_effect`.

    icc: share of the outcome variance (conditional on the covariates) between
    clinicians, ``tau2 / (tau2 + sigma2)``, 0-1.
    ci_low, ci_high: its confidence interval (``level``, default 95 %), percentile
    parametric bootstrap; NaN when ``n_boot`` is 0.
    tau2: between-clinician variance of the random intercept (outcome units squared).
    sigma2: residual (within-clinician) variance.
    n_clinicians, n_episodes: the data the model was fitted to (rows with any missing
    value dropped).
    summary: fixed effects, one row per term: ``term``, ``coef``, ``se``, ``z``,
    ``p``, ``ci_low``, ``ci_high``, plus the variance components ``tau2`` and
    ``sigma2`` (``coef`` only).
    n_boot: bootstrap replicates used (failed refits excluded); level: CI level;
    converged: whether the REML fit converged.
    """

    icc: float
    ci_low: float
    ci_high: float
    tau2: float
    sigma2: float
    n_clinicians: int
    n_episodes: int
    summary: pd.DataFrame
    n_boot: int
    level: float
    converged: bool

    def __repr__(self) -> str:
        return (
            f"ClinicianEffect(icc={self.icc:.3f}, ci=({self.ci_low:.3f}, {self.ci_high:.3f}), "
            f"n_clinicians={self.n_clinicians}, n_episodes={self.n_episodes})"
        )


def _fit(y: np.ndarray, x: np.ndarray, groups: np.ndarray):
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, SingularMatrixWarning

    model = sm.MixedLM(y, x, groups=groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", SingularMatrixWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*boundary.*")
        return model.fit(reml=True)


def _variances(result) -> tuple[float, float]:
    tau2 = float(np.asarray(result.cov_re)[0, 0])
    sigma2 = float(result.scale)
    # REML on the boundary returns round-off (1e-19), not a variance: call it 0.
    return (tau2 if tau2 > 1e-10 * sigma2 else 0.0), sigma2


class _RandomInterceptREML:
    """Profiled REML of the random-intercept model from group sums (bootstrap refits).

    With ``V = sigma2 * (I + lam * Z Z')`` each clinician's block inverts in closed
    form, ``H_j^-1 = I - c_j 1 1'`` with ``c_j = lam / (1 + lam * n_j)`` and
    ``log|H_j| = log(1 + lam * n_j)``, so the REML criterion profiled over ``sigma2``
    (Harville 1977, doi:10.1080/01621459.1977.10480998)

    ``-2 l(lam) = (n - p) log(sigma2_hat) + sum_j log(1 + lam n_j) + log|X'H^-1 X|``

    needs only the group sums of ``X`` and ``y``: a 1,000-episode refit costs about a
    millisecond instead of a full MixedLM fit. It is the same estimator as MixedLM's
    REML (the tests compare them).
    """

    def __init__(self, x: np.ndarray, groups: np.ndarray) -> None:
        self.x = x
        self.groups = groups
        self.n, self.p = x.shape
        self.n_j = np.bincount(groups).astype(float)
        self.sx = np.stack([np.bincount(groups, weights=x[:, k]) for k in range(self.p)], axis=1)
        self.xtx = x.T @ x
        self.outer = np.einsum("ja,jb->jab", self.sx, self.sx)

    def _criterion(self, rho: float, sy: np.ndarray, xty: np.ndarray, yty: float) -> float:
        lam = rho / (1.0 - rho)
        c = lam / (1.0 + lam * self.n_j)
        a = self.xtx - np.tensordot(c, self.outer, axes=1)
        b = xty - (c * sy) @ self.sx
        q = yty - float(c @ sy**2) - float(b @ np.linalg.solve(a, b))
        sign, logdet = np.linalg.slogdet(a)
        if q <= 0 or sign <= 0:
            return np.inf
        return (
            (self.n - self.p) * np.log(q / (self.n - self.p))
            + float(np.log1p(lam * self.n_j).sum())
            + logdet
        )

    def fit(self, y: np.ndarray) -> tuple[float, float]:
        """``(tau2, sigma2)`` of the REML fit to ``y``."""
        from scipy.optimize import minimize_scalar

        sy = np.bincount(self.groups, weights=y, minlength=len(self.n_j))
        xty = self.x.T @ y
        yty = float(y @ y)
        args = (sy, xty, yty)
        best = minimize_scalar(
            self._criterion,
            bounds=(0.0, 0.999),
            method="bounded",
            args=args,
            options={"xatol": 1e-9},
        )
        rho = float(best.x)
        if self._criterion(0.0, *args) <= best.fun:
            rho = 0.0
        lam = rho / (1.0 - rho)
        c = lam / (1.0 + lam * self.n_j)
        a = self.xtx - np.tensordot(c, self.outer, axes=1)
        b = xty - (c * sy) @ self.sx
        sigma2 = (yty - float(c @ sy**2) - float(b @ np.linalg.solve(a, b))) / (self.n - self.p)
        return lam * sigma2, sigma2


def clinician_effect(
    episodes: pd.DataFrame,
    *,
    outcome: str = "change",
    covariates: Sequence[str] = ("intake",),
    group: str = "clinician",
    n_boot: int = 200,
    level: float = 0.95,
    seed: int | None = 0,
) -> ClinicianEffect:
    """Intraclass correlation of an outcome between clinicians, with a bootstrap CI.

    Model: ``outcome_ij = b0 + b'covariates_ij + u_j + e_ij``, ``u_j ~ N(0, tau2)`` the
    random intercept of clinician ``j``, ``e_ij ~ N(0, sigma2)`` for episode ``i``
    (clients are nested in clinicians), fitted by REML (statsmodels ``MixedLM``).
    ``ICC = tau2 / (tau2 + sigma2)``: how much of the outcome, after intake severity,
    depends on whom the client saw.

    Parameters
    ----------
    episodes : DataFrame
        One row per episode, e.g. :func:`kor.change.episode_change` restricted to
        assessable episodes. Not changed.
    outcome : str
        Column of the outcome (default ``"change"``, ORS points).
    covariates : sequence of str
        Fixed-effect columns (default ``("intake",)``: case-mix adjustment for intake
        severity, as in Wampold & Brown 2005). ``()`` for none.
    group : str
        Column naming the clinician.
    n_boot : int
        Parametric bootstrap replicates for the CI (default 200; 0 for none). Each is
        one REML refit from group sums (:class:`_RandomInterceptREML`), about a
        millisecond for 1,000 episodes.
    level : float
        Confidence level of the interval.
    seed : int or None
        Seed of the bootstrap, so the interval is reproducible.

    Returns
    -------
    ClinicianEffect

    Notes
    -----
    *Confidence interval.* Percentile parametric bootstrap: ``n_boot`` data sets
    are simulated from the fitted model (fixed part, new clinician intercepts with
    variance ``tau2``, new residuals with variance ``sigma2``, same design), the model
    is refitted to each and the ICC recomputed; the interval is the
    ``(1 - level)/2`` and ``(1 + level)/2`` quantiles. Unlike a Wald interval it
    respects the boundary at 0 (an ICC of 0 gets a lower limit of 0).

    Only the clinician level is modelled: a client's repeat episodes are treated as
    independent within the clinician (most clients have one episode).

    Raises :class:`~kor.errors.ValidationError` with fewer than 2 clinicians;
    warns (:class:`~kor.errors.KorStatisticalWarning`) with fewer than
    :data:`MIN_CLINICIANS`.

    References
    ----------
    Wampold BE, Brown GS. Estimating variability in outcomes attributable to
    therapists: a naturalistic study of outcomes in managed care. J Consult Clin
    Psychol 2005;73(5):914-923. doi:10.1037/0022-006X.73.5.914
    Baldwin SA, Imel ZE. Therapist effects: findings and methods. In: Lambert MJ, ed.
    Bergin and Garfield's Handbook of Psychotherapy and Behavior Change. 6th ed.
    Wiley; 2013:258-297.
    Davison AC, Hinkley DV. Bootstrap Methods and their Application. CUP; 1997.

    Examples
    --------
    >>> from kor import change, frames, sample  # doctest: +SKIP
    >>> ep = change.episode_change(frames.session_table(sample.generate(2000)))  # doctest: +SKIP
    >>> clinician_effect(ep[ep.assessable], n_boot=50)  # doctest: +SKIP
    ClinicianEffect(icc=0.002, ci=(0.000, 0.008), n_clinicians=12, n_episodes=2046)
    """
    covariates = tuple(covariates)
    require_columns(episodes, (outcome, *covariates, group), where="episodes")
    if not 0 < level < 1:
        raise ValidationError("error.out_of_range", field="level", low=0, high=1)
    data = episodes.loc[:, [group, outcome, *covariates]].dropna()
    y = data[outcome].to_numpy(dtype=float)
    x = np.column_stack([np.ones(len(data)), data.loc[:, list(covariates)].to_numpy(dtype=float)])
    groups = pd.factorize(data[group])[0]
    n_clinicians = int(groups.max()) + 1 if len(groups) else 0
    if n_clinicians < 2 or len(data) <= n_clinicians:
        raise ValidationError("error.clinician_effect.too_few", field=group, n=n_clinicians)
    if n_clinicians < MIN_CLINICIANS:
        warnings.warn(
            f"only {n_clinicians} clinicians: the ICC is very uncertain "
            f"(at least {MIN_CLINICIANS} are advised)",
            KorStatisticalWarning,
            stacklevel=2,
        )

    result = _fit(y, x, groups)
    tau2, sigma2 = _variances(result)
    icc = tau2 / (tau2 + sigma2) if tau2 + sigma2 > 0 else float("nan")

    fe = np.asarray(result.fe_params, dtype=float)
    k = len(fe)
    bse = np.asarray(result.bse, dtype=float)[:k]
    z = fe / bse
    from scipy import stats

    crit = stats.norm.ppf(0.5 + level / 2)
    summary = pd.DataFrame(
        {
            "term": ["intercept", *covariates, "tau2", "sigma2"],
            "coef": [*fe, tau2, sigma2],
            "se": [*bse, np.nan, np.nan],
            "z": [*z, np.nan, np.nan],
            "p": [*(2 * stats.norm.sf(np.abs(z))), np.nan, np.nan],
            "ci_low": [*(fe - crit * bse), np.nan, np.nan],
            "ci_high": [*(fe + crit * bse), np.nan, np.nan],
        }
    )

    ci_low = ci_high = float("nan")
    used = 0
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        mean = x @ fe
        reml = _RandomInterceptREML(x, groups)
        iccs = []
        for _ in range(int(n_boot)):
            y_star = (
                mean
                + rng.normal(0.0, np.sqrt(tau2), n_clinicians)[groups]
                + rng.normal(0.0, np.sqrt(sigma2), len(y))
            )
            t2, s2 = reml.fit(y_star)
            if np.isfinite(t2) and np.isfinite(s2) and t2 + s2 > 0:
                iccs.append(t2 / (t2 + s2))
        used = len(iccs)
        if used:
            ci_low, ci_high = (
                float(v) for v in np.quantile(iccs, [(1 - level) / 2, (1 + level) / 2])
            )

    return ClinicianEffect(
        icc=float(icc),
        ci_low=ci_low,
        ci_high=ci_high,
        tau2=tau2,
        sigma2=sigma2,
        n_clinicians=n_clinicians,
        n_episodes=len(data),
        summary=summary,
        n_boot=used,
        level=level,
        converged=bool(result.converged),
    )
