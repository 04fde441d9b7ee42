"""A fictional «Bruker spør bruker» survey with known answers, for tests, demos and docs.

Two rounds of the default questionnaire in the fictional municipality's VOP team: about
40 user and 15 staff interviews per round. What is built in, so that the analysis has
something to find (and the tests check that it finds exactly this):

* staff overrate **information** (``info_service``) by about one point in both rounds;
* **being heard** (``heard``) improves by about one point among users (and staff) from
  the baseline to the follow-up round;
* everything else: users and staff agree, and nothing changes between rounds.

About 6 % of Likert answers are «vet ikke» or «ikke aktuelt». Free-text comments are
invented and harmless. The baseline is written as a KoboToolbox-style CSV (group paths in
the headers, choice names, ``_uuid``), the follow-up as a Nettskjema-style XLSX (question
texts as headers, choice labels), so both import paths are exercised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kor.access import Actor
from surveys.forms import Questionnaire, default_form

__all__ = [
    "SEED",
    "USERS",
    "STAFF",
    "SAMPLE_DIR",
    "KNOWN_GAPS",
    "KNOWN_IMPROVEMENTS",
    "SampleSurvey",
    "generate",
    "write_sample",
    "load_sample",
]

SEED = 20261123
USERS = 40
STAFF = 15
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample" / "bsb"
#: Pairs whose user-staff gap is built in (user question names).
KNOWN_GAPS: tuple[str, ...] = ("u_info_service",)
#: User questions that improve from the baseline to the follow-up round.
KNOWN_IMPROVEMENTS: tuple[str, ...] = ("u_heard",)
INTERVIEWERS = ("mona.haugen", "arne.lie")
ROUND_DATES = {"baseline": date(2025, 3, 3), "follow_up": date(2026, 3, 2)}

#: User means per item (1-5) at baseline; staff have the same unless said otherwise.
_MEANS = {
    "access_speed": 3.4,
    "access_contact": 3.6,
    "info_service": 3.0,
    "info_complaints": 3.3,
    "heard": 3.0,
    "involved": 3.5,
    "respect": 4.2,
    "trust": 4.0,
    "coordination": 3.2,
    "responsible": 3.4,
    "outcome": 3.7,
    "hope": 3.6,
}
_STAFF_SHIFT = {"info_service": 1.3}
_ROUND_SHIFT = {"heard": 1.0}

#: (text, theme, fit to quote) — invented, about no one.
_USER_GOOD = [
    ("Jeg blir alltid møtt med et smil i resepsjonen.", "relasjon", True),
    ("Samtalene hjelper meg å sortere tankene.", "utbytte", True),
    ("Gruppen på torsdager har gitt meg nye venner.", "utbytte", True),
    ("De ringer tilbake samme dag når jeg legger igjen beskjed.", "tilgang", True),
    ("Fint at vi kan gå tur i stedet for å sitte på kontoret.", "medvirkning", False),
]
_USER_IMPROVE = [
    ("Jeg skulle ønske jeg fikk vite mer om hva dere faktisk kan tilby.", "informasjon", True),
    ("Brosjyren er vanskelig å forstå.", "informasjon", True),
    ("Det tok lang tid før jeg fikk første time.", "tilgang", True),
    ("Noen ganger føles det som at avgjørelsene er tatt før jeg kommer.", "medvirkning", True),
    ("NAV og dere snakker ikke sammen.", "samordning", True),
    ("Vanskelig å vite hvem jeg skal ringe.", "samordning", False),
]
_STAFF_GOOD = [
    ("Vi har god tid til hver bruker.", "relasjon", False),
    ("Vi samarbeider godt internt i teamet.", "samordning", False),
]
_STAFF_IMPROVE = [
    ("Vi burde ha kortere ventetid.", "tilgang", False),
    ("Informasjonen på nettsidene er utdatert.", "informasjon", True),
    ("Brukerne kunne vært mer med i ansettelser og planlegging.", "medvirkning", False),
]
_COMMENT_CODES = {
    text: (theme, quote)
    for pool in (_USER_GOOD, _USER_IMPROVE, _STAFF_GOOD, _STAFF_IMPROVE)
    for text, theme, quote in pool
}


@dataclass(frozen=True)
class SampleSurvey:
    """Generated interviews in long form: one row per answer.

    Columns of ``answers``: response, round, respondent, interviewer, question, value
    (choice name(s), number or text as the stored canonical text).
    """

    answers: pd.DataFrame
    form: Questionnaire


def _likert(rng: np.random.Generator, mean: float, offset: float, respondent: str) -> str:
    if rng.random() < (0.05 if respondent == "user" else 0.08):
        return str(rng.choice(["vet_ikke", "ikke_aktuelt"], p=[0.7, 0.3]))
    value = int(np.clip(np.rint(mean + offset + rng.normal(0.0, 0.75)), 1, 5))
    return str(value)


def generate(*, users: int = USERS, staff: int = STAFF, seed: int = SEED) -> SampleSurvey:
    """Interviews of both rounds (fixed seed: the same every time)."""
    rng = np.random.default_rng(seed)
    form = default_form()
    helps = [c.name for c in form.choices["help_forms"]]
    rows: list[dict[str, Any]] = []
    number = 0
    for rnd_index, rnd in enumerate(("baseline", "follow_up")):
        for respondent, n in (("user", users), ("staff", staff)):
            prefix = "u" if respondent == "user" else "s"
            for _ in range(n):
                number += 1
                offset = rng.normal(0.0, 0.35)
                answer: dict[str, str] = {}
                for key, mean in _MEANS.items():
                    m = mean + (_STAFF_SHIFT.get(key, 0.0) if respondent == "staff" else 0.0)
                    m += _ROUND_SHIFT.get(key, 0.0) * rnd_index
                    answer[f"{prefix}_{key}"] = _likert(rng, m, offset, respondent)
                overall = int(np.clip(np.rint(6.5 + 2 * offset + rng.normal(0, 1.5)), 0, 10))
                answer[f"{prefix}_overall"] = str(overall)
                chosen = [h for h in helps if rng.random() < (0.45 if h != "annet" else 0.08)]
                if chosen:
                    answer[f"{prefix}_help_forms"] = " ".join(chosen)
                good = _USER_GOOD if respondent == "user" else _STAFF_GOOD
                better = _USER_IMPROVE if respondent == "user" else _STAFF_IMPROVE
                if rng.random() < 0.35:
                    answer[f"{prefix}_works_well"] = good[rng.integers(len(good))][0]
                if rng.random() < 0.4:
                    answer[f"{prefix}_improve"] = better[rng.integers(len(better))][0]
                interviewer = INTERVIEWERS[number % len(INTERVIEWERS)]
                for question, value in answer.items():
                    rows.append(
                        {
                            "response": number,
                            "round": rnd,
                            "respondent": respondent,
                            "interviewer": interviewer,
                            "question": question,
                            "value": value,
                        }
                    )
    return SampleSurvey(pd.DataFrame(rows), form)


def _wide(sample: SampleSurvey, rnd: str) -> pd.DataFrame:
    part = sample.answers[sample.answers["round"] == rnd]
    wide = part.pivot_table(
        index=["response", "respondent", "interviewer"],
        columns="question",
        values="value",
        aggfunc="first",
    ).reset_index()
    order = [q.name for q in sample.form.questions if q.type != "note" and q.name in wide]
    return wide[["response", "respondent", "interviewer", *order]]


def write_sample(directory: str | Path = SAMPLE_DIR, *, seed: int = SEED) -> dict[str, Path]:
    """Write ``responses_baseline.csv`` (Kobo-style) and ``responses_follow_up.xlsx``
    (Nettskjema-style) plus the default form into ``directory``; returns the paths."""
    import shutil

    from surveys.forms import DEFAULT_FORM_PATH

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    sample = generate(seed=seed)
    form = sample.form

    kobo = _wide(sample, "baseline")
    start = datetime.combine(ROUND_DATES["baseline"], datetime.min.time()).replace(hour=9)
    kobo.insert(
        0, "start", [(start + timedelta(hours=5 * i)).isoformat() for i in range(len(kobo))]
    )
    kobo.insert(
        1,
        "end",
        [(start + timedelta(hours=5 * i, minutes=35)).isoformat() for i in range(len(kobo))],
    )
    kobo["_uuid"] = [f"bsb-sample-{int(r):04d}" for r in kobo["response"]]
    kobo = kobo.drop(columns="response").rename(
        columns={q.name: f"{q.section}/{q.name}" for q in form.questions if q.section}
    )
    paths = {"baseline": out / "responses_baseline.csv"}
    kobo.to_csv(paths["baseline"], index=False, encoding="utf-8")

    nett = _wide(sample, "follow_up").drop(columns="response")
    for q in form.questions:
        if q.name not in nett or q.type not in ("select_one", "select_multiple"):
            continue
        labels = {c.name: c.label("nb") for c in form.choices[q.list_name or ""]}
        nett[q.name] = nett[q.name].map(
            lambda v, labels=labels: v if pd.isna(v) else "; ".join(labels[x] for x in v.split())
        )
    nett["respondent"] = nett["respondent"].map({"user": "Bruker", "staff": "Ansatt"})
    nett = nett.rename(
        columns={
            "respondent": "Gruppe",
            "interviewer": "Intervjuer",
            **{q.name: q.label("nb") for q in form.questions},
        }
    )
    nett.insert(0, "Innsendt", ROUND_DATES["follow_up"].isoformat())
    paths["follow_up"] = out / "responses_follow_up.xlsx"
    nett.to_excel(paths["follow_up"], index=False)
    paths["form"] = out / "default_form.xlsx"
    shutil.copyfile(DEFAULT_FORM_PATH, paths["form"])
    return paths


def load_sample(
    store: Any,
    actor: Actor,
    *,
    directory: str | Path = SAMPLE_DIR,
    service: str = "VOP",
    code_comments: bool = True,
) -> dict[str, int]:
    """Store the sample survey (both rounds) and return ``{round: survey_id}``.

    With ``code_comments`` the invented comments are coded to their themes and the
    harmless ones approved (quotes chosen), as a coder would do, so the report has
    quotes to show.
    """
    from surveys.responses import read_responses

    directory = Path(directory)
    form = default_form()
    qid = store.save_questionnaire(actor, form)
    ids = {}
    for rnd, filename in (
        ("baseline", "responses_baseline.csv"),
        ("follow_up", "responses_follow_up.xlsx"),
    ):
        title = {"baseline": "Bruker spør bruker 2025", "follow_up": "Bruker spør bruker 2026"}
        sid = store.create_survey(
            actor,
            service=service,
            round=rnd,
            title=title[rnd],
            questionnaire_id=qid,
            start=ROUND_DATES[rnd],
            end=ROUND_DATES[rnd] + timedelta(days=30),
        )
        imported = read_responses(directory / filename, form)
        store.import_responses(actor, sid, imported, source=filename)
        ids[rnd] = sid
    if code_comments:
        comments = store.survey_comments(actor, ids.values())
        for row in comments.itertuples(index=False):
            theme, quote = _COMMENT_CODES.get(row.text, ("annet", False))
            store.code_comment(actor, row.comment_id, themes=[theme], approved=quote, quote=quote)
    return ids


if __name__ == "__main__":  # pragma: no cover
    for name, path in write_sample().items():
        print(name, path)
