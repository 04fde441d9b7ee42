"""Run and control charts (kor.spc, kor.spc_plot).

Reference cases: qicharts2 (R, Anhøj) results on Montgomery's textbook examples,
read from ``../shared/reference/spc/`` beside the checkout (or ``KOR_SPC_REFERENCE``),
as that folder's README asks: they are not copied into the project. Where the
folder is absent those tests skip with that reason. Tolerance: third decimal
(absolute 5e-4).
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from kor import spc, spc_plot
from kor.errors import KorStatisticalWarning, MissingColumnsError, ValidationError
from kor.i18n import catalog, t
from kor.spc import anhoej_limits, control_chart, runs_analysis, verdict

matplotlib.use("Agg")

DATA = Path(
    os.environ.get("KOR_SPC_REFERENCE")
    or Path(__file__).resolve().parents[2] / "shared" / "reference" / "spc"
)
HAVE_REFERENCE = (DATA / "cases.json").exists()
CASES = json.loads((DATA / "cases.json").read_text(encoding="utf-8")) if HAVE_REFERENCE else []
needs_reference = pytest.mark.skipif(
    not HAVE_REFERENCE, reason=f"SPC reference cases not found at {DATA}"
)
TOLERANCE = 5e-4


def _chart_for(case: dict) -> spc.ControlChart:
    options = case["options"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KorStatisticalWarning)
        return control_chart(
            pd.read_csv(DATA / case["input"]),
            x=case["x"],
            y=case["y"],
            n=case["n"],
            chart=case["chart"],
            part=options.get("part"),
            freeze=options.get("freeze"),
            exclude=options.get("exclude"),
            multiply=options.get("multiply", 1),
        )


# --------------------------------------------------------------------------- reference cases


@needs_reference
@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_chart_reproduces_qicharts2_on_montgomery_example(case):
    expected = pd.read_csv(DATA / case["expected"])
    got = _chart_for(case).data
    assert len(got) == len(expected)
    for column in expected.columns:
        mine = got[column.replace(".", "_")].to_numpy(dtype=float)
        theirs = expected[column].to_numpy(dtype=float)
        np.testing.assert_allclose(
            mine, theirs, rtol=0, atol=TOLERANCE, equal_nan=True, err_msg=column
        )


@needs_reference
def test_reference_cases_cover_every_chart_type_but_run():
    assert {c["chart"] for c in CASES} == set(spc.CHARTS) - {"run"}


@needs_reference
@pytest.mark.parametrize("infection", ["BAC", "CDI", "UTI"])
def test_u_chart_summary_pools_hospitals_per_month_like_qicharts2(infection):
    data = pd.read_csv(DATA / "hospital_infections.csv", parse_dates=["month"])
    expected = pd.read_csv(DATA / "hai_2.expected.csv").set_index("facet1").loc[infection]
    got = control_chart(
        data[data["infection"] == infection], x="month", y="n", n="days", chart="u"
    ).summary()
    assert len(got) == 1
    row = got.iloc[0]
    pairs = {
        "n.obs": "n_obs",
        "n.useful": "n_useful",
        "longest.run": "longest_run",
        "longest.run.max": "longest_run_max",
        "n.crossings": "n_crossings",
        "n.crossings.min": "n_crossings_min",
        "runs.signal": "runs_signal",
        "aLCL": "avg_lcl",
        "CL": "cl",
        "aUCL": "avg_ucl",
        "sigma.signal": "sigma_signal",
    }
    for theirs, mine in pairs.items():
        assert float(row[mine]) == pytest.approx(float(expected[theirs]), abs=1e-9), theirs


# --------------------------------------------------------------------------- Anhøj limits


def _qbinom_by_cumulative_sum(p: float, size: int) -> int:
    """R's qbinom for prob 1/2, from a float cumulative sum of C(size, i) / 2**size."""
    cumulative = 0.0
    for k in range(size + 1):
        cumulative += math.comb(size, k) / 2**size
        if cumulative >= p:
            return k
    return size


@pytest.mark.parametrize("n", range(10, 101))
def test_anhoej_limits_match_formula_computed_two_other_ways(n):
    longest_run_max, n_crossings_min = anhoej_limits(n)
    assert longest_run_max == math.floor(math.log2(n) + 0.5) + 3
    assert n_crossings_min == int(binom.ppf(0.05, n - 1, 0.5))
    assert n_crossings_min == _qbinom_by_cumulative_sum(0.05, n - 1)


@pytest.mark.parametrize("n", range(2, 101))
def test_crossings_minimum_is_smallest_k_reaching_five_percent(n):
    # R's qbinom: the smallest k with P(X <= k) >= 0.05 (not the largest with < 0.05).
    k = anhoej_limits(n)[1]
    assert binom.cdf(k, n - 1, 0.5) >= 0.05
    if k > 0:
        assert binom.cdf(k - 1, n - 1, 0.5) < 0.05


@pytest.mark.parametrize(
    ("n", "longest_run_max", "n_crossings_min"),
    # Anhøj & Olesen 2014, table 1; by hand for n = 10: log2(10) = 3.32 -> 3 + 3 = 6;
    # P(X <= 1 | 9, 1/2) = 10/512 = 0.020, P(X <= 2) = 46/512 = 0.090 -> 2.
    [(10, 6, 2), (20, 7, 6), (30, 8, 10), (40, 8, 14), (64, 9, 25)],
)
def test_anhoej_limits_match_published_table(n, longest_run_max, n_crossings_min):
    assert anhoej_limits(n) == (longest_run_max, n_crossings_min)


def test_anhoej_limits_reject_empty_series():
    with pytest.raises(ValidationError):
        anhoej_limits(0)


# --------------------------------------------------------------------------- runs analysis


def test_points_on_centre_line_neither_break_nor_extend_a_run():
    # sides: + + 0 + - - 0 -  -> useful + + + - - -  : runs of 3 and 3, one crossing
    result = runs_analysis([2, 3, 1, 4, -1, -2, 1, -3], 1.0)
    assert result["n_obs"] == 8
    assert result["n_useful"] == 6
    assert result["longest_run"] == 3
    assert result["n_crossings"] == 1
    # n_useful = 6: max run round(2.58) + 3 = 6; min crossings qbinom(.05, 5, .5) = 1
    assert (result["longest_run_max"], result["n_crossings_min"]) == (6, 1)
    assert result["runs_signal"] is False


def test_trend_gives_runs_signal_on_run_chart():
    cc = control_chart(y=list(range(1, 21)), chart="run")
    row = cc.summary().iloc[0]
    # median 10.5: ten below then ten above -> longest run 10 > 7, one crossing < 6
    assert row["cl"] == 10.5
    assert (row["longest_run"], row["n_crossings"]) == (10, 1)
    assert bool(row["runs_signal"])
    assert np.isnan(cc.data["ucl"]).all()


def test_mr_chart_never_gives_runs_signal():
    cc = control_chart(y=np.arange(30.0) ** 2, chart="mr")
    assert not cc.data["runs_signal"].any()


# --------------------------------------------------------------------------- limits


def test_i_chart_sigma_is_mean_moving_range_over_d2():
    y = [10, 12, 11, 13, 12, 14, 13, 15, 14, 16, 15, 17]
    # moving ranges: 2,1,2,1,2,1,2,1,2,1,2 -> mean 17/11; sigma = 17/11/1.128
    cc = control_chart(y=y, chart="i")
    sigma = (17 / 11) / 1.128
    assert cc.data["cl"].iloc[0] == pytest.approx(np.mean(y))
    assert cc.data["ucl"].iloc[0] == pytest.approx(np.mean(y) + 3 * sigma)
    assert cc.data["lcl"].iloc[0] == pytest.approx(np.mean(y) - 3 * sigma)


def test_screening_drops_one_large_moving_range_before_sigma():
    y = [10.0, 11, 10, 11, 10, 11, 10, 11, 10, 11, 40, 11]
    # MRs: nine of 1, then 29 and 29; mean 67/11 = 6.09, screen limit 19.9 drops both 29s
    screened = control_chart(y=y, chart="i")
    raw = control_chart(y=y, chart="i", screen_mr=False)
    mean = np.mean(y)
    assert screened.data["ucl"].iloc[0] == pytest.approx(mean + 3 * 1.0 / 1.128)
    assert raw.data["ucl"].iloc[0] == pytest.approx(mean + 3 * (67 / 11) / 1.128)


@pytest.mark.filterwarnings("ignore::kor.errors.KorStatisticalWarning")
def test_p_chart_limits_follow_each_points_denominator_and_stay_in_unit_interval():
    cc = control_chart(y=[1, 2, 30, 4, 5], n=[10, 20, 40, 10, 50], chart="p")
    d = cc.data
    cl = 42 / 130
    assert d["cl"].iloc[0] == pytest.approx(cl)
    assert d["ucl"].iloc[1] == pytest.approx(cl + 3 * math.sqrt(cl * (1 - cl) / 20))
    assert (d["lcl"] >= 0).all() and (d["ucl"] <= 1).all()
    assert d["sigma_signal"].iloc[2]  # 30/40 = 0.75 far above


def test_freeze_takes_lines_from_baseline_only():
    y = [5.0, 6, 5, 6, 5, 6, 5, 6, 5, 6, 20, 21, 20, 21]
    cc = control_chart(y=y, chart="i", freeze=10)
    assert cc.data["cl"].iloc[-1] == pytest.approx(5.5)
    assert cc.data["baseline"].tolist() == [True] * 10 + [False] * 4
    assert cc.data["sigma_signal"].iloc[10:].all()


def test_excluded_point_is_kept_but_left_out_of_the_lines():
    y = [5.0, 6, 5, 6, 50, 6, 5, 6, 5, 6, 5, 6]
    cc = control_chart(y=y, chart="c", exclude=[5])
    assert cc.data["y"].iloc[4] == 50
    assert not cc.data["include"].iloc[4]
    assert cc.data["cl"].iloc[0] == pytest.approx(61 / 11)
    assert cc.data["n_obs"].iloc[0] == 11


def test_each_part_has_own_lines_and_runs_analysis():
    y = [5.0, 6, 5, 6, 5, 6, 5, 6, 5, 6, 9, 10, 9, 10, 9, 10, 9, 10, 9, 10]
    cc = control_chart(y=y, chart="i", part=[10])
    s = cc.summary()
    assert s["part"].tolist() == [1, 2]
    assert s["cl"].tolist() == pytest.approx([5.5, 9.5])
    assert s["n_obs"].tolist() == [10, 10]
    assert s["start"].tolist() == [1, 11]


@needs_reference
def test_phase_column_splits_like_break_positions():
    data = pd.read_csv(DATA / "ex_7.1_5.input.csv")
    by_column = control_chart(data, x="sample", y="count", n="size", chart="p", part="phase")
    by_position = control_chart(data, x="sample", y="count", n="size", chart="p", part=[30])
    pd.testing.assert_frame_equal(by_column.data, by_position.data)


def test_dated_change_starts_a_new_part_at_first_point_on_or_after_it():
    months = pd.date_range("2024-01-01", periods=24, freq="MS")
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"month": months, "score": rng.normal(20, 1, 24)})
    cc = control_chart(data, x="month", y="score", chart="i", part=["2024-12-15"])
    parts = cc.data["part"].tolist()
    assert parts == [1] * 12 + [2] * 12  # 2025-01-01 is the first month after the change


@pytest.mark.filterwarnings("ignore::kor.errors.KorStatisticalWarning")
def test_rows_sharing_x_are_pooled_for_a_p_chart():
    data = pd.DataFrame({"m": [1, 1, 2, 2], "k": [1, 3, 2, 2], "n": [10, 30, 20, 20]})
    cc = control_chart(data, x="m", y="k", n="n", chart="p")
    assert cc.data["y"].tolist() == pytest.approx([4 / 40, 4 / 40])
    assert cc.data["n"].tolist() == [40, 40]


def test_multiply_scales_points_and_lines_but_not_signals():
    base = control_chart(y=[1, 2, 3, 2, 1, 2, 9, 2, 1, 2], n=[20] * 10, chart="p")
    pct = control_chart(y=[1, 2, 3, 2, 1, 2, 9, 2, 1, 2], n=[20] * 10, chart="p", multiply=100)
    for column in ("y", "cl", "lcl", "ucl"):
        assert pct.data[column].to_numpy() == pytest.approx(100 * base.data[column].to_numpy())
    assert pct.data["sigma_signal"].tolist() == base.data["sigma_signal"].tolist()


@needs_reference
def test_input_frame_is_not_mutated():
    data = pd.read_csv(DATA / "ex_7.3_3.input.csv")
    before = data.copy()
    control_chart(data, x="sample", y="count", chart="c", freeze=26, exclude=[6, 20])
    pd.testing.assert_frame_equal(data, before)


# --------------------------------------------------------------------------- errors, warnings


def test_unknown_chart_type_is_a_validation_error():
    with pytest.raises(ValidationError) as info:
        control_chart(y=[1, 2, 3], chart="zz")
    assert info.value.key == "error.spc.unknown_chart"


def test_missing_column_is_named():
    with pytest.raises(MissingColumnsError) as info:
        control_chart(pd.DataFrame({"a": [1]}), x="a", y="b")
    assert info.value.missing == ["b"]


def test_p_chart_without_denominator_is_refused():
    with pytest.raises(ValidationError) as info:
        control_chart(y=[1, 2, 3], chart="p")
    assert info.value.key == "error.spc.needs_denominator"


def test_t_chart_refuses_zero_time():
    with pytest.raises(ValidationError) as info:
        control_chart(y=[3.0, 0.0, 5.0], chart="t")
    assert info.value.key == "error.spc.time_not_positive"


def test_few_useful_points_warn():
    with pytest.warns(KorStatisticalWarning):
        control_chart(y=[1, 2, 3, 4, 5], chart="run")


def test_ten_useful_points_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", KorStatisticalWarning)
        control_chart(y=[1, 3, 2, 5, 4, 7, 6, 9, 8, 10], chart="run")  # median 5.5


# --------------------------------------------------------------------------- verdict


def _two_phases(after: list[float]) -> spc.ControlChart:
    before = [20.0, 21, 19, 20, 22, 18, 20, 21, 19, 20, 21, 19]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KorStatisticalWarning)  # points on the mean of 20
        return control_chart(y=before + after, chart="i", part=[len(before)])


def test_verdict_up_when_latest_phase_runs_above_previous_centre():
    assert verdict(_two_phases([21.0, 22, 21, 22, 21, 22, 21, 22, 21, 22])) == "signal_up"


def test_verdict_down_when_a_point_falls_below_previous_limits():
    # previous phase: mean 20, MR mean 19/11 -> limits 20 -/+ 4.6; 10 is far below
    assert verdict(_two_phases([20.0, 21, 19, 10, 20, 21, 19, 20, 21, 19])) == "signal_down"


def test_verdict_no_signal_when_latest_phase_looks_like_previous():
    assert verdict(_two_phases([20.0, 21, 19, 20, 22, 18, 20, 21, 19, 20])) == "no_signal"


@needs_reference
def test_verdict_on_textbook_p_chart_after_machine_adjustment_is_down():
    case = next(c for c in CASES if c["case"] == "ex_7.1_5")
    assert verdict(_chart_for(case)) == "signal_down"


def test_verdict_single_part_uses_its_own_lines():
    assert verdict(control_chart(y=list(range(1, 21)), chart="run")) == "signal_up"


# --------------------------------------------------------------------------- catalog, plot


def test_every_spc_catalog_entry_has_both_languages():
    path = Path(spc.__file__).parent / "catalog" / "spc.toml"
    entries = tomllib.loads(path.read_text(encoding="utf-8"))
    assert entries
    for key, value in entries.items():
        assert set(value) >= {"nb", "en"}, key
        assert value["nb"].strip() and value["en"].strip(), key


def test_every_catalog_key_used_in_spc_code_exists():
    keys = set()
    for module in ("spc.py", "spc_plot.py"):
        text = (Path(spc.__file__).parent / module).read_text(encoding="utf-8")
        keys |= set(re.findall(r'"((?:error\.)?spc\.[a-z_.]+)"', text))
    keys |= {f"spc.chart.{k}" for k in spc.CHARTS} | {f"spc.axis.y.{k}" for k in spc.CHARTS}
    keys |= {f"spc.verdict.{v}" for v in ("signal_up", "signal_down", "no_signal", "rule")}
    missing = sorted(k for k in keys if k not in catalog())
    assert not missing


@needs_reference
def test_plot_draws_on_given_axes_with_catalog_labels():
    import matplotlib.pyplot as plt

    case = next(c for c in CASES if c["case"] == "ex_7.1_5")
    chart = _chart_for(case)
    fig, ax = plt.subplots()
    try:
        returned = chart.plot(ax=ax, annotations=[(31, "Machine adjustment")])
        assert returned is ax
        assert ax.get_xlabel() == t("spc.axis.x")
        assert ax.get_title() == t("spc.chart.p")
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert t("spc.legend.sigma_signal") in legend
        assert t("spc.legend.excluded") in legend
        assert any(text.get_text() == "Machine adjustment" for text in ax.texts)
    finally:
        plt.close(fig)


def test_plot_marks_runs_signal_with_dashed_centre_line_on_dated_axis():
    import matplotlib.pyplot as plt

    months = pd.date_range("2024-01-01", periods=20, freq="MS")
    chart = control_chart(x=months, y=list(range(20)), chart="run")
    ax = chart.plot(title="x", annotations=[("2024-06-01", "change")])
    try:
        assert ax.get_title() == "x"
        signal_lines = [
            line
            for line in ax.get_lines()
            if line.get_linestyle() == "--" and line.get_color() == spc_plot.SIGNAL_COLOUR
        ]
        assert len(signal_lines) == 1
        assert signal_lines[0].get_label() == t("spc.legend.runs_signal")
    finally:
        plt.close(ax.figure)


def test_docstring_examples_hold():
    import doctest

    result = doctest.testmod(spc)
    assert result.attempted >= 3
    assert result.failed == 0


def test_part_after_frozen_baseline_gets_lines_from_all_its_points():
    y = [5.0, 6, 5, 6, 5, 6, 5, 6, 5, 6, 9, 10, 9, 10, 9, 10, 9, 10, 9, 10]
    cc = control_chart(y=y, chart="i", freeze=6, part=[10])
    s = cc.summary()
    assert s["cl"].tolist() == pytest.approx([5.5, 9.5])
    assert cc.data["baseline"].tolist() == [True] * 6 + [False] * 4 + [True] * 10


def test_text_in_measurements_is_a_validation_error():
    with pytest.raises(ValidationError) as info:
        control_chart(y=["1", "two", "3"], chart="run")
    assert info.value.key == "error.not_a_number"


def test_plot_marks_end_of_frozen_baseline():
    import matplotlib.pyplot as plt

    y = [5.0, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 7, 5]
    ax = control_chart(y=y, chart="i", freeze=10).plot()
    try:
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert t("spc.legend.baseline_end") in legend
    finally:
        plt.close(ax.figure)


def test_a_chart_over_months_has_month_names_in_the_ui_language():
    """The cycle app's chart showed «Apr», «Jul», «Oct» on a bokmål page."""
    months = pd.date_range("2025-01-01", periods=24, freq="MS")
    cc = control_chart(x=months, y=np.linspace(90.0, 99.0, 24), chart="i")
    ax = spc_plot.control_chart(cc)
    ax.figure.canvas.draw()
    labels = [label.get_text() for label in ax.get_xticklabels() if label.get_text()]
    bokmal = {t(f"report.month.{m}", language="nb") for m in range(2, 13)}
    assert labels and all(label in bokmal or label.isdigit() for label in labels), labels
    assert any(label in bokmal for label in labels), labels
    y = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
    assert not any("." in label for label in y), y
