"""KOR workbench: the domain core (no UI).

Modules are named for what they hold: ``measures`` (instrument declarations),
``store`` (the only module that speaks SQL), ``frames`` (the frame schemas shared
by store, import and analytics), ``access`` (acting user and roles), ``io``
(file import/export), ``sample`` (synthetic data), ``i18n`` (the UI catalog),
``cli`` (the ``kor`` command).

The public surface for notebooks is :data:`__all__`: ``from kor import
episode_change``. Those names are stable; everything else is reached through its
module (``kor.spc.verdict``) and may change. They are re-exported lazily (PEP 562):
``import kor`` loads none of the analytics, so an app that imports one submodule
does not pay for pandas, scipy or statsmodels it does not use, and nothing here
imports statsmodels until a model is fitted.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (3-4 ms)

__version__ = "0.1.0"

# name -> defining module. The order is the order of the API guide (docs/guide/api.md).
# No name may be a submodule's name too (``clinician_effect``): importing the submodule
# sets the package attribute to the module and the name would change meaning.
_EXPORTS: dict[str, str] = {
    # data: the synthetic sample and the session table every analysis takes
    "generate": "kor.sample",
    "session_table": "kor.frames",
    "read_session_csv": "kor.frames",
    # measures: declarations and the registry
    "Measure": "kor.measures",
    "MEASURES": "kor.measures",
    "ORS": "kor.measures",
    "SRS": "kor.measures",
    "register": "kor.measures",
    # change (Jacobson & Truax 1991)
    "jacobson_truax": "kor.change",
    "classify_change": "kor.change",
    "episode_change": "kor.change",
    # warnings for the clinician
    "Rule": "kor.flags",
    "evaluate_flags": "kor.flags",
    "current_flags": "kor.flags",
    # models
    "ExpectedResponse": "kor.trajectories",
    # service level
    "service_indicators": "kor.indicators",
    "control_chart": "kor.spc",
    # data access
    "open_store": "kor.store",
    "research_extract": "kor.research",
    # errors
    "KorError": "kor.errors",
    "KorStatisticalWarning": "kor.errors",
}

__all__ = [  # the stable surface; the same names, in the same order, as _EXPORTS
    "generate",
    "session_table",
    "read_session_csv",
    "Measure",
    "MEASURES",
    "ORS",
    "SRS",
    "register",
    "jacobson_truax",
    "classify_change",
    "episode_change",
    "Rule",
    "evaluate_flags",
    "current_flags",
    "ExpectedResponse",
    "service_indicators",
    "control_chart",
    "open_store",
    "research_extract",
    "KorError",
    "KorStatisticalWarning",
]

if TYPE_CHECKING:  # for type checkers and editors; at run time see __getattr__
    from kor.change import classify_change, episode_change, jacobson_truax
    from kor.errors import KorError, KorStatisticalWarning
    from kor.flags import Rule, current_flags, evaluate_flags
    from kor.frames import read_session_csv, session_table
    from kor.indicators import service_indicators
    from kor.measures import MEASURES, ORS, SRS, Measure, register
    from kor.research import research_extract
    from kor.sample import generate
    from kor.spc import control_chart
    from kor.store import open_store
    from kor.trajectories import ExpectedResponse


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
