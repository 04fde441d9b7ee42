"""The client list and the client chart's inputs: pure functions on frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kor import caseload as cl
from kor.client_chart import client_chart
from kor.flags import current_flags, evaluate_flags
from kor.frames import session_table
from kor.i18n import t
from kor.sample import generate
from kor.trajectories import ExpectedResponse


def _sessions(episode: int, client: str, outcome, alliance, *, end=pd.NaT, age="adult"):
    n = len(outcome)
    return pd.DataFrame(
        {
            "client": client,
            "episode": episode,
            "team": "VOP",
            "clinician": "ingrid.berg",
            "age_group": age,
            "episode_start": pd.Timestamp("2026-01-05"),
            "episode_end": end,
            "end_reason": None if pd.isna(end) else "completed",
            "session_date": pd.date_range("2026-01-05", periods=n, freq="7D"),
            "session_no": np.arange(1, n + 1),
            "format": "individual",
            "outcome_measure": "ORS" if age != "age_6_12" else "CORS",
            "outcome": np.asarray(outcome, dtype=float),
            "alliance_measure": "SRS" if age != "age_6_12" else "CSRS",
            "alliance": np.asarray(alliance, dtype=float),
            "alliance_min_item": np.asarray(alliance, dtype=float) / 4,
        }
    )


@pytest.fixture(scope="module")
def table():
    return pd.concat(
        [
            _sessions(1, "K00001", [20.0, 23.0, 26.5], [38.0, 38.5, 39.0]),
            _sessions(2, "K00002", [20.0, 19.0, 18.0], [37.0, 34.0, 33.0]),
            _sessions(3, "K00003", [15.0, 30.0], [39.0, np.nan]),
            _sessions(4, "K00004", [15.0, 16.0], [39.0, 39.0], end=pd.Timestamp("2026-02-01")),
        ],
        ignore_index=True,
    )


def test_caseload_has_one_row_per_open_episode_with_latest_values(table):
    out = cl.caseload(table)
    assert list(out.columns) == list(cl.CASELOAD_COLUMNS)
    assert sorted(out["episode"]) == [1, 2, 3]  # the ended episode is not listed
    row = out.set_index("episode").loc[3]
    assert row["sessions"] == 2 and row["latest_outcome"] == 30.0 and row["intake"] == 15.0
    assert row["latest_alliance"] == 39.0  # the last recorded value, not the missing one
    assert row["last_session_date"] == pd.Timestamp("2026-01-12")


def test_caseload_puts_alerts_first_then_warnings_then_the_rest(table):
    flags = current_flags(evaluate_flags(table))
    out = cl.caseload(table, flags)
    assert out.loc[0, "client"] == "K00002"  # alliance below 36 and dropping
    assert out.loc[0, "flag_level"] in ("alert", "warning")
    assert "alliance_low" in out.loc[0, "flag_rules"]
    assert out.loc[len(out) - 1, "flag_level"] is None or out["flag_level"].notna().all()
    assert None in cl.caseload(table)["flag_level"].tolist()  # no flags: None, not NaN
    ranks = out["flag_level"].map({"alert": 0, "warning": 1, "info": 2}).fillna(3)
    assert ranks.is_monotonic_increasing


def test_caseload_lists_a_new_episode_without_sessions(table):
    episodes = pd.DataFrame(
        {
            "client": ["K00009"],
            "episode": [9],
            "team": ["VOP"],
            "clinician": ["ingrid.berg"],
            "age_group": ["age_6_12"],
            "episode_start": [pd.Timestamp("2026-03-01")],
            "episode_end": [pd.NaT],
            "end_reason": [None],
        }
    )
    out = cl.caseload(table, episodes=episodes).set_index("episode")
    assert out.loc[9, "sessions"] == 0 and np.isnan(out.loc[9, "latest_outcome"])
    assert out.loc[9, "age_group"] == "age_6_12"


def test_caseload_does_not_change_its_input(table):
    before = table.copy()
    cl.caseload(table, current_flags(evaluate_flags(table)))
    pd.testing.assert_frame_equal(table, before)


def test_search_finds_codes_case_insensitively_and_replace_keeps_the_order(table):
    flags = current_flags(evaluate_flags(table))
    out = cl.caseload(table, flags)
    assert cl.search(out, "k00003")["client"].tolist() == ["K00003"]
    assert len(cl.search(out, "")) == len(out)
    fresh = cl.caseload(table.loc[table["episode"] == 1].assign(alliance=30.0))
    fresh.loc[:, "flag_level"] = "alert"
    replaced = cl.replace_episodes(out, fresh, [1])
    assert replaced.loc[0, "episode"] == 1 and len(replaced) == len(out)
    assert 1 not in cl.replace_episodes(out, fresh.iloc[0:0], [1])["episode"].tolist()


def test_episode_path_starts_at_the_intake_session():
    model = ExpectedResponse().fit(_sessions(1, "K1", [20.0], [38.0]).iloc[0:0])
    s = _sessions(5, "K00005", [np.nan, 18.0, 19.0], [38.0, 38.0, 38.0])
    path = cl.episode_path(model, s)
    assert path["session_no"].iloc[0] == 2  # session 1 had no ORS
    assert path["p50"].iloc[0] == pytest.approx(18.0)
    assert len(path) >= 10
    assert cl.episode_path(model, s.assign(outcome=np.nan)).empty


@pytest.fixture(scope="module")
def sample():
    return generate(60, seed=11)


def test_views_from_a_dataset_list_entries_with_their_ids(sample):
    model = ExpectedResponse().fit(session_table(sample).iloc[0:0])
    frame = cl.caseload_from(sample, model)
    assert len(frame) == int(sample.episodes["end_date"].isna().sum())
    episode = int(frame.loc[frame["sessions"] > 1, "episode"].iloc[0])
    view = cl.episode_view(sample, model, episode)
    assert view.row is not None and view.row["episode"] == episode
    assert set(view.sessions["episode"]) == {episode}
    first = view.entries.iloc[0]
    assert first["session_no"] == view.sessions["session_no"].max()  # newest first
    stored = cl.stored_entry(view.entries, int(first["session_id"]), "outcome")
    if stored is not None:
        assert stored["version"] == 1
        assert sum(stored["values"].values()) == pytest.approx(stored["total"])
    people = cl.clinicians(sample, team="VOP")
    assert set(people["team"]) == {"VOP"} and len(people) > 1


def test_client_chart_draws_two_panels_with_cutoff_and_threshold(table):
    model = ExpectedResponse().fit(table.iloc[0:0])
    s = table.loc[table["episode"] == 2]
    flags = current_flags(evaluate_flags(s))
    ax = client_chart(s, cl.episode_path(model, s), flags, title="K00002")
    fig = ax.figure
    assert len(fig.axes) == 2
    ors_labels = [line.get_label() for line in ax.get_lines()]
    assert t("clinician.chart.observed", measure="ORS") in ors_labels  # plain words
    assert 25.0 in [line.get_ydata()[0] for line in ax.get_lines() if len(line.get_ydata()) == 2]
    srs_ax = fig.axes[1]
    assert 36.0 in [line.get_ydata()[0] for line in srs_ax.get_lines()]
    styles = {line.get_linestyle() for line in ax.get_lines() + srs_ax.get_lines()}
    assert len(styles) >= 3  # reads in greyscale: styles differ, not only colours


def test_client_chart_of_a_child_uses_the_child_cutoff(table):
    s = _sessions(7, "K00007", [20.0, 23.0], [38.0, 39.0], age="age_6_12")
    ax = client_chart(s, outcome_measure="CORS", alliance_measure="CSRS", age_group="age_6_12")
    flat = [line.get_ydata()[0] for line in ax.get_lines() if len(set(line.get_ydata())) == 1]
    assert 32.0 in flat
