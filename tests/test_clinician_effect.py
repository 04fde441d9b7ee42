"""Clinician effect (ICC) from a random-intercept model, checked on simulated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kor.clinician_effect import ClinicianEffect, clinician_effect
from kor.errors import KorStatisticalWarning, ValidationError


def _simulate(icc: float, *, clinicians: int = 30, per: int = 20, seed: int = 7) -> pd.DataFrame:
    """change = 12 - 0.4 * intake + u_clinician + e, total residual variance 36."""
    rng = np.random.default_rng(seed)
    total = 36.0
    group = np.repeat(np.arange(clinicians), per)
    intake = rng.normal(19.0, 6.0, group.size)
    u = rng.normal(0.0, np.sqrt(icc * total), clinicians)[group]
    e = rng.normal(0.0, np.sqrt((1 - icc) * total), group.size)
    return pd.DataFrame(
        {
            "clinician": [f"u{g:02d}" for g in group],
            "intake": intake,
            "change": 12 - 0.4 * intake + u + e,
        }
    )


def test_icc_of_ten_percent_is_recovered_and_covered():
    result = clinician_effect(_simulate(0.10), n_boot=200, seed=1)
    assert isinstance(result, ClinicianEffect)
    assert result.icc == pytest.approx(0.10, abs=0.07)
    assert result.ci_low <= 0.10 <= result.ci_high
    assert result.ci_low < result.icc < result.ci_high
    assert (result.n_clinicians, result.n_episodes) == (30, 600)
    slope = result.summary.set_index("term").loc["intake", "coef"]
    assert slope == pytest.approx(-0.4, abs=0.08)


def test_no_clinician_effect_gives_icc_near_zero_with_ci_from_zero():
    result = clinician_effect(_simulate(0.0, seed=3), n_boot=200, seed=2)
    assert result.icc < 0.05
    assert result.ci_low == pytest.approx(0.0, abs=1e-6)
    assert result.ci_low <= 0.0 <= result.ci_high


def test_balanced_icc_without_covariates_equals_anova_estimate():
    data = _simulate(0.2, clinicians=15, per=8, seed=11)
    result = clinician_effect(data, covariates=(), n_boot=0)
    # one-way ANOVA estimator; equals REML for balanced data when positive
    groups = data.groupby("clinician")["change"]
    n, k = 8, 15
    grand = data["change"].mean()
    msb = n * ((groups.mean() - grand) ** 2).sum() / (k - 1)
    msw = ((data["change"] - groups.transform("mean")) ** 2).sum() / (k * (n - 1))
    tau2 = (msb - msw) / n
    assert tau2 > 0
    assert result.icc == pytest.approx(tau2 / (tau2 + msw), rel=1e-3)
    assert np.isnan(result.ci_low) and result.n_boot == 0


def test_few_clinicians_warn_and_one_clinician_is_an_error():
    with pytest.warns(KorStatisticalWarning):
        clinician_effect(_simulate(0.1, clinicians=6, per=10), n_boot=0)
    with pytest.raises(ValidationError):
        clinician_effect(_simulate(0.1, clinicians=1, per=10), n_boot=0)


def test_rows_with_missing_values_are_dropped_and_input_kept():
    data = _simulate(0.1, clinicians=12, per=10)
    data.loc[[0, 5], "change"] = np.nan
    before = data.copy()
    result = clinician_effect(data, n_boot=0)
    assert result.n_episodes == 118
    pd.testing.assert_frame_equal(data, before)


@pytest.mark.parametrize("icc, seed", [(0.15, 4), (0.02, 5)])
def test_bootstrap_refit_is_the_same_reml_as_mixedlm(icc, seed):
    from kor.clinician_effect import _RandomInterceptREML

    data = _simulate(icc, clinicians=20, per=12, seed=seed)
    # unbalanced: drop a third of one clinician's episodes
    data = data.drop(index=range(0, 4))
    result = clinician_effect(data, n_boot=0)
    x = np.column_stack([np.ones(len(data)), data["intake"].to_numpy()])
    groups = pd.factorize(data["clinician"])[0]
    tau2, sigma2 = _RandomInterceptREML(x, groups).fit(data["change"].to_numpy())
    assert tau2 == pytest.approx(result.tau2, rel=1e-3, abs=1e-4)
    assert sigma2 == pytest.approx(result.sigma2, rel=1e-4)
