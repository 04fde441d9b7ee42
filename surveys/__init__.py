"""«Bruker spør bruker»: questionnaires as data, imported answers, analysis, report.

Modules: ``forms`` (XLSForm questionnaires), ``responses`` (checking and importing
answers), ``analysis`` (distributions, user-vs-staff gaps, round-to-round change),
``report`` (the dialogue-conference report), ``sample`` (a fictional survey),
``goal_measures`` (BSB items as goals of an improvement project).

The public surface for notebooks is :data:`__all__` (``from surveys import gaps``),
re-exported lazily (PEP 562) so that ``import surveys`` loads nothing heavy.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (3-4 ms)

# name -> defining module, in the order of the API guide (docs/guide/api.md)
_EXPORTS: dict[str, str] = {
    "Questionnaire": "surveys.forms",
    "default_form": "surveys.forms",
    "read_form": "surveys.forms",
    "read_responses": "surveys.responses",
    "score_answers": "surveys.analysis",
    "distributions": "surveys.analysis",
    "item_summary": "surveys.analysis",
    "gaps": "surveys.analysis",
    "changes": "surveys.analysis",
    "largest_gaps": "surveys.analysis",
    "theme_counts": "surveys.analysis",
    "build_report": "surveys.report",
}

__all__ = [  # the stable surface; the same names, in the same order, as _EXPORTS
    "Questionnaire",
    "default_form",
    "read_form",
    "read_responses",
    "score_answers",
    "distributions",
    "item_summary",
    "gaps",
    "changes",
    "largest_gaps",
    "theme_counts",
    "build_report",
]

if TYPE_CHECKING:  # for type checkers and editors; at run time see __getattr__
    from surveys.analysis import (
        changes,
        distributions,
        gaps,
        item_summary,
        largest_gaps,
        score_answers,
        theme_counts,
    )
    from surveys.forms import Questionnaire, default_form, read_form
    from surveys.report import build_report
    from surveys.responses import read_responses


def __getattr__(name: str) -> object:
    """Import a public name's module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
