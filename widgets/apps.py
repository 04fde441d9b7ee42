"""App factories: each returns one widget that a notebook displays.

Defaults come from configuration and the logged-in user, so a notebook is two lines::

    from widgets.apps import overview_app
    overview_app()
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from kor.access import Actor
from kor.i18n import t
from kor.indicators import data_as_of, data_coverage, service_indicators
from kor.plotting import trend_chart
from kor.store import Store, open_store
from widgets.common import (
    acting_user,
    chart_box,
    guarded,
    language_switch,
    message,
    page_style,
)

__all__ = ["overview_app"]


def overview_app(store: Store | None = None, actor: Actor | None = None) -> w.Widget:
    """How much data the service holds: counts, sessions and ORS completeness per team and month."""
    store = store or open_store()
    actor = acting_user(store, actor)
    if isinstance(actor, w.Widget):  # not a user of the workbench: the refusal
        return actor
    body = w.VBox()
    root = w.VBox(layout=w.Layout(max_width="1000px", padding="8px"))
    state: dict[str, Any] = {}

    def show(widget: w.Widget) -> None:
        body.children = [widget]

    @guarded(show)
    def render() -> None:
        if "indicators" not in state:
            sessions = store.session_table(actor)
            state["counts"] = data_coverage(sessions)  # the same rows as the charts
            state["indicators"] = service_indicators(sessions, by=("team",), period="M")
            state["as_of"] = data_as_of(sessions["session_date"].max() if len(sessions) else None)
        counts, ind = state["counts"], state["indicators"]
        header = w.HTML(f"<h2>{t('app.overview.title')}</h2><p>{t('app.overview.intro')}</p>")
        summary = message(
            t(
                "app.overview.counts",
                teams=counts["teams"],
                clinicians=counts["clinicians"],
                clients=counts["clients"],
                episodes=counts["episodes"],
                sessions=counts["sessions"],
            )
        )
        sessions_ax = trend_chart(
            ind,
            "sessions",
            title=t("app.overview.chart_sessions"),
            ylabel=t("app.overview.sessions"),
            as_of=state["as_of"],
        )
        complete_ax = trend_chart(
            ind,
            "pct_sessions_with_outcome",
            title=t("app.overview.chart_completeness"),
            ylabel=t("app.overview.percent"),
            as_of=state["as_of"],
        )
        sessions_ax.set_ylim(bottom=0)
        complete_ax.set_ylim(0, 100)
        body.children = [
            header,
            summary,
            chart_box(sessions_ax, "okter-per-maned", alt=t("a11y.chart.sessions")),
            chart_box(complete_ax, "ors-fullstendighet", alt=t("a11y.chart.completeness")),
        ]

    root.add_class("kor-app")
    root.children = [page_style(), language_switch(render), body]
    render()
    return root
