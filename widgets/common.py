"""Pieces every app uses: language switch, downloadable chart, friendly failure.

Widgets call the library and render; they hold no statistics and no SQL.
"""

from __future__ import annotations

import base64
import functools
import html
import logging
import os
import urllib.parse
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from kor.errors import KorError, ValidationError
from kor.i18n import LANGUAGES, get_language, set_language, t
from kor.plotting import figure_bytes
from kor.redact import exception_summary
from widgets.chart_image import ChartImage

__all__ = [
    "FramedApp",
    "language_switch",
    "chart_box",
    "message",
    "guarded",
    "acting_user",
    "page_style",
    "LARGE",
]

log = logging.getLogger("kor.apps")

#: Layout of touch-friendly controls (at least 44 px high, as tablet guidelines ask).
LARGE = w.Layout(min_height="48px")


#: The stylesheet every app includes (:func:`page_style`). Two concerns, one place:
#: readable contrast and visible focus for JupyterLab's own parts (tab bar, accordion
#: headers: WCAG 2.1 AA, 1.4.3 and 2.4.7), and one column under 700 px (phones; a tablet
#: in portrait keeps the apps' own layout). An app's root carries the class ``kor-app``.
_PAGE_CSS = """<style>
.kor-app .lm-TabBar-tab, .kor-app .lm-TabBar-tabLabel,
.kor-app .jupyter-widget-Collapse-header, .kor-app .jupyter-widget-Collapse-header span,
.kor-app .p-Collapse-header {color:#1f1f1f !important}
.kor-app .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel {color:#000 !important}
.kor-app button:focus-visible, .kor-app select:focus-visible, .kor-app input:focus-visible,
.kor-app textarea:focus-visible, .kor-app a:focus-visible, .kor-app .noUi-handle:focus-visible,
.kor-app .jupyter-widget-Collapse-header:focus-visible, .kor-app .lm-TabBar-tab:focus-visible
  {outline:3px solid #0072B2 !important; outline-offset:2px}
.kor-app .kor-chart-img {max-width:100%; height:auto}
.kor-app .jupyter-button.mod-success {background-color:#1b6e3a; color:#fff}
.kor-app .jupyter-button.mod-warning {background-color:#8a4b00; color:#fff}
.kor-app .jupyter-button.mod-danger {background-color:#a11d1d; color:#fff}
.kor-app .jupyter-button.mod-info {background-color:#0b4f8a; color:#fff}
@media (max-width: 700px) {
  .kor-app {padding:4px !important; max-width:100vw; box-sizing:border-box}
  .kor-app .widget-hbox {flex-wrap:wrap}
  .kor-app .widget-hbox > .widget-vbox, .kor-app .widget-hbox > .widget-box.kor-column
    {flex:1 1 100% !important; width:100% !important; max-width:100% !important;
     min-width:0 !important; padding-left:0 !important; padding-right:0 !important}
  .kor-app .widget-inline-hbox {flex-wrap:wrap; max-width:100%}
  .kor-app .widget-inline-hbox .widget-label {max-width:100%}
  .kor-app .widget-dropdown > select, .kor-app .widget-text > input {min-width:0}
  .kor-app .widget-dropdown, .kor-app .widget-text, .kor-app .widget-select
    {width:100% !important; max-width:100%}
  .kor-app .widget-toggle-buttons .widget-toggle-button {min-width:0}
  .kor-app .lm-TabBar-content {flex-wrap:wrap}
  .kor-app .lm-TabBar-tab {flex:0 1 auto !important; max-width:none !important; min-width:0}
  .kor-app .lm-TabBar {min-height:auto !important; max-height:none !important}
  .kor-app table {font-size:0.85em; max-width:100%}
  .kor-app th, .kor-app td {padding:4px 5px !important; white-space:normal !important;
    overflow-wrap:anywhere}
  .kor-app h2 {font-size:1.3em}
}
</style>"""


def page_style() -> w.HTML:
    """The shared stylesheet (contrast, focus, one column on a phone) as a widget.

    Every app puts it first among its root's children and adds the class ``kor-app``
    to the root, so the rules reach that app only.
    """
    return w.HTML(_PAGE_CSS, layout=w.Layout(display="none"))


class FramedApp:
    """The frame an app with one body shares: stylesheet, language switch, flash, body.

    Why a base class: the cycle and the «Bruker spør bruker» apps built the same root
    and the same ``show``/``say`` by hand; one frame keeps their look and their
    message place the same. Subclasses call :meth:`frame` once, then fill ``body``
    in their ``render`` (the language switch calls it again).
    """

    flash: w.VBox
    body: w.VBox
    root: w.VBox

    def frame(self, *, css: str, max_width: str, classes: tuple[str, ...] = ()) -> None:
        """Build ``root``: shared stylesheet, the app's own ``css``, switch, flash, body."""
        self.flash = w.VBox()
        self.body = w.VBox()
        self.root = w.VBox(layout=w.Layout(max_width=max_width, padding="8px"))
        for name in ("kor-app", *classes):
            self.root.add_class(name)
        self.root.children = [
            page_style(),
            w.HTML(css),
            language_switch(self.render),
            self.flash,
            self.body,
        ]

    def render(self) -> None:
        """Draw ``body`` for the current state and language (subclasses)."""
        raise NotImplementedError

    def show(self, widget: w.Widget) -> None:
        """Put ``widget`` in the flash place, replacing what was there."""
        self.flash.children = [widget]

    def say(self, key: str, kind: str = "success", **params: Any) -> None:
        """Show the catalog text ``key`` as a message of ``kind``."""
        self.show(message(t(key, **params), kind))


def language_switch(on_change: Callable[[], None]) -> w.ToggleButtons:
    """Bokmål/English toggle; ``on_change`` re-renders the app's texts."""
    toggle = w.ToggleButtons(
        options=[("Bokmål", "nb"), ("English", "en")],
        value=get_language(),
        description="",
        style={"button_width": "90px"},
    )

    def _switch(change: dict[str, Any]) -> None:
        set_language(change["new"])
        on_change()

    toggle.observe(_switch, names="value")
    return toggle


def chart_box(ax: Any, filename: str, *, alt: str, pdf: str = "eager") -> w.VBox:
    """The chart as an image with PNG and PDF download links (the file never leaves the page).

    alt: the chart's text alternative in plain words (what it shows; WCAG 1.1.1), read
    by a screen reader in place of the image (:class:`widgets.chart_image.ChartImage`).

    pdf: ``"eager"`` renders the PDF now; ``"on_demand"`` shows a button that renders it
    when pressed and puts the PDF link in its place. Why: rendering the PDF costs about
    as much as the PNG, and an app that redraws on every filter change (the quality
    dashboard) should not make every user wait for a file few of them download.
    """
    png = figure_bytes(ax, "png")
    image = ChartImage(png, alt=alt)
    if pdf != "on_demand":
        links = w.HTML(
            _download_link(filename, "png", png) + " " + _download_link(filename, "pdf", _pdf(ax))
        )
        return w.VBox([image, links], layout=w.Layout(width="100%"))
    links = w.HTML(_download_link(filename, "png", png))
    button = w.Button(
        description=t("label.download_pdf"),
        layout=w.Layout(min_height="44px", width="auto"),
    )
    button.add_class("kor-pdf-button")
    box = w.VBox([image, w.HBox([links, button], layout=w.Layout(gap="12px"))])
    box.layout = w.Layout(width="100%")

    def make_pdf(_button: Any) -> None:
        links.value = links.value + " " + _download_link(filename, "pdf", _pdf(ax))
        box.children = [image, links]

    button.on_click(make_pdf)
    return box


def _pdf(ax: Any) -> bytes:
    return figure_bytes(ax, "pdf")


def _download_link(filename: str, ext: str, data: bytes) -> str:
    mime, label = {
        "png": ("image/png", t("label.download_png")),
        "pdf": ("application/pdf", t("label.download_pdf")),
    }[ext]
    return (
        f'<a download="{html.escape(filename)}.{ext}" class="kor-download" '
        f'href="data:{mime};base64,{base64.b64encode(data).decode()}">{html.escape(label)}</a>'
    )


def message(text: str, kind: str = "info") -> w.HTML:
    """A visible status line (``info``, ``success``, ``error``)."""
    colours = {"info": "#0b4f8a", "success": "#1b6e3a", "error": "#a11d1d"}
    return w.HTML(
        f'<div class="kor-message kor-{kind}" style="padding:8px 12px;border-left:4px solid '
        f'{colours.get(kind, "#333")};font-size:1.05em">{html.escape(text)}</div>'
    )


def guarded(show: Callable[[w.Widget], None]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a handler; on failure show a friendly message and log without client data."""

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except ValidationError as exc:
                show(message(exc.message(), "error"))
            except KorError as exc:
                key = getattr(exc, "key", "app.error")
                show(message(t(key, **getattr(exc, "params", {})), "error"))
            except Exception as exc:  # noqa: BLE001 - never a traceback on screen
                log.error("app handler %s failed: %s", handler.__name__, exception_summary(exc))
                show(message(t("app.error"), "error"))
            return None

        return run

    return decorate


def request_language() -> None:
    """Use the language named by the page's query string (``?lang=en``), if it names one.

    Voilà puts the request's query string into the kernel's ``QUERY_STRING`` when the
    page is requested; anything but a known language code is ignored.
    """
    query = urllib.parse.parse_qs(os.environ.get("QUERY_STRING", ""))
    language = (query.get("lang") or [""])[0]
    if language in LANGUAGES:
        set_language(language)


def acting_user(store: Any, actor: Any = None) -> Any:
    """The acting user, or the friendly refusal to show instead of the app.

    Under JupyterHub a person the hub let in may still be unknown to the workbench (or
    inactive); they get «Ukjent bruker: …» in their language, never a traceback.
    Factories do: ``actor = acting_user(store, actor)``, and return it if it is a widget.
    Every factory calls it first, so it also applies the page's ``?lang=`` (the start
    page's links carry the language the user chose there).
    """
    request_language()
    if actor is not None:
        return actor
    try:
        return store.current_actor()
    except KorError as exc:
        key = getattr(exc, "key", "app.error")
        return message(t(key, **getattr(exc, "params", {})), "error")
