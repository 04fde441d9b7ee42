"""Survey persistence on SQLite and PostgreSQL: drafts, finishing, import, comments, access."""

from __future__ import annotations

import pytest

from kor.access import SYSTEM, Actor
from kor.errors import AccessDenied, ConflictError, StoreError, ValidationError
from surveys.forms import default_form
from surveys.responses import read_responses
from surveys.sample import SAMPLE_DIR, STAFF, USERS, load_sample

FORM = default_form()


@pytest.fixture
def survey(store) -> int:
    qid = store.save_questionnaire(SYSTEM, FORM)
    return store.create_survey(
        SYSTEM, service="VOP", round="baseline", title="BSB", questionnaire_id=qid
    )


def _registered(store, username: str, role: str, team: str | None = None) -> Actor:
    """A stored user (every store method re-reads the actor from ``app_user``)."""
    if team and store.counts(SYSTEM)["team"] == 0:
        store.add_team(SYSTEM, team, team)
    return store.ensure_user(SYSTEM, Actor(username, role, team))


def _full_user_answers() -> dict[str, object]:
    out: dict[str, object] = {}
    for q in FORM.for_respondent("user"):
        if q.type == "select_one":
            out[q.name] = "vet_ikke"
        elif q.type == "range":
            out[q.name] = 6
    return out


def test_saving_the_same_form_twice_keeps_one_copy_and_a_changed_one_is_refused(store):
    qid = store.save_questionnaire(SYSTEM, FORM)
    assert store.save_questionnaire(SYSTEM, FORM) == qid
    changed = type(FORM)(
        FORM.form_id, FORM.version, {"nb": "Annen"}, FORM.questions, FORM.sections, FORM.choices
    )
    with pytest.raises(StoreError):
        store.save_questionnaire(SYSTEM, changed)
    assert store.questionnaire(SYSTEM, qid) == FORM


def test_a_draft_interview_is_resumed_with_its_answers(store, survey):
    rid = store.start_response(SYSTEM, survey, "user", interviewer="mona.haugen")
    version = store.save_answers(
        SYSTEM,
        rid,
        {"u_heard": "Litt enig", "u_help_forms": ["gruppe", "samtaler"], "u_improve": "Mer tid"},
    )
    drafts = store.drafts(SYSTEM, survey)
    assert list(drafts["id"]) == [rid] and drafts["answered"].item() == 3
    resumed = store.response(SYSTEM, rid)
    assert resumed["answers"] == {
        "u_heard": "4",
        "u_help_forms": ["samtaler", "gruppe"],
        "u_improve": "Mer tid",
    }
    assert resumed["version"] == version and resumed["status"] == "draft"
    store.save_answers(SYSTEM, rid, {"u_heard": None}, version=version)
    assert "u_heard" not in store.response(SYSTEM, rid)["answers"]
    with pytest.raises(ConflictError):
        store.save_answers(SYSTEM, rid, {"u_heard": "5"}, version=version)


def test_finishing_needs_every_required_answer_and_then_locks_the_interview(store, survey):
    rid = store.start_response(SYSTEM, survey, "user")
    with pytest.raises(ValidationError) as caught:
        store.save_answers(SYSTEM, rid, {"u_heard": "4"}, finish=True)
    assert caught.value.key == "surveys.answer.incomplete"
    assert store.response(SYSTEM, rid)["status"] == "draft"
    store.save_answers(SYSTEM, rid, _full_user_answers(), finish=True)
    assert store.surveys(SYSTEM)[["users", "staff", "drafts"]].iloc[0].tolist() == [1, 0, 0]
    with pytest.raises(StoreError):
        store.save_answers(SYSTEM, rid, {"u_heard": "5"})
    answers = store.survey_answers(SYSTEM, [survey])
    assert set(answers["respondent"]) == {"user"} and answers["value_number"].isna().sum() > 0


def test_a_wrong_answer_writes_nothing(store, survey):
    rid = store.start_response(SYSTEM, survey, "staff")
    with pytest.raises(ValidationError):
        store.save_answers(SYSTEM, rid, {"s_heard": "4", "s_overall": 14})
    assert store.response(SYSTEM, rid)["answers"] == {}


def test_import_is_one_transaction_and_importing_again_adds_nothing(store, survey):
    imported = read_responses(SAMPLE_DIR / "responses_baseline.csv", FORM)
    assert store.import_responses(SYSTEM, survey, imported, source="x.csv") == {
        "added": USERS + STAFF,
        "unchanged": 0,
    }
    assert store.import_responses(SYSTEM, survey, imported, source="x.csv") == {
        "added": 0,
        "unchanged": USERS + STAFF,
    }
    row = store.surveys(SYSTEM).iloc[0]
    assert (row["users"], row["staff"]) == (USERS, STAFF)
    log = store.audit_log(SYSTEM)
    assert (log["entity"] == "bsb_response").sum() >= 2


def test_free_text_is_unapproved_until_coded_and_exports_see_only_approved(store):
    ids = load_sample(store, SYSTEM, code_comments=False)
    comments = store.survey_comments(SYSTEM, ids.values())
    assert len(comments) > 20 and not comments["approved"].any()
    assert store.survey_comments(SYSTEM, ids.values(), approved_only=True).empty
    first = comments.iloc[0]
    with pytest.raises(ValidationError):
        store.code_comment(
            SYSTEM, int(first["comment_id"]), themes=["tilgang"], approved=False, quote=True
        )
    store.code_comment(
        SYSTEM,
        int(first["comment_id"]),
        themes=["tilgang", "annet"],
        approved=True,
        quote=True,
        version=int(first["version"]),
    )
    approved = store.survey_comments(SYSTEM, ids.values(), approved_only=True)
    assert approved["comment_id"].tolist() == [first["comment_id"]]
    assert approved["themes"].item() == ["annet", "tilgang"]
    researcher = _registered(store, "forsker", "researcher")
    assert len(store.survey_comments(researcher, ids.values())) == 1
    interviewer = _registered(store, "ingrid.berg", "clinician", "VOP")
    assert len(store.survey_comments(interviewer, ids.values())) == 1  # approved text only
    free_text = set(comments["text"])
    assert not free_text & set(store.survey_answers(SYSTEM, ids.values())["value_text"].dropna())


def test_roles_researchers_do_not_interview_and_clinicians_do_not_create_surveys(store, survey):
    researcher = _registered(store, "forsker", "researcher")
    clinician = _registered(store, "ingrid.berg", "clinician", "VOP")
    with pytest.raises(AccessDenied):
        store.start_response(researcher, survey, "user")
    with pytest.raises(AccessDenied):
        store.create_survey(
            clinician,
            service="VOP",
            round="baseline",
            title="x",
            questionnaire_id=1,
        )
    rid = store.start_response(clinician, survey, "user")
    assert store.response(SYSTEM, rid)["interviewer"] == "ingrid.berg"


def test_sections_become_coding_themes(store, survey):
    codes = store.themes(SYSTEM)["code"].tolist()
    assert codes[:2] == ["tilgang", "informasjon"] and "annet" in codes and "intro" not in codes
    store.add_theme(SYSTEM, "ventetid", "Ventetid", "Waiting time")
    with pytest.raises(ValidationError):
        store.add_theme(SYSTEM, "ventetid", "Igjen")


def test_a_theme_is_approved_in_bulk_in_one_audited_transaction(store):
    ids = load_sample(store, SYSTEM, code_comments=False)
    comments = store.survey_comments(SYSTEM, ids.values())
    assert comments["flags"].map(len).sum() == 0  # the invented comments name no one
    first, second, third = (int(x) for x in comments["comment_id"][:3])
    for cid in (first, second):
        store.code_comment(SYSTEM, cid, themes=["tilgang"], approved=False)
    store.code_comment(SYSTEM, third, themes=["tilgang"], approved=True)
    before = len(store.audit_log(SYSTEM))
    assert store.approve_comments(SYSTEM, [first, second, third]) == 2  # third was approved
    approved = store.survey_comments(SYSTEM, ids.values(), approved_only=True)
    assert set(approved["comment_id"]) == {first, second, third}
    assert set(approved.set_index("comment_id").loc[[first, second], "themes"].map(tuple)) == {
        ("tilgang",)
    }
    log = store.audit_log(SYSTEM)
    assert len(log) == before + 2 and set(log["action"].iloc[:2]) == {"approve"}  # newest first


def test_bulk_approval_refuses_the_whole_batch_if_one_holds_a_national_id(store, survey):
    rid = store.start_response(SYSTEM, survey, "user")
    answers = _full_user_answers()
    answers["u_works_well"] = "Fint. Mitt nummer er 311299 56715"
    answers["u_improve"] = "Ring Kari Hansen på 412 34 567"
    store.save_answers(SYSTEM, rid, answers, finish=True)
    comments = store.survey_comments(SYSTEM, [survey]).set_index("question")
    assert comments.loc["u_works_well", "flags"] == ["national_id"]
    assert comments.loc["u_improve", "flags"] == ["name", "phone"]
    with pytest.raises(ValidationError) as caught:
        store.approve_comments(SYSTEM, comments["comment_id"].tolist())
    assert caught.value.key == "surveys.comment.national_id"
    assert store.survey_comments(SYSTEM, [survey], approved_only=True).empty
    interviewer = _registered(store, "ingrid.berg", "clinician", "VOP")
    with pytest.raises(AccessDenied):
        store.approve_comments(interviewer, [int(comments.loc["u_improve", "comment_id"])])
    # a name or phone number is flagged, not refused: the coder decides
    assert store.approve_comments(SYSTEM, [int(comments.loc["u_improve", "comment_id"])]) == 1
