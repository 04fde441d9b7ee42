"""The start page: what the workbench holds, one large tile per app, in the user's language.

What ``/`` shows (``kor app`` sends the root there, JupyterHub's ``default_url`` too), so
nobody meets Voilà's English file list. Each tile is a plain link to the app's page,
relative to this one, so it works behind JupyterHub's ``/user/<name>/`` prefix as well.
The apps check access themselves; the start page only puts the user's own apps first.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as w

from kor.access import Actor
from kor.i18n import get_language, t
from kor.store import Store, open_store
from widgets.common import acting_user, language_switch, page_style

__all__ = ["APPS", "AppTile", "start_app", "tiles_html"]


@dataclass(frozen=True)
class AppTile:
    """One app on the start page: its notebook, catalog key and the roles it is made for."""

    notebook: str
    key: str
    roles: tuple[str, ...]


APPS: tuple[AppTile, ...] = (
    AppTile("behandler.ipynb", "clinician", ("clinician", "team_lead", "admin")),
    AppTile("mine_resultater.ipynb", "own_results", ("clinician", "team_lead", "admin")),
    AppTile("kvalitet.ipynb", "dashboard", ("team_lead", "quality_lead", "admin")),
    AppTile("bruker_spor_bruker.ipynb", "bsb", ("team_lead", "quality_lead", "admin")),
    AppTile("forbedring.ipynb", "cycle", ("clinician", "team_lead", "quality_lead", "admin")),
    AppTile("oversikt.ipynb", "overview", ("team_lead", "quality_lead", "admin")),
    AppTile("forskning/forventet_forlop.ipynb", "research", ("researcher", "admin")),
)

_STYLE = """<style>
.kor-tiles {display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr));
  gap: 16px; margin: 8px 0 16px 0;}
.kor-tile {display: block; min-height: 96px; padding: 18px 20px; border-radius: 10px;
  border: 2px solid #0b5394; background: #f3f7fb; color: #102a43; text-decoration: none;}
.kor-tile:hover, .kor-tile:focus {background: #dde9f5; outline: 3px solid #0b5394;}
.kor-tile strong {display: block; font-size: 1.3em; margin-bottom: 6px;}
.kor-tile span {font-size: 1.02em; line-height: 1.4;}
.kor-tile.kor-other {border-color: #9fb3c8; background: #fafbfc;}
</style>"""


def _tile(app: AppTile, *, own: bool) -> str:
    title = html.escape(t(f"start.app.{app.key}"))
    text = html.escape(t(f"start.app.{app.key}.text"))
    css = "kor-tile" if own else "kor-tile kor-other"
    href = html.escape(f"{app.notebook}?lang={get_language()}")  # the app opens in this language
    return f'<a class="{css}" href="{href}"><strong>{title}</strong><span>{text}</span></a>'


def tiles_html(actor: Actor) -> str:
    """The tiles: the apps made for the actor's role first, then the others."""
    own = [a for a in APPS if actor.role in a.roles]
    other = [a for a in APPS if actor.role not in a.roles]
    parts = [_STYLE, f"<h3>{html.escape(t('start.yours'))}</h3>", '<div class="kor-tiles">']
    parts += [_tile(a, own=True) for a in own] + ["</div>"]
    if other:
        parts += [f"<h3>{html.escape(t('start.others'))}</h3>", '<div class="kor-tiles">']
        parts += [_tile(a, own=False) for a in other] + ["</div>"]
    return "".join(parts)


def start_app(store: Store | None = None, actor: Actor | None = None) -> w.Widget:
    """The start page for the acting user (or «Ukjent bruker» for a stranger)."""
    store = store or open_store()
    actor = acting_user(store, actor)
    if isinstance(actor, w.Widget):  # not a user of the workbench: the refusal
        return actor
    page = w.HTML()
    root = w.VBox(layout=w.Layout(max_width="1000px", padding="8px"))
    root.add_class("kor-start")

    def render() -> None:
        who = t("start.who", name=actor.username, role=t(f"role.{actor.role}"))
        page.value = (
            f"<h2>{html.escape(t('start.title'))}</h2>"
            f"<p>{html.escape(t('start.intro'))}</p>"
            f"<p class='kor-who'>{html.escape(who)}</p>" + tiles_html(actor)
        )

    render()
    root.add_class("kor-app")
    root.children = [page_style(), language_switch(render), page]
    return root
