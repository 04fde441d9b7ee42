"""National identity numbers never become client codes, on any path that creates a client.

Worked examples of valid numbers come from outside the code: 31129956715 (fnrinfo.no,
«Beregning av kontrollsiffer») and 02016126007 (matematikk.org, «Er fødselsnummeret
gyldig?»). The D-number 41016126061 and the FH-number 81234567802 were computed by hand
with the weights 3 7 6 1 8 9 4 5 2 and 5 4 3 2 7 6 5 4 3 2:

* 410161260: 3·4+7·1+6·0+1·1+8·6+9·1+4·2+5·6+2·0 = 115, 115 mod 11 = 5, k1 = 6;
  5·4+4·1+3·0+2·1+7·6+6·1+5·2+4·6+3·0+2·6 = 120, 120 mod 11 = 10, k2 = 1;
* 812345678: 24+7+12+3+32+45+24+35+16 = 198, mod 11 = 0, k1 = 0;
  40+4+6+6+28+30+30+28+24+0 = 196, mod 11 = 9, k2 = 2.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from kor import io
from kor.access import SYSTEM
from kor.errors import ImportFileError, ValidationError
from kor.pseudonyms import check_client_code, is_client_code, is_national_id, national_ids_in
from kor.sample import generate
from kor.store import backup as kb

VALID = ["31129956715", "02016126007", "41016126061", "81234567802"]
SEPARATED = [
    "311299-56715",
    "311299_56715",
    "3112-99-56715",
    "x311299-56715",
    "K-020161_26007",
    "410161-26061",
    "8123_4567_802",
]
ORDINARY = [
    "K00017",
    "VOP-2024-0001",
    "240315-00017",  # a date and a serial: the check digits are wrong, so it stays a code
    "010190-12345",  # the first check digit of 010190123.. would be 10: never issued
    "BUP_0042",
    "abc",
]


@pytest.mark.parametrize("digits", VALID)
def test_worked_examples_are_valid_looking_national_ids(digits):
    assert is_national_id(digits)
    assert not is_national_id(digits[:9] + str((int(digits[9]) + 1) % 10) + digits[10])
    assert not is_national_id(digits[:10] + str((int(digits[10]) + 1) % 10))


def test_an_impossible_birth_date_is_no_national_id():
    # 321299567: sum 248, mod 11 = 6, k1 = 5; then sum 227, mod 11 = 7, k2 = 4 (by hand):
    # the check digits are right, but there is no 32 December
    assert not is_national_id("32129956754")
    assert national_ids_in("32129956754") == 0


@pytest.mark.parametrize("code", SEPARATED)
def test_a_national_id_in_any_common_separator_form_is_refused_as_client_code(code):
    assert not is_client_code(code)
    with pytest.raises(ValidationError) as err:
        check_client_code(code)
    assert err.value.key == "error.client_code" and code not in str(err.value)


def test_eleven_bare_digits_are_refused_whatever_their_check_digits():
    assert not is_client_code("01019012345") and not is_client_code("K12345678901")


@pytest.mark.parametrize("code", ORDINARY)
def test_ordinary_codes_are_not_refused_by_accident(code):
    assert check_client_code(code) == code


def test_free_text_is_scanned_for_national_ids_but_not_for_phone_numbers_or_dates():
    assert national_ids_in("Ring meg på 412 34 567 eller 22 33 44 55, født 31.12.99") == 0
    assert national_ids_in("fnr 311299 56715, og D-nr 410161-260.61") == 2


# ------------------------------------------------------------ every path in
def test_the_store_refuses_a_national_id_as_client_code(store, small_service):
    ingrid = small_service["ingrid.berg"]
    for code in SEPARATED:
        with pytest.raises(ValidationError):
            store.add_client(ingrid, code, team="VOP", age_group="adult")
    assert store.counts(SYSTEM)["client"] == 0


def _session_file(tmp_path, codes: list[str]):
    start = date.today() - timedelta(days=20)
    frame = pd.DataFrame(
        {
            "client_code": codes,
            "age_group": "adult",
            "team": "VOP",
            "clinician": "ingrid.berg",
            "episode_start": start.isoformat(),
            "session_date": start.isoformat(),
            "session_no": 1,
            "format": "individual",
            "measure": "ORS",
            "item1": 4.0,
            "item2": 5.0,
            "item3": 6.0,
            "item4": 5.0,
            "total": 20.0,
        }
    )
    path = tmp_path / "sessions.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_import_refuses_national_ids_with_row_and_column(tmp_path):
    path = _session_file(tmp_path, ["K00001", *SEPARATED, "240315-00017"])
    with pytest.raises(ImportFileError) as err:
        io.read_sessions(path)
    where = [(p.key, p.row, p.column) for p in err.value.problems]
    assert where == [
        ("error.client_code", row, "client_code") for row in range(3, 3 + len(SEPARATED))
    ]
    assert not any(code in err.value.report() for code in SEPARATED)


def test_a_frame_not_read_by_kor_io_cannot_smuggle_a_national_id_into_the_store(
    store, small_service, tmp_path
):
    store.add_user(SYSTEM, "admin", "admin")
    rows = io.read_sessions(_session_file(tmp_path, ["K00001"]))
    rows["client_code"] = "311299-56715"
    with pytest.raises(ImportFileError) as err:
        store.import_sessions(store.actor_for("admin"), rows, source="sessions.csv")
    assert [p.key for p in err.value.problems] == ["error.client_code"]
    assert store.counts(SYSTEM)["client"] == 0


def test_a_bulk_load_refuses_a_national_id_and_writes_nothing(store):
    data = generate(5, seed=1)
    data.clients.loc[2, "code"] = "0201-61-26007"
    with pytest.raises(ValidationError) as err:
        store.load_dataset(SYSTEM, data)
    assert (err.value.key, err.value.row) == ("error.client_code", 3)
    assert store.counts(SYSTEM)["client"] == 0


def test_a_restore_refuses_an_archive_holding_a_national_id_and_writes_nothing(store, tmp_path):
    store.load_dataset(SYSTEM, generate(5, seed=3))
    archive = tmp_path / "kor.korbackup"
    kb.backup(store, SYSTEM, archive)
    forged = tmp_path / "forged.korbackup"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(forged, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "tables/client.jsonl":
                data = data.replace(b'"K00002"', b'"311299-56715"', 1)
                entry = next(e for e in manifest["tables"] if e["name"] == "client")
                entry["sha256"] = hashlib.sha256(data).hexdigest()
            if item.filename != "manifest.json":
                dst.writestr(item, data)
        dst.writestr("manifest.json", json.dumps(manifest))
    target = tmp_path / "restored" / "kor.sqlite"
    with pytest.raises(ValidationError) as err:
        kb.restore(f"sqlite:///{target}", SYSTEM, forged)
    assert (err.value.key, err.value.row, err.value.column) == (
        "error.client_code",
        2,
        "client.code",
    )
    engine = sa.create_engine(f"sqlite:///{target}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM client").scalar() == 0
    engine.dispose()


def test_a_project_note_with_a_national_id_is_refused_naming_the_field(store, small_service):
    lead = small_service["leder.vop"]
    project = store.create_project(lead, "Ventetid", ["VOP"])
    with pytest.raises(ValidationError) as err:
        store.add_note(lead, project, "forberedelse", "Gjelder 311299 56715, ring henne")
    assert (err.value.key, err.value.field) == ("error.national_id_in_text", "text")
    assert "«Tekst»" in err.value.message("nb")
    with pytest.raises(ValidationError):
        store.add_change(lead, project, date.today(), "Ny rutine for 02016126007")
    assert store.add_note(lead, project, "forberedelse", "Ring 412 34 567 i morgen") > 0
    assert [n["text"] for n in store.project(lead, project).notes] == ["Ring 412 34 567 i morgen"]


def test_a_bsb_comment_with_a_national_id_is_flagged_and_cannot_be_approved(store, small_service):
    from surveys.forms import default_form

    form = default_form()
    qid = store.save_questionnaire(SYSTEM, form)
    survey = store.create_survey(
        SYSTEM, service="VOP", round="baseline", title="BSB", questionnaire_id=qid
    )
    text_question = next(q.name for q in form.for_respondent("user") if q.type == "text")
    answers = {
        q.name: ("vet_ikke" if q.type == "select_one" else 6)
        for q in form.for_respondent("user")
        if q.type in ("select_one", "range")
    }
    rid = store.start_response(SYSTEM, survey, "user", interviewer="ingrid.berg")
    text = "Jeg heter Kari, fnr 31129956715"
    store.save_answers(SYSTEM, rid, {**answers, text_question: text}, finish=True)
    comments = store.survey_comments(SYSTEM, [survey])
    assert comments["national_ids"].tolist() == [1]
    with pytest.raises(ValidationError) as err:
        store.code_comment(
            SYSTEM, int(comments["comment_id"].item()), themes=["annet"], approved=True
        )
    assert err.value.key == "surveys.comment.national_id"
    assert store.survey_comments(SYSTEM, [survey], approved_only=True).empty
    store.code_comment(SYSTEM, int(comments["comment_id"].item()), themes=["annet"], approved=False)


def test_the_clinician_app_refuses_a_national_id_where_the_form_is(store, small_service):
    from widgets.clinician import ClinicianApp

    app = ClinicianApp(store, small_service["ingrid.berg"])
    app.new_code.value = "x311299-56715"
    app.register_button.click()
    shown = " ".join(str(getattr(c, "value", "")) for c in app.new_status.children)
    assert "fødselsnummer" in shown and "311299" not in shown
    assert store.counts(SYSTEM)["client"] == 0
    app.new_code.value = "240315-00017"  # an ordinary date-and-serial code goes in
    app.register_button.click()
    assert store.counts(SYSTEM)["client"] == 1
