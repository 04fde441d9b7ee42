"""From the dialogue conference to the improvement cycle.

The conference picks a few gaps to work on; :func:`propose_projects` turns each into a
proposal for an improvement project of the five-phase cycle (title, theme, the BSB
question whose next round measures the effect, and its baseline), and
:func:`create_projects` hands the proposals to :func:`kor.cycle.create_project_from_proposal`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd

from kor.i18n import get_language, t
from surveys.forms import Questionnaire

__all__ = ["propose_projects", "create_projects"]


def propose_projects(
    gap_table: pd.DataFrame,
    questions: list[str],
    form: Questionnaire,
    *,
    service: str,
    team: str | None = None,
    survey_id: int | None = None,
    language: str | None = None,
    due: date | None = None,
) -> list[dict[str, Any]]:
    """Proposed improvement projects for the gaps the dialogue conference agreed on.

    One dict per chosen user question: ``title``, ``theme`` (section), ``question``,
    ``staff_question``, ``measure`` (``"bsb:<question>"``: the goal is bound to this BSB
    item, so the next round measures it), ``baseline`` (users' mean), ``staff_view``,
    ``gap``, ``service``, ``team`` (the team code the project is for; default the
    service), ``survey_id``, ``phase`` (``"forberedelse"``) and ``due``.
    Suppressed pairs are skipped (there is no baseline to show).
    """
    lang = language or get_language()
    rows = gap_table.set_index("question")
    out = []
    for question in questions:
        if question not in rows.index or bool(rows.loc[question, "suppressed"]):
            continue
        r = rows.loc[question]
        q = form.question(question)
        theme = q.section
        theme_label = next((s.label(lang) for s in form.sections if s.name == theme), theme)
        baseline_text = t(
            "surveys.project.baseline",
            language=lang,
            user=f"{float(r['mean_user']):.1f}",
            staff=f"{float(r['mean_staff']):.1f}",
        )
        out.append(
            {
                "title": t(
                    "surveys.project.title", language=lang, theme=theme_label, item=q.label(lang)
                ),
                "theme": theme,
                "question": question,
                "staff_question": r["staff_question"],
                "measure": f"bsb:{question}",
                "baseline": round(float(r["mean_user"]), 2),
                "baseline_text": baseline_text,
                "staff_view": round(float(r["mean_staff"]), 2),
                "gap": round(float(r["gap"]), 2),
                "service": service,
                "team": team or service,
                "survey_id": survey_id,
                "phase": "forberedelse",
                "due": due,
            }
        )
    return out


def create_projects(store: Any, actor: Any, proposals: Iterable[Mapping[str, Any]]) -> list[int]:
    """Create one improvement project per proposal; returns the project ids.

    Uses :func:`kor.cycle.create_project_from_proposal` (the cycle's hook for BSB
    proposals); the baseline goes in as a readable sentence.
    """
    from kor.cycle import create_project_from_proposal

    ids = []
    for proposal in proposals:
        ids.append(
            create_project_from_proposal(
                store,
                actor,
                {**proposal, "baseline": proposal.get("baseline_text", proposal.get("baseline"))},
            )
        )
    return ids
