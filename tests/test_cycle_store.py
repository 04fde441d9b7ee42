"""A project walked through all five phases in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kor import cycle, sample
from kor.access import SYSTEM, Actor
from kor.cycle_report import project_report
from kor.errors import AccessDenied, ConflictError, ValidationError

CHANGE = date(2025, 12, 1)
TODAY = date(2026, 11, 1)


def rising_dataset(clients: int = 160, seed: int = 7):
    """The sample with SRS left out of 30 % of team VOP's sessions before CHANGE and
    2 % after it: completeness rises at a known date."""
    ds = sample.generate(clients, seed=seed)
    ses = ds.sessions.merge(ds.episodes[["episode_id", "client_id"]], on="episode_id")
    ses = ses.merge(ds.clients[["client_id", "team_id"]], on="client_id")
    vop = int(ds.teams.loc[ds.teams["code"] == "VOP", "team_id"].iloc[0])
    m = ds.measurements.merge(ses[["session_id", "session_date", "team_id"]], on="session_id")
    rng = np.random.default_rng(seed)
    share = np.where(m["session_date"] < pd.Timestamp(CHANGE), 0.30, 0.02)
    alliance = m["measure"].isin(["SRS", "CSRS", "GSRS", "YCSRS"])
    drop = alliance & (m["team_id"] == vop) & (rng.random(len(m)) < share)
    return replace(
        ds, measurements=ds.measurements.loc[~drop.to_numpy(dtype=bool)].reset_index(drop=True)
    )


@pytest.fixture
def service(store):
    store.load_dataset(SYSTEM, rising_dataset())
    store.add_user(SYSTEM, "kvalitet", "quality_lead")
    store.add_user(SYSTEM, "forsker", "researcher")
    store.add_user(SYSTEM, "leder.vop", "team_lead", team="VOP")
    store.add_user(SYSTEM, "leder.rus", "team_lead", team="RUS")
    store.add_user(SYSTEM, "beh.vop", "clinician", team="VOP")
    return {u: store.actor_for(u) for u in ("kvalitet", "forsker", "leder.vop", "leder.rus",
                                            "beh.vop")}  # fmt: skip


def tick_all(store, actor, project_id, phase):
    for row in store.project(actor, project_id).items(phase):
        if not row["done"]:
            store.set_checklist_item(actor, row["id"], True)


@pytest.mark.slow
def test_project_walks_through_all_five_phases_with_a_goal_that_improves(store, service):
    lead = service["leder.vop"]
    pid = store.create_project(
        lead, "SRS i hver økt", ["VOP"], members=[("Guro Nesheim", "leader")]
    )
    store.add_member(lead, pid, "Brukerrepresentant A", "user_representative")
    p = store.project(lead, pid)
    assert p.phase == "forberedelse" and p.teams == ("VOP",)
    assert [m["role"] for m in p.members] == ["leader", "user_representative"]
    assert len(p.checklist) == len(cycle.default_checklist())

    # 1 forberedelse: blocked with the open items listed, then done
    first = p.items("forberedelse")
    store.set_checklist_item(lead, first[0]["id"], True)
    with pytest.raises(cycle.PhaseNotDone) as blocked:
        store.advance_phase(lead, pid, version=p.version)
    assert blocked.value.open_items == [cycle.item_text(r, "nb") for r in first[1:]]
    assert "Brukerrepresentanter er med i arbeidsgruppen" in blocked.value.message("nb")
    assert store.project(lead, pid).phase == "forberedelse"  # nothing moved
    tick_all(store, lead, pid, "forberedelse")
    assert store.advance_phase(lead, pid, version=p.version) == "planlegging"
    with pytest.raises(ConflictError):  # the old version is stale now
        store.advance_phase(lead, pid, version=p.version)

    # 2 planlegging: a SMART goal on live data
    gid = store.set_goal(
        lead,
        pid,
        measure="pct_sessions_with_alliance",
        team="VOP",
        period_start=date(2025, 1, 1),
        period_end=date(2025, 6, 30),
        target=90.0,
        deadline=date(2026, 10, 31),
    )
    goal = store.project(lead, pid).goals[0]
    assert 55 < goal["baseline"] < 80  # computed from the data, not typed
    assert cycle.smart_check(goal)["E"] == (False, "cycle.smart.E.not_agreed")
    store.agree_goal(lead, gid, "Arbeidsgruppen og brukerrepresentanten", version=goal["version"])
    goal = store.project(lead, pid).goals[0]
    assert goal["agreed_at"] is not None
    assert all(ok for ok, _ in cycle.smart_check(goal).values())
    store.add_note(lead, pid, "planlegging", "Vi måler andel økter med SRS", kind="decision")
    tick_all(store, lead, pid, "planlegging")
    p = store.project(lead, pid)
    assert store.advance_phase(lead, pid, version=p.version) == "utforing"

    # 3 utføring: the dated change
    store.add_change(lead, pid, CHANGE, "SRS på nettbrett i alle økter")
    tick_all(store, lead, pid, "utforing")
    p = store.project(lead, pid)
    assert store.advance_phase(lead, pid, version=p.version) == "kontroll"

    # 4 kontroll og evaluering: the verdict
    ev = store.goal_evaluation(lead, gid, today=TODAY)
    assert ev.outcome == "improved"
    assert "runs" in ev.rules
    assert "Anhøjs serieregel" in ev.text("nb")
    assert ev.target_reached is True
    tick_all(store, lead, pid, "kontroll")
    p = store.project(lead, pid)
    assert store.advance_phase(lead, pid, version=p.version) == "standardisering"

    # 5 standardisering: evaluations twice a year; one overdue, then done
    store.schedule_evaluations(lead, pid, per_year=2, first_due=date(2026, 9, 1))
    late = store.overdue_evaluations(service["kvalitet"], today=TODAY)
    assert late["project_id"].tolist() == [pid] and late["days_overdue"].tolist() == [61]
    listed = store.projects(lead, today=TODAY)
    assert bool(listed.loc[listed["id"] == pid, "overdue"].iloc[0])
    store.record_evaluation(lead, pid, verdict=ev.outcome, summary="Holdt seg", on=TODAY)
    assert store.overdue_evaluations(lead, today=TODAY).empty
    p = store.project(lead, pid)
    assert p.next_due() == date(2027, 5, 1)
    tick_all(store, lead, pid, "standardisering")
    assert store.advance_phase(lead, pid, version=p.version) == "standardisering"
    p = store.project(lead, pid)
    assert p.status == "closed"

    # the report
    report = project_report(store, lead, pid, today=TODAY, language="nb")
    page = report.to_html()
    assert "SRS i hver økt" in page and "Forbedret" in page and "Anhøjs serieregel" in page
    assert "data:image/png;base64," in page
    pdf = report.to_pdf()
    assert pdf.startswith(b"%PDF")

    # audit rows for the writes
    audit = store.audit_log(SYSTEM)
    assert {"cycle_project", "cycle_goal", "cycle_change", "cycle_evaluation"} <= set(
        audit["entity"]
    )


def test_forced_move_records_the_decision(store, service):
    lead = service["kvalitet"]
    pid = store.create_project(lead, "Frafall", ["RUS", "VOP"])
    p = store.project(lead, pid)
    with pytest.raises(ValidationError):
        store.advance_phase(lead, pid, version=p.version, force=True)  # no decision
    store.advance_phase(lead, pid, version=p.version, force=True, decision="Haster")
    p = store.project(lead, pid)
    assert p.phase == "planlegging"
    assert [(n["phase"], n["kind"], n["text"]) for n in p.notes] == [
        ("forberedelse", "decision", "Haster")
    ]


def test_planning_is_not_passed_without_a_smart_goal(store, service):
    lead = service["leder.vop"]
    pid = store.create_project(lead, "SMART først", ["VOP"])
    p = store.project(lead, pid)
    store.advance_phase(lead, pid, version=p.version, force=True, decision="Kjent behov")
    p = store.project(lead, pid)
    smart_item = next(r for r in p.items("planlegging") if r["item_key"] == cycle.SMART_GOAL_ITEM)
    with pytest.raises(cycle.NoSmartGoal) as no_goal:
        store.set_checklist_item(lead, smart_item["id"], True)
    assert no_goal.value.missing == list(cycle.SMART_LETTERS)
    with pytest.raises(cycle.NoSmartGoal):  # not even with a recorded decision
        store.advance_phase(lead, pid, version=p.version, force=True, decision="Vi vil videre")
    gid = store.set_goal(
        lead,
        pid,
        measure="pct_sessions_with_alliance",
        team="VOP",
        period_start=date(2025, 1, 1),
        period_end=date(2025, 6, 30),
        target=90.0,
        deadline=date(2026, 10, 31),
    )
    with pytest.raises(cycle.NoSmartGoal) as not_agreed:  # all but «E»
        store.set_checklist_item(lead, smart_item["id"], True)
    assert not_agreed.value.missing == ["E"]
    assert "Enighet" in not_agreed.value.message("nb")
    p = store.project(lead, pid)
    assert p.phase == "planlegging" and not any(r["done"] for r in p.items("planlegging"))
    store.agree_goal(lead, gid, "Arbeidsgruppen", version=p.goals[0]["version"])
    store.set_checklist_item(lead, smart_item["id"], True)
    p = store.project(lead, pid)
    assert (
        store.advance_phase(lead, pid, version=p.version, force=True, decision="Ok") == "utforing"
    )


def test_roles_decide_who_creates_reads_and_edits(store, service):
    lead_vop, lead_rus = service["leder.vop"], service["leder.rus"]
    with pytest.raises(AccessDenied):
        store.create_project(lead_rus, "Ikke mitt team", ["VOP"])
    with pytest.raises(AccessDenied):
        store.create_project(service["beh.vop"], "Behandler", ["VOP"])
    pid = store.create_project(lead_vop, "VOP-prosjekt", ["VOP"])
    # the clinician reads their team's project but cannot tick
    assert store.project(service["beh.vop"], pid).title == "VOP-prosjekt"
    item = store.project(lead_vop, pid).checklist[0]["id"]
    with pytest.raises(AccessDenied):
        store.set_checklist_item(service["beh.vop"], item, True)
    with pytest.raises(AccessDenied):
        store.project(lead_rus, pid)
    assert store.projects(lead_rus).empty
    with pytest.raises(AccessDenied):
        store.projects(service["forsker"])
    with pytest.raises(AccessDenied):
        store.project(service["forsker"], pid)
    assert store.projects(service["kvalitet"])["title"].tolist() == ["VOP-prosjekt"]


def test_checklists_are_editable_per_project(store, service):
    lead = service["leder.vop"]
    pid = store.create_project(lead, "Egne punkter", ["VOP"])
    extra = store.add_checklist_item(lead, pid, "utforing", "Plakat på venterommet")
    p = store.project(lead, pid)
    assert cycle.item_text(p.items("utforing")[-1]) == "Plakat på venterommet"
    store.remove_checklist_item(lead, p.items("utforing")[0]["id"])
    assert [r["id"] for r in store.project(lead, pid).items("utforing")][-1] == extra
    assert len(store.project(lead, pid).items("utforing")) == 3


def test_changing_a_goal_recomputes_the_baseline_and_asks_for_agreement_again(store, service):
    lead = service["leder.vop"]
    pid = store.create_project(lead, "Mål", ["VOP"])
    kw = dict(measure="pct_sessions_with_alliance", team="VOP", target=90.0,
              deadline=date(2026, 10, 31))  # fmt: skip
    gid = store.set_goal(
        lead, pid, period_start=date(2025, 1, 1), period_end=date(2025, 6, 30), **kw
    )
    goal = store.project(lead, pid).goals[0]
    store.agree_goal(lead, gid, "Gruppen", version=goal["version"])
    goal = store.project(lead, pid).goals[0]
    store.set_goal(lead, pid, period_start=date(2026, 1, 1), period_end=date(2026, 6, 30),
                   goal_id=gid, version=goal["version"], **kw)  # fmt: skip
    changed = store.project(lead, pid).goals[0]
    assert changed["baseline"] > goal["baseline"] + 15  # after the change: near 100 %
    assert changed["agreed_by"] is None


def test_a_proposal_from_bruker_spor_bruker_becomes_a_project(store, service):
    lead = service["leder.vop"]
    pid = cycle.create_project_from_proposal(
        store,
        lead,
        {"title": "Bli hørt", "team": "VOP", "theme": "involvement",
         "question": "Opplever du å bli hørt?", "baseline": "58 % svarte ja"},
    )  # fmt: skip
    p = store.project(lead, pid)
    assert p.title == "Bli hørt" and p.teams == ("VOP",) and p.question.startswith("Opplever")
    assert p.items("forberedelse")[0]["done"] is True
    assert any("58 % svarte ja" in n["text"] for n in p.notes)
    with pytest.raises(ValidationError):
        cycle.create_project_from_proposal(store, lead, {"team": "VOP"})


def test_report_pdf_renders_to_a_png(tmp_path, store, service):
    lead = service["leder.vop"]
    pid = store.create_project(lead, "Rapport", ["VOP"])
    store.set_goal(lead, pid, measure="pct_sessions_with_alliance", team="VOP",
                   period_start=date(2025, 1, 1), period_end=date(2025, 6, 30), target=90.0,
                   deadline=date(2026, 10, 31))  # fmt: skip
    store.add_change(lead, pid, CHANGE, "SRS på nettbrett")
    pdf = tmp_path / "rapport.pdf"
    pdf.write_bytes(project_report(store, lead, pid, today=TODAY, language="nb").to_pdf())
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "side")], check=True)
    pages = sorted(tmp_path.glob("side-*.png"))
    assert len(pages) == 2  # text, one goal chart
    assert all(p.stat().st_size > 5000 for p in pages)


def test_an_actor_from_another_team_sees_no_baseline(store, service):
    lead_rus: Actor = service["leder.rus"]
    assert store.goal_baseline(lead_rus, "pct_sessions_with_alliance", "VOP", date(2025, 1, 1),
                               date(2025, 6, 30)) is None  # fmt: skip
