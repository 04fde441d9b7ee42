"""A chart as an ``<img>`` with a text alternative, inside an HTML widget.

Why not ipywidgets' ``Image``: its ``<img>`` has no ``alt`` (axe: *image-alt*, WCAG 2.1
1.1.1), and setting its tooltip to carry one broke the image's view in Voilà's widget
manager. An ``<img alt="…" src="data:image/png;base64,…">`` in a plain HTML widget needs
no view of its own, so a screen reader reads the chart's alt text and every browser
draws it. The PNG stays in :attr:`ChartImage.png` for the download link and the tests.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import ipywidgets as w

__all__ = ["ChartImage"]


class ChartImage(w.HTML):
    """The PNG ``png`` with ``alt``, at its own width; the apps' stylesheet
    (:func:`widgets.common.page_style`) keeps it within its box (``max-width:100%``).

    >>> chart = ChartImage(b"\\x89PNG...", alt="Diagram: økter per måned")
    >>> 'alt="Diagram: økter per måned"' in chart.value
    True
    """

    def __init__(self, png: bytes, *, alt: str, **kwargs: Any) -> None:
        if not alt.strip():
            raise ValueError("a chart needs a text alternative (alt)")
        kwargs.setdefault("layout", w.Layout(width="100%", max_width="100%"))
        data = base64.b64encode(png).decode()
        super().__init__(
            value=(
                f'<img class="kor-chart-img" alt="{html.escape(alt)}" '
                'style="display:block" '  # width: the app's stylesheet (max-width 100%)
                f'src="data:image/png;base64,{data}">'
            ),
            **kwargs,
        )
        self.png = png
        self.alt = alt
        self.add_class("kor-chart-image")
