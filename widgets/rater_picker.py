"""«Hvem fyller ut?»: the rater of the outcome form in the clinician's session entry.

For a child or adolescent (:func:`kor.raters.allows_collateral`) the clinician may
enter a parent's, teacher's or another adult's CORS/YCORS/ORS beside the client's own
in the same session (issue 18). The picker is a row of toggle buttons (at least 44 px
high, for a finger on a tablet), hidden for adults. Choosing another rater starts the
outcome form empty (it never loads or corrects the client's stored values) and hides
the alliance form, which only the client fills in; the store checks the same rules.
The app wires it in with a few lines (:class:`widgets.clinician.ClinicianApp`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w

from kor import raters
from kor.i18n import t

__all__ = ["RaterPicker", "STYLE"]

#: Touch-sized buttons (WCAG 2.5.5: 44 px), the chosen one clearly marked.
STYLE = (
    "<style>.kor-rater-picker .widget-toggle-button{min-height:44px;min-width:120px;"
    "font-size:1em}.kor-rater-picker .widget-toggle-button.mod-active"
    "{font-weight:bold;outline:3px solid #0072B2}</style>"
)


class RaterPicker:
    """The rater toggle of one app; ``box`` is the widget to place above the forms.

    forms: the app's forms by kind (``outcome``, ``alliance``; each with ``clear()`` and
    ``box``). reload: shows the chosen session's stored values again (the app's
    session choice), called when going back to the client's own rating.
    """

    def __init__(self, forms: Mapping[str, Any], reload: Callable[[], None]) -> None:
        self.forms = forms
        self.reload = reload
        self.toggle = w.ToggleButtons(options=[], value=None, style={"button_width": "auto"})
        self.label = w.HTML()
        self.help = w.HTML()
        self.box = w.VBox([w.HTML(STYLE), self.label, self.toggle, self.help])
        self.box.add_class("kor-rater-picker")
        self.box.layout.display = "none"
        self._busy = False
        self.texts()
        self.toggle.observe(self._on_change, names="value")

    @property
    def value(self) -> str:
        """The chosen rater (``client`` when the picker is hidden)."""
        return self.toggle.value or raters.DEFAULT_RATER

    @property
    def collateral(self) -> bool:
        """True when someone other than the client is rating."""
        return self.value != raters.DEFAULT_RATER

    def texts(self) -> None:
        """Labels in the current language (after a language switch)."""
        current = self.value
        self._busy = True
        try:
            self.toggle.options = [(t(raters.label_key(r)), r) for r in raters.RATERS]
            self.toggle.value = current
        finally:
            self._busy = False
        self.label.value = f"<b>{t('rater.picker.label')}</b>"
        self.help.value = f"<small>{t('rater.picker.help')}</small>"

    def show_for(self, age_group: str | None) -> None:
        """Show the picker for a child or adolescent, hide it otherwise; back to the client."""
        allowed = age_group is not None and raters.allows_collateral("outcome", age_group)
        self.box.layout.display = None if allowed else "none"
        self._busy = True
        try:
            self.toggle.value = raters.DEFAULT_RATER
        finally:
            self._busy = False
        self._show_alliance(True)

    def choose(self, rater: str) -> None:
        """Pick ``rater`` as a tap on its button would."""
        self.toggle.value = rater

    def _show_alliance(self, shown: bool) -> None:
        alliance = self.forms.get("alliance")
        if alliance is not None:
            alliance.box.layout.display = None if shown else "none"

    def _on_change(self, _change: dict[str, Any]) -> None:
        if self._busy:
            return
        self.reload()  # the session's stored values (the client's), or an empty form
        if self.collateral:
            for form in self.forms.values():
                form.clear()
        self._show_alliance(not self.collateral)
