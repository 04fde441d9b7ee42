"""The synthetic municipality: schema, validity of every measurement, realism, determinism."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kor import measures
from kor.errors import OutOfRangeError
from kor.frames import SESSION_COLUMNS, TABLE_COLUMNS, Dataset, session_table
from kor.sample import DEFAULT_END, END_REASONS, _client_codes, generate, write_sample


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return generate(400)


@pytest.fixture(scope="module")
def st(ds: Dataset) -> pd.DataFrame:
    return session_table(ds)


@pytest.fixture(scope="module")
def joined(ds: Dataset) -> pd.DataFrame:
    """Sessions with their episode and client attributes."""
    out = ds.sessions.merge(ds.episodes, on="episode_id", suffixes=("", "_episode"))
    return out.merge(ds.clients, on="client_id")


def _outcome_by_episode(st: pd.DataFrame) -> pd.DataFrame:
    rec = st.dropna(subset=["outcome"])
    return rec.groupby("episode")["outcome"].agg(["first", "last", "count"])


# --- schema -------------------------------------------------------------------------


def test_every_table_has_exactly_the_declared_columns_in_order(ds: Dataset) -> None:
    for name, frame in ds.tables().items():
        assert tuple(frame.columns) == TABLE_COLUMNS[name]


def test_ids_are_integers_counting_from_one(ds: Dataset) -> None:
    for name, frame in ds.tables().items():
        ids = frame[TABLE_COLUMNS[name][0]]
        assert ids.dtype == np.int64
        assert ids.tolist() == list(range(1, len(frame) + 1))


def test_dtypes_dates_nullable_ints_and_open_end_reason(ds: Dataset) -> None:
    assert ds.clients["birth_year"].dtype == "Int64"
    assert ds.clients["team_id"].dtype == "Int64"
    assert ds.users["team_id"].dtype == "Int64"
    for frame, col in [
        (ds.episodes, "start_date"),
        (ds.episodes, "end_date"),
        (ds.sessions, "session_date"),
        (ds.measurements, "entered_at"),
    ]:
        assert pd.api.types.is_datetime64_dtype(frame[col]), col
    open_ = ds.episodes["end_date"].isna()
    assert open_.any() and (~open_).any()
    assert ds.episodes.loc[open_, "end_reason"].map(lambda v: v is None).all()
    assert set(ds.episodes.loc[~open_, "end_reason"]) <= set(END_REASONS)


def test_foreign_keys_point_at_existing_rows(ds: Dataset) -> None:
    assert ds.clients["team_id"].isin(ds.teams["team_id"]).all()
    assert ds.episodes["client_id"].isin(ds.clients["client_id"]).all()
    assert ds.sessions["episode_id"].isin(ds.episodes["episode_id"]).all()
    assert ds.measurements["session_id"].isin(ds.sessions["session_id"]).all()
    clinicians = ds.users.loc[ds.users["role"] == "clinician", "user_id"]
    assert ds.episodes["clinician_id"].isin(clinicians).all()
    assert ds.sessions["clinician_id"].isin(clinicians).all()
    assert ds.measurements["entered_by"].isin(clinicians).all()
    assert ds.clients["client_id"].isin(ds.episodes["client_id"]).all()
    assert ds.episodes["episode_id"].isin(ds.sessions["episode_id"]).all()


# --- teams and staff ------------------------------------------------------------------


def test_three_teams_with_short_uppercase_codes(ds: Dataset) -> None:
    assert ds.teams["code"].tolist() == ["VOP", "RUS", "BUP"]
    assert ds.teams["code"].str.fullmatch(r"[A-Z]{2,5}").all()


def test_staff_has_every_role_and_clinicians_belong_to_a_team(ds: Dataset) -> None:
    users = ds.users
    roles = users["role"].value_counts()
    assert roles["clinician"] == 12
    assert roles["team_lead"] == 3
    assert roles[["quality_lead", "researcher", "admin"]].tolist() == [1, 1, 1]
    in_team = users["role"].isin(["clinician", "team_lead"])
    assert users.loc[in_team, "team_id"].notna().all()
    assert users.loc[~in_team, "team_id"].isna().all()
    leads = users.loc[users["role"] == "team_lead", "team_id"]
    assert sorted(leads) == [1, 2, 3]
    assert users["username"].str.fullmatch(r"[a-z]+\.[a-z]+").all()
    assert users["username"].is_unique
    assert (users["display_name"].str.split().str.len() >= 2).all()


def test_episode_clinician_comes_from_the_clients_team(joined: pd.DataFrame, ds: Dataset) -> None:
    ep = ds.episodes.merge(ds.clients, on="client_id")
    clin_team = ds.users.set_index("user_id")["team_id"]
    assert (ep["clinician_id"].map(clin_team) == ep["team_id"]).all()


# --- clients --------------------------------------------------------------------------


def test_client_codes_are_pseudonyms_never_national_ids(ds: Dataset) -> None:
    codes = ds.clients["code"]
    assert codes.is_unique
    assert codes.str.fullmatch(r"[A-Za-z0-9_-]{3,20}").all()
    assert codes.str.fullmatch(r"K\d{5}").all()
    assert not codes.str.contains(r"\d{11}").any()
    assert codes.iloc[0] == "K00001"


def test_client_code_widens_beyond_99999_clients() -> None:
    codes = _client_codes(123_456)
    assert codes[0] == "K000001" and codes[-1] == "K123456"
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{3,20}", c) for c in codes[::1000])


def test_age_group_matches_birth_year_at_every_episode_start(ds: Dataset) -> None:
    ep = ds.episodes.merge(ds.clients, on="client_id")
    expected = [
        measures.age_group_for(by, d.date())
        for by, d in zip(ep["birth_year"], ep["start_date"], strict=True)
    ]
    assert ep["age_group"].tolist() == expected


def test_adults_in_vop_and_rus_children_and_youth_in_bup() -> None:
    ds = generate(2000, seed=3)
    c = ds.clients.merge(ds.teams, on="team_id", suffixes=("", "_team"))
    adults = c["age_group"] == "adult"
    assert set(c.loc[adults, "code_team"]) == {"VOP", "RUS"}
    assert set(c.loc[~adults, "code_team"]) == {"BUP"}
    bup = c.loc[c["code_team"] == "BUP", "age_group"].value_counts(normalize=True)
    assert bup["age_6_12"] > 0.3 and bup["age_13_17"] > 0.4
    assert 0.02 < bup["under_6"] < 0.12  # a few under 6
    shares = c["code_team"].value_counts(normalize=True)
    assert shares["VOP"] > shares["RUS"] > shares["BUP"] > 0.15


# --- episodes and sessions ------------------------------------------------------------


def test_session_numbers_run_one_to_n_within_each_episode(ds: Dataset) -> None:
    s = ds.sessions
    expected = s.groupby("episode_id").cumcount() + 1
    assert (s["number"] == expected).all()


def test_session_dates_increase_and_lie_within_the_episode(joined: pd.DataFrame) -> None:
    j = joined.sort_values(["episode_id", "number"])
    step = j.groupby("episode_id")["session_date"].diff().dropna()
    assert (step > pd.Timedelta(0)).all()
    first = j[j["number"] == 1]
    assert (first["session_date"] == first["start_date"]).all()
    assert (j["session_date"] >= j["start_date"]).all()
    ended = j["end_date"].notna()
    assert (j.loc[ended, "session_date"] <= j.loc[ended, "end_date"]).all()
    assert j["session_date"].max() <= pd.Timestamp(DEFAULT_END)
    assert j["session_date"].dt.day_of_week.lt(5).all()  # no weekend sessions


def test_period_spans_the_requested_years_and_ends_at_end(ds: Dataset) -> None:
    start = ds.episodes["start_date"]
    assert start.min() >= pd.Timestamp(date(2024, 11, 1))
    assert start.max() <= pd.Timestamp(DEFAULT_END)
    assert (start.max() - start.min()).days > 600
    assert ds.episodes["end_date"].dropna().max() <= pd.Timestamp(DEFAULT_END)


def test_episodes_open_at_the_end_are_recent(ds: Dataset) -> None:
    open_start = ds.episodes.loc[ds.episodes["end_date"].isna(), "start_date"]
    assert (open_start > pd.Timestamp(DEFAULT_END) - pd.Timedelta(days=400)).all()
    assert open_start.median() > pd.Timestamp(DEFAULT_END) - pd.Timedelta(days=120)


def test_some_clients_have_a_second_later_episode(ds: Dataset) -> None:
    per_client = ds.episodes.groupby("client_id").size()
    share = (per_client > 1).mean()
    assert 0.04 < share < 0.16
    assert per_client.max() == 2
    ep = ds.episodes.sort_values(["client_id", "start_date"])
    again = ep[ep.duplicated("client_id", keep=False)]
    first, second = again.groupby("client_id").nth(0), again.groupby("client_id").nth(1)
    first, second = first.set_index("client_id"), second.set_index("client_id")
    assert (second["start_date"] > first["end_date"]).all()


def test_sessions_per_episode_range_one_to_twenty_with_median_six_to_eight(ds: Dataset) -> None:
    n = ds.sessions.groupby("episode_id").size()
    assert n.min() >= 1 and n.max() <= 20
    assert 5 <= n.median() <= 8


def test_group_sessions_only_in_rus_and_on_the_programme_weekdays(st: pd.DataFrame) -> None:
    group = st[st["format"] == "group"]
    assert len(group) > 0
    assert set(group["team"]) == {"RUS"}
    assert set(group["session_date"].dt.day_of_week) <= {1, 3}
    assert (group["session_no"] > 1).all()  # the first session is individual
    assert set(st["format"]) == {"individual", "group"}


# --- measurements ---------------------------------------------------------------------


def test_every_measurement_scores_as_recorded(ds: Dataset) -> None:
    m = ds.measurements
    cols = ["measure", "item1", "item2", "item3", "item4", "total"]
    for code, i1, i2, i3, i4, total in m[cols].itertuples(index=False):
        measure = measures.get(code)
        scored = measures.score(measure, dict(zip(measure.items, (i1, i2, i3, i4), strict=True)))
        assert scored["total"] == total


def test_items_have_one_decimal_and_lie_in_range(ds: Dataset) -> None:
    items = ds.measurements[["item1", "item2", "item3", "item4"]].to_numpy()
    assert items.min() >= 0.0 and items.max() <= 10.0
    assert np.allclose(items * 10, np.round(items * 10), atol=1e-9)


def test_measure_fits_the_clients_age_group_and_session_format(st: pd.DataFrame) -> None:
    for kind in ("outcome_measure", "alliance_measure"):
        combos = st.dropna(subset=[kind]).drop_duplicates([kind, "age_group", "format"])
        for code, age_group, fmt in combos[[kind, "age_group", "format"]].itertuples(index=False):
            measures.check_fits(measures.get(code), age_group, fmt)
            kind_name = "outcome" if kind == "outcome_measure" else "alliance"
            assert measures.measure_for(kind_name, age_group, fmt).code == code


def test_at_most_one_outcome_and_one_alliance_per_session(ds: Dataset) -> None:
    kind = ds.measurements["measure"].map(lambda c: measures.get(c).kind)
    dup = pd.DataFrame({"s": ds.measurements["session_id"], "k": kind}).duplicated()
    assert not dup.any()


def test_entered_at_is_on_the_session_date_outcome_before_alliance(ds: Dataset) -> None:
    m = ds.measurements.merge(ds.sessions, on="session_id")
    assert (m["entered_at"].dt.normalize() == m["session_date"]).all()
    assert (m["entered_by"] == m["clinician_id"]).all()
    kind = m["measure"].map(lambda c: measures.get(c).kind)
    both = m.assign(kind=kind).pivot(index="session_id", columns="kind", values="entered_at")
    both = both.dropna()
    assert (both["outcome"] < both["alliance"]).all()


def test_five_to_eight_percent_of_sessions_miss_ors_or_srs() -> None:
    st = session_table(generate(3000, seed=11))
    missing = st["outcome"].isna() | st["alliance"].isna()
    assert 0.05 <= missing.mean() <= 0.08
    assert st["outcome"].isna().any() and st["alliance"].isna().any()
    # recording improves over the period (a real signal for run charts)
    early = missing[st["session_date"] < st["session_date"].quantile(0.25)].mean()
    late = missing[st["session_date"] > st["session_date"].quantile(0.75)].mean()
    assert early > late


# --- trajectories ---------------------------------------------------------------------


def test_adult_ors_intake_is_in_the_clinical_range(st: pd.DataFrame) -> None:
    first = st[(st["session_no"] == 1) & (st["age_group"] == "adult")]["outcome"].dropna()
    assert 17.0 < first.mean() < 21.5
    assert 5.0 < first.std() < 9.0
    assert (first < 25).mean() > 0.7


def test_children_start_lower_relative_to_their_cutoff(st: pd.DataFrame) -> None:
    first = st[st["session_no"] == 1].dropna(subset=["outcome"])
    children = first.loc[first["age_group"] == "age_6_12", "outcome"]
    assert len(children) > 20
    assert set(first.loc[first["age_group"] == "age_6_12", "outcome_measure"]) == {"CORS"}
    below_cut = 32.0 - children.mean()  # CORS cut-off 32
    assert below_cut > 5.0


def test_every_trajectory_type_is_present(ds: Dataset, st: pd.DataFrame) -> None:
    change = _outcome_by_episode(st)
    change = change[change["count"] >= 2]
    delta = change["last"] - change["first"]
    assert (delta >= 5).mean() > 0.25  # improvers
    assert (delta <= -5).sum() >= 5  # deteriorators
    assert (delta.abs() < 5).mean() > 0.2  # flat
    dropouts = ds.episodes[ds.episodes["end_reason"] == "dropout"]
    assert len(dropouts) >= 20
    n = ds.sessions.groupby("episode_id").size()
    assert n.loc[dropouts["episode_id"]].median() <= 4  # dropouts end early
    assert (st.loc[st["format"] == "group", "alliance_measure"].dropna() == "GSRS").all()
    assert (st["alliance_measure"] == "GSRS").any()
    assert (st["outcome_measure"] == "CORS").any()
    assert (st["outcome_measure"] == "YCORS").any()


def test_improvers_gain_towards_the_non_clinical_range(st: pd.DataFrame) -> None:
    change = _outcome_by_episode(st[st["age_group"] == "adult"])
    improved = change[(change["count"] >= 6) & (change["last"] - change["first"] >= 5)]
    assert 27.0 < improved["last"].mean() < 33.0


def test_srs_is_mostly_high_with_dips_more_often_when_not_improving(st: pd.DataFrame) -> None:
    srs = st["alliance"].dropna()
    assert srs.median() >= 37.5
    prev = st.groupby("episode")["alliance"].shift()
    warn = ((st["alliance"] < 36) | (prev - st["alliance"] >= 1))[st["alliance"].notna()]
    assert 0.07 < warn.mean() < 0.18
    change = _outcome_by_episode(st)
    change = change[change["count"] >= 3]
    improver = (change["last"] - change["first"] >= 5).rename("improver")
    per_ep = warn.groupby(st.loc[warn.index, "episode"]).mean()
    rates = per_ep.to_frame("warn").join(improver, how="inner").groupby("improver")["warn"].mean()
    assert rates[False] > rates[True]


def test_ors_items_correlate_with_the_total(ds: Dataset) -> None:
    m = ds.measurements[ds.measurements["measure"] == "ORS"]
    for col in ("item1", "item2", "item3", "item4"):
        assert m[col].corr(m["total"]) > 0.8


# --- determinism, scale, files --------------------------------------------------------


def test_same_arguments_give_identical_frames(ds: Dataset) -> None:
    again = generate(400)
    for name, frame in ds.tables().items():
        pd.testing.assert_frame_equal(frame, again.tables()[name], check_exact=True)


def test_another_seed_gives_other_data(ds: Dataset) -> None:
    other = generate(400, seed=1)
    assert not ds.measurements["total"].head(50).equals(other.measurements["total"].head(50))


def test_end_and_years_move_the_period() -> None:
    ds = generate(100, end=date(2020, 6, 30), years=1.0)
    assert ds.sessions["session_date"].max() <= pd.Timestamp("2020-06-30")
    assert ds.episodes["start_date"].min() >= pd.Timestamp("2019-07-01")


def test_generate_does_not_touch_the_global_random_state() -> None:
    np.random.seed(5)
    before = np.random.random()
    np.random.seed(5)
    generate(20)
    assert np.random.random() == before


@pytest.mark.parametrize("clients", [0, -3])
def test_rejects_a_non_positive_number_of_clients(clients: int) -> None:
    with pytest.raises(OutOfRangeError):
        generate(clients)


def test_five_thousand_clients_give_about_eight_sessions_each() -> None:
    ds = generate(5000, seed=7)
    ratio = len(ds.sessions) / 5000
    assert 7.0 < ratio < 9.0
    assert 1.06 < len(ds.episodes) / 5000 < 1.14


def test_session_table_builds_from_the_sample(st: pd.DataFrame, ds: Dataset) -> None:
    assert tuple(st.columns) == SESSION_COLUMNS
    assert len(st) == len(ds.sessions)
    assert st["client"].notna().all() and st["team"].notna().all()
    assert st["clinician"].notna().all()


def test_csv_files_round_trip(tmp_path, ds: Dataset) -> None:
    paths = write_sample(tmp_path, clients=400)
    assert sorted(p.name for p in paths) == sorted(f"{n}.csv" for n in TABLE_COLUMNS)
    back = Dataset.read_csv(tmp_path)
    for name, frame in ds.tables().items():
        pd.testing.assert_frame_equal(
            back.tables()[name], frame, check_dtype=False, check_exact=True
        )
    assert session_table(back).equals(session_table(ds))


def test_committed_sample_is_the_default_output_and_small() -> None:
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "data" / "sample"
    if not (folder / "sessions.csv").exists():
        pytest.skip("data/sample not written yet (python -m kor.cli sample)")
    assert sum(p.stat().st_size for p in folder.glob("*.csv")) < 3_000_000
    committed = Dataset.read_csv(folder)
    fresh = generate()
    for name, frame in fresh.tables().items():
        pd.testing.assert_frame_equal(
            committed.tables()[name], frame, check_dtype=False, check_exact=True
        )
