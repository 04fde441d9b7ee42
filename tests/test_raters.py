"""Collateral raters (issue 18): a parent's or teacher's CORS beside the child's own.

Against a real SQLite file and the real PostgreSQL server; the analyses on the sample
data set with and without collateral ratings added.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from kor import change, fhir, flags, indicators, raters, sample
from kor import io as kio
from kor.access import SYSTEM, Actor
from kor.client_chart import client_chart
from kor.errors import AccessDenied, ConfigError, ImportFileError, ValidationError
from kor.frames import Dataset, session_table
from kor.i18n import t
from kor.store import Store
from kor.store import backup as kb
from tests.conftest import ORS_OK

ADMIN = Actor("terje.moen", "admin")

START = date.today() - timedelta(days=60)
CORS_CHILD = {"me": 5.0, "family": 4.0, "school": 6.0, "everything": 5.0}  # 20.0
CORS_PARENT = {"me": 7.0, "family": 6.5, "school": 6.0, "everything": 7.0}  # 26.5
CORS_TEACHER = {"me": 3.0, "family": 4.0, "school": 2.5, "everything": 3.5}  # 13.0
CSRS_OK = {"listening": 9.0, "how_important": 9.2, "what_we_did": 8.8, "overall": 9.5}


def _child(store: Store, actor, code: str = "K00002") -> int:
    store.add_client(actor, code, team="BUP", age_group="age_6_12")
    return store.open_episode(actor, code, start=START)


# --------------------------------------------------------------------------- store


def test_parent_and_teacher_rate_the_same_session(store, small_service):
    kari = small_service["kari.lund"]
    ep = _child(store, kari)
    sid = store.record_session(
        kari, ep, session_date=START, measurements={"CORS": CORS_CHILD, "CSRS": CSRS_OK}
    )
    store.add_measurement(kari, sid, "CORS", CORS_PARENT, rater="parent")
    store.add_measurement(kari, sid, "CORS", CORS_TEACHER, rater="teacher")
    m = store.dataset(kari, episode=ep).measurements.sort_values("measurement_id")
    assert m["rater"].tolist() == ["client", "client", "parent", "teacher"]
    assert m["total"].tolist() == [20.0, 36.5, 26.5, 13.0]
    # the session table (and so every analysis) holds the child's own rating only
    s = store.session_table(kari, episode=ep)
    assert s["outcome"].tolist() == [20.0] and s["alliance"].tolist() == [36.5]
    # who rated is audited for a collateral rating, and the acting user is named
    log = store.audit_log(SYSTEM)
    created = log.loc[(log["action"] == "create") & (log["entity"] == "measurement")]
    assert created["username"].eq("kari.lund").all()
    assert sum('"rater": "parent"' in d for d in created["detail"]) == 1


def test_a_new_session_can_hold_a_parents_rating_only(store, small_service):
    kari = small_service["kari.lund"]
    ep = _child(store, kari)
    store.record_session(
        kari, ep, session_date=START, measurements={"CORS": CORS_PARENT}, rater="parent"
    )
    assert store.dataset(kari, episode=ep).measurements["rater"].tolist() == ["parent"]
    assert np.isnan(store.session_table(kari, episode=ep)["outcome"]).all()


def test_the_same_rater_twice_and_rules_of_who_may_rate_are_refused(store, small_service):
    kari, ingrid = small_service["kari.lund"], small_service["ingrid.berg"]
    ep = _child(store, kari)
    sid = store.record_session(kari, ep, session_date=START, measurements={"CORS": CORS_CHILD})
    store.add_measurement(kari, sid, "CORS", CORS_PARENT, rater="parent")
    with pytest.raises(ValidationError) as twice:
        store.add_measurement(kari, sid, "CORS", CORS_PARENT, rater="parent")
    assert twice.value.key == "error.measure_twice_rater"
    assert twice.value.params == {"measure": "CORS", "rater": "parent"}
    with pytest.raises(ValidationError) as client_twice:
        store.add_measurement(kari, sid, "CORS", CORS_CHILD)
    assert client_twice.value.key == "error.measure_twice"
    with pytest.raises(ValidationError) as alliance:  # the child rates the session alone
        store.add_measurement(kari, sid, "CSRS", CSRS_OK, rater="parent")
    assert alliance.value.key == "error.rater_not_allowed" and alliance.value.field == "rater"
    with pytest.raises(ValidationError) as bad:
        store.add_measurement(kari, sid, "CORS", CORS_PARENT, rater="grandmother")
    assert bad.value.key == "error.bad_choice" and bad.value.field == "rater"
    adult = ingrid  # an adult client's own clinician
    store.add_client(adult, "K00003", team="VOP", age_group="adult")
    aep = store.open_episode(adult, "K00003", start=START)
    with pytest.raises(ValidationError) as grown:
        store.record_session(
            adult, aep, session_date=START, measurements={"ORS": ORS_OK}, rater="parent"
        )
    assert grown.value.key == "error.rater_not_allowed"
    # nothing half-written: the adult's session was refused whole
    assert store.dataset(adult, episode=aep).sessions.empty


def test_another_clinician_cannot_add_a_parents_rating(store, small_service):
    kari, ingrid = small_service["kari.lund"], small_service["ingrid.berg"]
    ep = _child(store, kari)
    sid = store.record_session(kari, ep, session_date=START, measurements={"CORS": CORS_CHILD})
    with pytest.raises(AccessDenied):
        store.add_measurement(ingrid, sid, "CORS", CORS_PARENT, rater="parent")


def test_migration_0010_makes_stored_rows_the_clients_own(store_url, small_service):
    """A database at 0007 with a measurement, upgraded: the row is the client's, and a
    parent's CORS of the same session is then accepted (uniqueness per rater)."""
    from alembic import command
    from alembic.config import Config

    import kor.store

    st = Store.open(store_url)  # at head, with the small service's users
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(kor.store.__file__).parent / "migrations"))
    with st.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    with st.engine.begin() as conn:
        cols = {c["name"] for c in sa.inspect(conn).get_columns("measurement")}
        assert "rater" not in cols
        ids = dict(conn.execute(sa.text("SELECT username, id FROM app_user")).all())
        team = conn.execute(sa.text("SELECT id FROM team WHERE code = 'BUP'")).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO client (id, code, age_group, team_id) VALUES (900, 'K09000',"
                " 'age_6_12', :t)"
            ),
            {"t": team},
        )
        conn.execute(
            sa.text(
                "INSERT INTO episode (id, client_id, clinician_id, start_date, version)"
                " VALUES (900, 900, :c, :d, 1)"
            ),
            {"c": ids["kari.lund"], "d": START},
        )
        conn.execute(
            sa.text(
                "INSERT INTO session (id, episode_id, number, session_date, clinician_id, format)"
                " VALUES (900, 900, 1, :d, :c, 'individual')"
            ),
            {"c": ids["kari.lund"], "d": START},
        )
        conn.execute(
            sa.text(
                "INSERT INTO measurement (id, session_id, measure, item1, item2, item3, item4,"
                " total, entered_by, entered_at, version) VALUES (900, 900, 'CORS', 5, 4, 6, 5,"
                " 20, :c, :at, 1)"
            ),
            {"c": ids["kari.lund"], "at": pd.Timestamp(START).to_pydatetime()},
        )
    st.upgrade()
    kari = st.actor_for("kari.lund")
    m = st.dataset(kari, episode=900).measurements
    assert m["rater"].tolist() == ["client"]
    st.add_measurement(kari, 900, "CORS", CORS_PARENT, rater="parent")
    assert st.session_table(kari, episode=900)["outcome"].tolist() == [20.0]
    st.close()


def test_backup_and_restore_carry_the_rater(store, small_service, tmp_path):
    kari = small_service["kari.lund"]
    ep = _child(store, kari)
    sid = store.record_session(kari, ep, session_date=START, measurements={"CORS": CORS_CHILD})
    store.add_measurement(kari, sid, "CORS", CORS_PARENT, rater="parent")
    store.add_user(SYSTEM, ADMIN.username, "admin")
    archive = tmp_path / "kor.zip"
    kb.backup(store, ADMIN, archive)
    target = f"sqlite:///{tmp_path / 'restored.sqlite'}"
    kb.restore(target, ADMIN, archive)
    again = Store.open(target)
    m = again.dataset(SYSTEM).measurements.sort_values("measurement_id")
    assert m["rater"].tolist() == ["client", "parent"]
    again.close()


# ---------------------------------------------------------------- import / export


def _rows_with_parent() -> pd.DataFrame:
    base = {
        "client_code": "K00002",
        "age_group": "age_6_12",
        "team": "BUP",
        "clinician": "kari.lund",
        "episode_start": pd.Timestamp(START),
        "session_date": pd.Timestamp(START),
        "session_no": 1,
        "format": "individual",
        "measure": "CORS",
    }
    rows = []
    for rater, values in (("client", CORS_CHILD), ("parent", CORS_PARENT)):
        items = {f"item{k + 1}": v for k, v in enumerate(values.values())}
        rows.append({**base, **items, "total": sum(values.values()), "rater": rater})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_file_round_trip_keeps_the_rater(tmp_path, suffix):
    path = kio.write_sessions(_rows_with_parent(), tmp_path / f"s{suffix}")
    back = kio.read_sessions(path)
    assert back["rater"].tolist() == ["client", "parent"]
    assert back["total"].tolist() == [20.0, 26.5]
    assert list(back.columns) == [*kio.FRAME_COLUMNS[:-1], "rater", "source_row"]


def test_file_without_rater_column_reads_as_before(tmp_path):
    path = kio.write_sessions(_rows_with_parent().drop(columns="rater").head(1), tmp_path / "a.csv")
    assert list(kio.read_sessions(path).columns) == list(kio.FRAME_COLUMNS)


def test_norwegian_rater_labels_and_blank_cells_are_read(tmp_path):
    text = (
        "klientkode;aldersgruppe;team;behandler;forløpsstart;dato;øktnr;økttype;skjema;"
        "ledd1;ledd2;ledd3;ledd4;utfylt av\r\n"
        "K00002;6-12;BUP;kari.lund;01.02.2025;01.02.2025;1;individuell;CORS;5;4;6;5;\r\n"
        "K00002;6-12;BUP;kari.lund;01.02.2025;01.02.2025;1;individuell;CORS;7;6,5;6;7;Forelder\r\n"
        "K00002;6-12;BUP;kari.lund;01.02.2025;01.02.2025;1;individuell;CORS;3;4;2,5;3,5;Lærer\r\n"
    )
    path = tmp_path / "nb.csv"
    path.write_text(text, encoding="utf-8")
    assert kio.read_sessions(path)["rater"].tolist() == ["client", "parent", "teacher"]


def test_a_bad_rater_value_is_refused_with_file_row_and_column(tmp_path):
    rows = _rows_with_parent()
    rows.loc[1, "rater"] = "bestemor"
    path = kio.write_sessions(rows, tmp_path / "bad.csv")
    with pytest.raises(ImportFileError) as err:
        kio.read_sessions(path)
    (problem,) = err.value.problems
    assert problem.key == "error.bad_choice"
    assert (problem.row, problem.column) == (3, "rater")
    text = str(err.value)
    assert "bad.csv" in text and "3" in text and "rater" in text
    assert "bestemor" not in problem.message()  # the value is never echoed
    assert "client, parent, teacher, other" in problem.message("en")


def test_a_parent_rating_of_an_adult_or_an_alliance_form_is_refused(tmp_path):
    rows = _rows_with_parent()
    rows.loc[1, "age_group"] = "adult"
    rows.loc[1, "measure"] = "ORS"
    rows.loc[0, "age_group"] = "adult"
    rows.loc[0, "measure"] = "ORS"
    with pytest.raises(ImportFileError) as err:
        kio.read_sessions(kio.write_sessions(rows, tmp_path / "adult.csv"))
    (problem,) = err.value.problems
    assert (problem.key, problem.row, problem.column) == ("error.rater_not_allowed", 3, "rater")


def test_store_import_and_export_carry_the_rater(store, small_service, tmp_path):
    store.add_user(SYSTEM, "leder.bup", "team_lead", team="BUP")
    bup = store.actor_for("leder.bup")
    rows = kio.read_sessions(kio.write_sessions(_rows_with_parent(), tmp_path / "in.csv"))
    summary = store.import_sessions(bup, rows, source="in.csv")
    assert summary.measurements == 2
    again = store.import_sessions(bup, rows, source="in.csv")
    assert again.measurements == 0 and again.unchanged == 2
    out = store.export_rows(bup)
    assert out["rater"].tolist() == ["client", "parent"]
    written = kio.write_sessions(out, tmp_path / "out.csv")
    assert kio.read_sessions(written)["rater"].tolist() == ["client", "parent"]
    assert store.session_table(bup)["outcome"].tolist() == [20.0]


def test_export_without_collateral_ratings_has_no_rater_column(store, small_service, tmp_path):
    kari = small_service["kari.lund"]
    ep = _child(store, kari)
    store.record_session(kari, ep, session_date=START, measurements={"CORS": CORS_CHILD})
    out = store.export_rows(kari)
    assert "rater" not in out.columns
    assert kio.read_sessions(kio.write_sessions(out, tmp_path / "o.csv")).columns.tolist() == list(
        kio.FRAME_COLUMNS
    )


# ----------------------------------------------------------------------------- FHIR


def test_fhir_source_names_the_related_person_and_reads_back():
    rows = _rows_with_parent()
    bundle = fhir.bundle_from_rows(rows)
    own, parent = (e["resource"] for e in bundle["entry"])
    assert "source" not in own and "contained" not in own
    assert parent["source"] == {"reference": "#rater", "type": "RelatedPerson"}
    person = parent["contained"][0]
    assert person["resourceType"] == "RelatedPerson"
    assert person["relationship"][0]["coding"][0]["code"] == "parent"
    assert person["patient"]["identifier"]["value"] == "K00002"
    assert own["identifier"]["value"] != parent["identifier"]["value"]
    for entry in bundle["entry"]:  # fhir.resources R4B models accept both
        assert fhir.resource_problems(entry["resource"]) == []
    assert fhir.resource_problems(bundle) == []
    back = fhir.rows_from_bundle(bundle)
    assert back["rater"].tolist() == ["client", "parent"]
    assert back["total"].tolist() == [20.0, 26.5]


def test_fhir_bad_rater_code_is_named_by_element():
    bundle = fhir.bundle_from_rows(_rows_with_parent())
    coding = bundle["entry"][1]["resource"]["contained"][0]["relationship"][0]["coding"][0]
    coding["code"] = "grandmother"
    with pytest.raises(ImportFileError) as err:
        fhir.rows_from_bundle(bundle)
    (problem,) = err.value.problems
    assert problem.key == "error.bad_choice"
    assert problem.field == "Bundle.entry[1].resource.contained[0].relationship[0].coding[0].code"


# ------------------------------------------------------------------------ analyses


def _with_collateral(ds: Dataset) -> Dataset:
    """The sample with a parent's and a teacher's CORS added to every child's session."""
    m = ds.measurements.assign(rater="client")
    cors = m.loc[m["measure"].isin(["CORS", "YCORS"])]
    assert len(cors) > 50  # the sample has children
    extra = []
    for k, (rater, shift) in enumerate((("parent", 3.0), ("teacher", -4.0))):
        part = cors.copy()
        part["rater"] = rater
        items = ["item1", "item2", "item3", "item4"]
        part[items] = (part[items] + shift / 4).clip(0.0, 10.0).round(1)
        part["total"] = part[items].sum(axis=1)
        part["measurement_id"] = (
            m["measurement_id"].max() + 1 + k * len(cors) + np.arange(len(cors))
        )
        extra.append(part)
    both = pd.concat([m, *extra], ignore_index=True).sample(frac=1.0, random_state=1)
    return Dataset(**{**ds.tables(), "measurements": both})


def test_collateral_ratings_change_no_change_flags_or_indicators():
    ds = sample.generate(300, seed=3)
    plain, mixed = session_table(ds), session_table(_with_collateral(ds))
    pd.testing.assert_frame_equal(plain, mixed)
    pd.testing.assert_frame_equal(change.episode_change(plain), change.episode_change(mixed))
    pd.testing.assert_frame_equal(flags.evaluate_flags(plain), flags.evaluate_flags(mixed))
    pd.testing.assert_frame_equal(
        indicators.service_indicators(plain), indicators.service_indicators(mixed)
    )


def test_a_service_may_follow_the_parents_rating_instead():
    ds = _with_collateral(sample.generate(120, seed=4))
    own = session_table(ds)
    try:
        assert raters.configure({"outcome_rater": "parent"}) == "parent"
        theirs = session_table(ds)
    finally:
        raters.configure({})
    child = own["outcome_measure"].eq("CORS")
    assert child.any()
    assert (theirs.loc[child, "outcome"] >= own.loc[child, "outcome"]).all()
    assert theirs.loc[child, "outcome"].sum() > own.loc[child, "outcome"].sum()
    adults = own["age_group"].eq("adult")
    assert theirs.loc[adults, "outcome"].isna().all()  # nobody but the client rated them
    assert raters.outcome_rater() == "client"
    with pytest.raises(ConfigError):
        raters.configure({"outcome_rater": "grandmother"})
    with pytest.raises(ConfigError):
        raters.configure({"rater": "parent"})


# --------------------------------------------------------------------------- chart


def test_chart_draws_one_line_per_rater_and_the_path_for_the_client_only():
    sessions = pd.DataFrame(
        {"session_no": [1, 2, 3], "outcome": [18.0, 21.0, 24.0], "alliance": [36.0, 37.0, 38.0]}
    )
    path = pd.DataFrame(
        {
            "session_no": [1, 2, 3, 4],
            "p10": [14.0, 15.0, 16.0, 17.0],
            "p25": [16.0, 17.0, 18.0, 19.0],
            "p50": [18.0, 20.0, 22.0, 23.0],
            "p75": [20.0, 22.0, 24.0, 25.0],
        }
    )
    collateral = pd.DataFrame(
        {
            "session_no": [1, 2, 3, 2],
            "rater": ["parent", "parent", "parent", "teacher"],
            "measure": ["CORS"] * 4,
            "outcome": [25.0, 26.0, 27.5, 13.0],
        }
    )
    ax = client_chart(
        sessions,
        path,
        outcome_measure="CORS",
        alliance_measure="CSRS",
        age_group="age_6_12",
        collateral=collateral,
    )
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"Klienten", "Forelder", "Lærer"} <= set(lines)
    assert list(lines["Klienten"].get_ydata()) == [18.0, 21.0, 24.0]
    assert list(lines["Forelder"].get_ydata()) == [25.0, 26.0, 27.5]
    assert list(lines["Lærer"].get_xdata()) == [2.0]
    styles = {lines[k].get_marker() for k in ("Klienten", "Forelder", "Lærer")}
    assert len(styles) == 3  # told apart without colour
    expected = [
        line for line in ax.get_lines() if line.get_label() == t("clinician.chart.expected")
    ]
    assert len(expected) == 1 and list(expected[0].get_ydata()) == [18.0, 20.0, 22.0, 23.0]
    bands = [c for c in ax.collections if c.get_label() == t("clinician.chart.band_p25")]
    assert len(bands) == 1  # one band, the client's
    legend = [x.get_text() for x in ax.figure.legends[0].get_texts()]
    assert legend.index("Klienten") < legend.index("Forelder") < legend.index("Lærer")


def test_chart_without_collateral_keeps_its_labels():
    sessions = pd.DataFrame(
        {"session_no": [1, 2], "outcome": [18.0, 21.0], "alliance": [36.0, 37.0]}
    )
    ax = client_chart(sessions)
    labels = [line.get_label() for line in ax.get_lines()]
    assert t("clinician.chart.observed", measure="ORS") in labels and "Klienten" not in labels


def test_collateral_outcomes_of_one_episode(store, small_service):
    kari = small_service["kari.lund"]
    ep = _child(store, kari)
    s1 = store.record_session(kari, ep, session_date=START, measurements={"CORS": CORS_CHILD})
    store.add_measurement(kari, s1, "CORS", CORS_PARENT, rater="parent")
    store.record_session(
        kari, ep, session_date=START + timedelta(days=7), measurements={"CORS": CORS_CHILD}
    )
    ds = store.dataset(kari, episode=ep)
    out = raters.collateral_outcomes(ds.measurements, ds.sessions)
    assert out.to_dict("records") == [
        {"session_no": 1, "rater": "parent", "measure": "CORS", "outcome": 26.5}
    ]
