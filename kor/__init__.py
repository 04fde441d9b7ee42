"""KOR workbench: the domain core (no UI).

Modules are named for what they hold: ``measures`` (instrument declarations),
``store`` (the only module that speaks SQL), ``frames`` (the frame schemas shared
by store, import and analytics), ``access`` (acting user and roles), ``io``
(file import/export), ``sample`` (synthetic data), ``i18n`` (the UI catalog),
``cli`` (the ``kor`` command).
"""

__version__ = "0.1.0"
