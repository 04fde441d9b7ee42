"""FHIR R4 exchange (kor.fhir): Questionnaires, Bundle export and import, round trip."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from kor import config, fhir, i18n, measures
from kor.access import SYSTEM
from kor.cli import build_parser, main
from kor.errors import ConfigError, ImportFileError
from kor.frames import Dataset
from kor.io import FRAME_COLUMNS
from kor.store import Store

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "fhir"
CASES = json.loads((DATA / "index.json").read_text(encoding="utf-8"))
SAMPLE = Dataset.read_csv(ROOT / "data" / "sample")


@pytest.fixture(scope="module")
def sample_rows() -> pd.DataFrame:
    """The sample's measurements in the export format (6,297 rows)."""
    source = Store.open("sqlite://")
    try:
        source.load_dataset(SYSTEM, SAMPLE)
        return source.export_rows(SYSTEM)
    finally:
        source.close()


def _staff_only(store: Store) -> None:
    """The sample's teams and users, no clients: what a receiving service has."""
    empty = {
        name: getattr(SAMPLE, name).iloc[0:0]
        for name in ("clients", "episodes", "sessions", "measurements")
    }
    store.load_dataset(SYSTEM, Dataset(teams=SAMPLE.teams, users=SAMPLE.users, **empty))


@pytest.fixture
def receiving(store: Store) -> Store:
    _staff_only(store)
    return store


# ---------------------------------------------------------------- Questionnaires


@pytest.mark.parametrize("name", sorted(fhir.questionnaires()))
def test_every_questionnaire_validates_with_fhir_resources(name):
    resource = fhir.questionnaires()[name]
    assert fhir.resource_problems(resource) == []
    from fhir.resources.R4B.questionnaire import Questionnaire

    assert Questionnaire.model_validate(resource).url == resource["url"]


@pytest.mark.parametrize("code", sorted(measures.MEASURES))
def test_measure_questionnaire_has_one_decimal_item_per_item_key_and_a_read_only_total(code):
    m = measures.MEASURES[code]
    q = fhir.questionnaire(m)
    assert q["url"] == f"{fhir.DEFAULT_BASE}/Questionnaire/{code}"
    assert [i["linkId"] for i in q["item"]] == [*m.items, "total"]
    assert all(i["type"] == "decimal" for i in q["item"])
    assert q["item"][-1]["readOnly"] is True
    first = q["item"][0]
    ext = {e["url"].rsplit("/", 1)[1]: e for e in first["extension"]}
    assert ext["minValue"]["valueDecimal"] == 0.0 and ext["maxValue"]["valueDecimal"] == 10.0
    assert ext["maxDecimalPlaces"]["valueInteger"] == 1
    assert first["text"] == i18n.t(f"measure.{code}.item.{m.items[0]}", language="nb")
    english = first["_text"]["extension"][0]["extension"]
    assert english[1]["valueString"] == i18n.t(f"measure.{code}.item.{m.items[0]}", language="en")


def test_licensed_wording_from_configuration_replaces_the_short_label():
    key = "measure.ORS.item.socially"
    i18n.add_overrides({key: {"nb": "Lisensiert ordlyd (nb)", "en": "Licensed wording (en)"}})
    try:
        item = fhir.questionnaire("ORS")["item"][2]
    finally:
        i18n._overrides.pop(key)
    assert item["text"] == "Lisensiert ordlyd (nb)"
    assert item["_text"]["extension"][0]["extension"][1]["valueString"] == "Licensed wording (en)"
    assert fhir.questionnaire("ORS")["item"][2]["text"] == "Sosialt"


def test_bsb_questionnaire_has_a_group_per_section_and_answer_options_per_choice():
    from surveys.forms import default_form

    form = default_form()
    q = fhir.bsb_questionnaire(form)
    assert q["id"] == "bsb-standard" and q["version"] == form.version
    groups = q["item"]
    assert [g["linkId"] for g in groups] == [s.name for s in form.sections]
    assert all(g["type"] == "group" for g in groups)
    items = {i["linkId"]: i for g in groups for i in g["item"]}
    assert set(items) == {question.name for question in form.questions}
    speed = items["u_access_speed"]
    assert speed["type"] == "choice" and speed["required"] is True
    codes = [o["valueCoding"]["code"] for o in speed["answerOption"]]
    assert codes == [c.name for c in form.choices["agreement"]]
    assert speed["answerOption"][0]["extension"][0]["valueDecimal"] == 1.0  # ordinalValue
    assert "extension" not in speed["answerOption"][-1]  # «ikke aktuelt» is not scored
    assert items["u_help_forms"]["repeats"] is True
    assert items["u_overall"]["type"] == "integer"
    assert items["u_works_well"]["type"] == "text"
    assert items["u_intro"]["type"] == "display"
    pair = {e["url"].rsplit("/", 1)[1]: e for e in speed["extension"]}
    assert pair["bsb-pair"]["valueString"] == "s_access_speed"
    assert pair["bsb-respondent"]["valueCode"] == "user"


def test_cli_writes_every_questionnaire(tmp_path, capsys):
    assert main(["fhir", "questionnaires", str(tmp_path / "q")]) == 0
    written = sorted(p.name for p in (tmp_path / "q").glob("*.json"))
    assert written == sorted(fhir.questionnaires())
    for path in (tmp_path / "q").glob("*.json"):
        assert fhir.resource_problems(json.loads(path.read_text(encoding="utf-8"))) == []
    assert str(tmp_path / "q") in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["fhir"], ["fhir", "questionnaires"]])
def test_fhir_subcommands_have_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*argv, "--help"])
    assert exit_.value.code == 0
    assert "usage: kor" in capsys.readouterr().out


def test_configured_base_changes_every_url_and_identifier_system():
    try:
        config.apply_service_config({"fhir": {"base": "https://fhir.eksempel.kommune.no/kor/"}})
        ns = fhir.namespaces()
        assert (
            fhir.questionnaire("SRS")["url"]
            == "https://fhir.eksempel.kommune.no/kor/Questionnaire/SRS"
        )
        assert ns.client_system == "https://fhir.eksempel.kommune.no/kor/sid/client-code"
        with pytest.raises(ConfigError):
            fhir.configure({"base": "not a url"})
        with pytest.raises(ConfigError):
            fhir.configure({"namespace": "https://x.example"})
    finally:
        fhir.configure({})
    assert fhir.namespaces() == fhir.Namespaces()


# ---------------------------------------------------------------- export


def test_exported_bundle_is_a_transaction_of_conditional_creates_that_validates(sample_rows):
    rows = sample_rows.iloc[:300]
    bundle = fhir.bundle_from_rows(rows)
    assert bundle["type"] == "transaction" and len(bundle["entry"]) == 300
    assert fhir.resource_problems(bundle) == []
    entry = bundle["entry"][0]
    ident = entry["resource"]["identifier"]
    assert entry["request"] == {
        "method": "POST",
        "url": "QuestionnaireResponse",
        "ifNoneExist": f"identifier={ident['system']}|{ident['value']}",
    }
    assert entry["fullUrl"] == f"urn:uuid:{ident['value']}"
    subject = entry["resource"]["subject"]["identifier"]
    assert subject == {"system": fhir.namespaces().client_system, "value": rows.client_code[0]}
    assert fhir.bundle_from_rows(rows) == bundle  # the same rows, the same Bundle
    collection = fhir.bundle_from_rows(rows, bundle_type="collection")
    assert "request" not in collection["entry"][0]
    assert len(fhir.rows_from_bundle(collection)) == 300


def test_rows_from_bundle_gives_the_frame_of_the_file_import(sample_rows):
    rows = sample_rows.iloc[:200]
    back = fhir.rows_from_bundle(json.dumps(fhir.bundle_from_rows(rows)))
    assert list(back.columns) == list(FRAME_COLUMNS)
    assert back["source_row"].tolist() == list(range(200))  # the entry's index
    shared = [c for c in rows.columns if c in back.columns]  # item columns past the widest
    assert rows.drop(columns=shared).isna().all().all()  # measure's may be left out
    pd.testing.assert_frame_equal(
        back.loc[:, shared], rows.loc[:, shared].reset_index(drop=True), check_dtype=False
    )


def test_memoised_model_check_finds_what_checking_each_resource_whole_finds():
    validator = fhir._ResponseValidator()
    for name in ["valid.json", *(c["file"] for c in CASES if c["file"] != "not_json.json")]:
        bundle = json.loads((DATA / name).read_text(encoding="utf-8"), parse_float=Decimal)
        for i, entry in enumerate(bundle["entry"]):
            resource, where = entry["resource"], f"Bundle.entry[{i}].resource"
            if resource["resourceType"] != "QuestionnaireResponse":
                continue
            whole = [(p.key, p.field) for p in fhir.resource_problems(resource, where)]
            memo = [(p.key, p.field) for p in validator.problems(resource, where)]
            assert sorted(memo) == sorted(whole), (name, i)


# ---------------------------------------------------------------- round trip


def test_round_trip_of_the_sample_through_a_bundle_is_identical(receiving, sample_rows):
    text = json.dumps(fhir.bundle_from_rows(sample_rows))
    admin = receiving.actor_for("terje.moen")
    summary = fhir.import_bundle(receiving, admin, text, source="sample.json")
    assert summary.measurements == len(sample_rows)
    after = receiving.export_rows(SYSTEM)
    pd.testing.assert_frame_equal(after, sample_rows)
    again = fhir.import_bundle(receiving, admin, text, source="sample.json")
    assert (again.measurements, again.sessions, again.unchanged) == (0, 0, len(sample_rows))
    assert len(receiving.export_rows(SYSTEM)) == len(sample_rows)


# ---------------------------------------------------------------- bad resources


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_bad_resource_names_the_element_and_writes_nothing(receiving, case):
    before = receiving.counts(SYSTEM)
    text = (DATA / case["file"]).read_bytes()
    with pytest.raises(ImportFileError) as error:
        fhir.import_bundle(receiving, receiving.actor_for("terje.moen"), text, source="x.json")
    assert [[p.key, p.field] for p in error.value.problems] == case["problems"]
    assert receiving.counts(SYSTEM) == before
    for language in ("nb", "en"):
        report = error.value.report(language)
        assert case["problems"][0][1] in report
        assert case["problems"][0][0] not in report  # the message, not its key
        for value in ("31129956715", "5.55", "10.55", "sju", "mood", "PHQ9"):
            assert value not in report


def test_the_valid_fixture_imports_and_the_store_refusals_are_named_by_element(store):
    store.load_dataset(
        SYSTEM,
        Dataset(
            teams=SAMPLE.teams[SAMPLE.teams.code != "BUP"],
            users=SAMPLE.users[SAMPLE.users.team_id.fillna(1) != 3],
            **{
                name: getattr(SAMPLE, name).iloc[0:0]
                for name in ("clients", "episodes", "sessions", "measurements")
            },
        ),
    )
    admin = store.actor_for("terje.moen")
    bundle = json.loads((DATA / "valid.json").read_text(encoding="utf-8"))
    with pytest.raises(ImportFileError) as error:
        fhir.import_bundle(store, admin, bundle)  # K00005 is in BUP, which this service lacks
    problems = [(p.key, p.field) for p in error.value.problems]
    team = next(
        k
        for k, e in enumerate(bundle["entry"][4]["resource"]["extension"])
        if e["url"].endswith("/team")
    )
    assert problems[0] == (
        "error.unknown_team",
        f"Bundle.entry[4].resource.extension[{team}].valueString",
    )
    assert store.counts(SYSTEM)["measurement"] == 0
    kept = {**bundle, "entry": bundle["entry"][:4] + bundle["entry"][6:]}
    assert fhir.import_bundle(store, admin, kept).measurements == 6
    items = kept["entry"][0]["resource"]["item"]  # another value for a stored measurement
    step = 0.1 if items[0]["answer"][0]["valueDecimal"] < 10 else -0.1
    for item in (items[0], items[-1]):  # the first item and the total
        item["answer"][0]["valueDecimal"] = round(item["answer"][0]["valueDecimal"] + step, 1)
    with pytest.raises(ImportFileError) as error:
        fhir.import_bundle(store, admin, kept)
    assert [(p.key, p.field) for p in error.value.problems] == [
        ("error.conflicts_stored", "Bundle.entry[0].resource.item")
    ]


def test_a_bundle_of_something_else_is_refused_with_the_element():
    for bundle, field in [
        ({"resourceType": "Patient"}, "Bundle.resourceType"),
        ({"resourceType": "Bundle", "type": "searchset", "entry": []}, "Bundle.type"),
        ({"resourceType": "Bundle", "type": "collection", "entry": []}, "Bundle.entry"),
        ({"resourceType": "Bundle", "type": "collection", "entry": {}}, "Bundle.entry"),
    ]:
        with pytest.raises(ImportFileError) as error:
            fhir.rows_from_bundle(bundle)
        assert error.value.problems[0].field == field


# ---------------------------------------------------------------- command line


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("KOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KOR_DATABASE_URL", raising=False)
    monkeypatch.setenv("KOR_USER", "admin")
    monkeypatch.setenv("KOR_ROLE", "admin")
    return tmp_path


def test_cli_exports_a_bundle_and_imports_it_into_an_empty_database(env, tmp_path, capsys):
    assert main(["sample", "--clients", "30", "--out", str(tmp_path / "s")]) == 0
    exported = tmp_path / "okter.json"
    assert main(["export", str(exported), "--fhir"]) == 0
    bundle = json.loads(exported.read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and "timestamp" in bundle
    source = Store.open()
    rows_before = source.export_rows(SYSTEM)
    source.close()
    assert len(bundle["entry"]) == len(rows_before)

    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    fresh = Store.open(url)
    _staff_only(fresh)
    fresh.close()
    capsys.readouterr()
    assert main(["import", str(exported), "--database", url]) == 0
    assert str(len(rows_before)) in capsys.readouterr().out
    again = Store.open(url)
    pd.testing.assert_frame_equal(again.export_rows(SYSTEM), rows_before, check_dtype=False)
    again.close()
    assert main(["import", str(exported), "--database", url]) == 0  # twice: adds nothing
    again = Store.open(url)
    assert len(again.export_rows(SYSTEM)) == len(rows_before)
    again.close()


def test_cli_import_of_a_bad_bundle_names_the_element_and_writes_nothing(env, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    fresh = Store.open(url)
    _staff_only(fresh)
    fresh.close()
    capsys.readouterr()
    assert main(["import", str(DATA / "two_decimals.json"), "--database", url]) == 2
    err = capsys.readouterr().err
    assert "felt Bundle.entry[3].resource.item[2].answer[0].valueDecimal" in err
    assert "5.55" not in err
    assert i18n.t("cli.nothing_written") in err
    check = Store.open(url)
    assert check.counts(SYSTEM)["measurement"] == 0
    check.close()
