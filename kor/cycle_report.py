"""The summary report of an improvement project, as HTML and PDF.

For the leader group and the evaluations of the standardisation phase: the project,
its members, where it stands in the five phases (checklists), its SMART goals with
the letter-by-letter check, each goal's chart with the change log and the
plain-language verdict, notes and decisions, and the evaluation schedule.
No client data: goals are aggregates that the small-cell rule has let through.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kor import cycle
from kor.errors import KorError
from kor.i18n import get_language, t

__all__ = ["ProjectReport", "project_report"]


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _day(value: Any) -> str:
    return "–" if value is None else str(value)[:10]


@dataclass(frozen=True, eq=False)
class ProjectReport:
    """A project summary: build with :func:`project_report`, render with ``to_html``/``to_pdf``.

    evaluations: goal id -> :class:`kor.cycle.Evaluation`, or the catalog key of why
    there is none yet (e.g. too few data).
    """

    project: cycle.Project
    evaluations: dict[int, cycle.Evaluation | str]
    today: date
    language: str = field(default_factory=get_language)

    # ------------------------------------------------------------ text blocks
    def _t(self, key: str, **params: Any) -> str:
        return t(key, language=self.language, **params)

    def _lines(self) -> list[tuple[str, str]]:
        """(style, text) lines shared by the HTML and the PDF: h1, h2, p, li."""
        p, lang = self.project, self.language
        out: list[tuple[str, str]] = [("h1", p.title)]
        out.append(
            (
                "p",
                self._t(
                    "cycle.report.meta",
                    teams=", ".join(p.teams),
                    phase=cycle.phase(p.phase).name(lang),
                    status=self._t(f"cycle.status.{p.status}"),
                    today=self.today.isoformat(),
                ),
            )
        )
        if p.members:
            out.append(("h2", self._t("cycle.app.members")))
            out += [
                ("li", f"{m['name']} – {self._t('cycle.role.' + m['role'])}") for m in p.members
            ]
        out.append(("h2", self._t("cycle.report.phases")))
        for ph in cycle.PHASES:
            rows = p.items(ph.code)
            done = sum(1 for r in rows if r["done"])
            out.append(("h3", f"{ph.name(lang)} ({done}/{len(rows)})"))
            out += [("li", ("☑ " if r["done"] else "☐ ") + cycle.item_text(r, lang)) for r in rows]
            out += [
                ("li", f"{self._t('cycle.kind.' + n['kind'])}: {n['text']} ({n['author']})")
                for n in p.notes
                if n["phase"] == ph.code
            ]
        for goal in p.goals:
            measure = cycle.GOAL_MEASURES.get(goal["measure"])
            name = measure.label(lang) if measure else goal["measure"]
            out.append(("h2", self._t("cycle.report.goal", measure=name, team=goal["team"] or "–")))
            out.append(
                (
                    "p",
                    self._t(
                        "cycle.report.goal_line",
                        baseline=cycle._fmt(goal["baseline"], lang),
                        start=_day(goal["period_start"]),
                        end=_day(goal["period_end"]),
                        target=cycle._fmt(goal["target"], lang),
                        deadline=_day(goal["deadline"]),
                        agreed=goal["agreed_by"] or "–",
                    ),
                )
            )
            for letter, (ok, key) in cycle.smart_check(goal).items():
                mark = "✓" if ok else "✗"
                label = self._t(f"cycle.smart.letter.{letter}")
                out.append(("li", f"{mark} {letter} – {label}: {self._t(key)}"))
            ev = self.evaluations.get(goal["id"])
            if isinstance(ev, cycle.Evaluation):
                out.append(("verdict", ev.text(lang)))
            elif ev:
                out.append(("p", self._t(ev)))
        out.append(("h2", self._t("cycle.app.changes")))
        out += [("li", f"{_day(c['change_date'])}: {c['text']}") for c in p.changes] or [
            ("p", self._t("cycle.app.none"))
        ]
        out.append(("h2", self._t("cycle.app.evaluations")))
        for ev_row in p.evaluations:
            state = (
                self._t(f"cycle.verdict.{ev_row['verdict']}")
                if ev_row.get("done_at")
                else self._t("cycle.app.not_done")
            )
            extra = f" – {ev_row['summary']}" if ev_row.get("summary") else ""
            out.append(("li", f"{_day(ev_row['due'])}: {state}{extra}"))
        if not p.evaluations:
            out.append(("p", self._t("cycle.app.none")))
        return out

    # ------------------------------------------------------------ renderings
    def _chart_png(self, ev: cycle.Evaluation) -> bytes:
        import matplotlib.pyplot as plt

        ax = ev.plot()
        buffer = io.BytesIO()
        ax.figure.savefig(buffer, format="png", dpi=110)
        plt.close(ax.figure)
        return buffer.getvalue()

    def to_html(self) -> str:
        """A self-contained HTML page (charts embedded as PNG)."""
        body: list[str] = []
        in_list = False
        charts = {
            g: self._chart_png(ev)
            for g, ev in self.evaluations.items()
            if isinstance(ev, cycle.Evaluation)
        }
        goal_ids = iter(g["id"] for g in self.project.goals)
        for style, text in self._lines():
            if style == "li" and not in_list:
                body.append("<ul>")
                in_list = True
            if style != "li" and in_list:
                body.append("</ul>")
                in_list = False
            if style == "li":
                body.append(f"<li>{_e(text)}</li>")
            elif style == "verdict":
                gid = next(goal_ids, None)
                while gid is not None and gid not in charts:
                    gid = next(goal_ids, None)
                if gid is not None:
                    data = base64.b64encode(charts[gid]).decode()
                    body.append(
                        f'<img alt="{_e(self._t("cycle.app.chart"))}" style="max-width:100%" '
                        f'src="data:image/png;base64,{data}">'
                    )
                body.append(f'<p class="verdict"><strong>{_e(text)}</strong></p>')
            else:
                body.append(f"<{style}>{_e(text)}</{style}>")
        if in_list:
            body.append("</ul>")
        return (
            f'<!DOCTYPE html><html lang="{self.language}"><head><meta charset="utf-8">'
            f"<title>{_e(self.project.title)}</title><style>body{{font-family:sans-serif;"
            "max-width:900px;margin:auto;padding:1em}.verdict{background:#eef4f8;padding:.6em;"
            "border-left:4px solid #0b4f8a}</style></head><body>"
            + "".join(body)
            + f"<p><small>{_e(self._t('cycle.report.footer'))}</small></p></body></html>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_pdf(self) -> bytes:
        """A4 pages: the text, then one page per goal chart."""
        import matplotlib.pyplot as plt
        from matplotlib.backends.backend_pdf import PdfPages

        buffer = io.BytesIO()
        sizes = {"h1": 15, "h2": 12, "h3": 10.5, "p": 9, "li": 9, "verdict": 9.5}
        with PdfPages(buffer) as pdf:
            fig = plt.figure(figsize=(8.27, 11.69))
            y = 0.95
            for style, text in self._lines():
                prefix = "• " if style == "li" else ""
                wrapped = textwrap.wrap(prefix + text, width=95 if sizes[style] < 10 else 80)
                for line in wrapped or [""]:
                    if y < 0.05:
                        pdf.savefig(fig)
                        plt.close(fig)
                        fig = plt.figure(figsize=(8.27, 11.69))
                        y = 0.95
                    fig.text(
                        0.07,
                        y,
                        line,
                        fontsize=sizes[style],
                        weight="bold" if style in ("h1", "h2", "h3", "verdict") else "normal",
                        va="top",
                    )
                    y -= 0.0125 * sizes[style] / 9 * 1.35
                y -= 0.006 if style in ("h1", "h2") else 0.0
            pdf.savefig(fig)
            plt.close(fig)
            for ev in self.evaluations.values():
                if not isinstance(ev, cycle.Evaluation):
                    continue
                fig = plt.figure(figsize=(11.69, 8.27))
                ax = fig.add_axes((0.08, 0.3, 0.68, 0.6))
                ev.plot(ax=ax)
                fig.text(0.08, 0.2, "\n".join(textwrap.wrap(ev.text(self.language), 130)),
                         fontsize=9, va="top")  # fmt: skip
                pdf.savefig(fig)
                plt.close(fig)
        return buffer.getvalue()


def project_report(
    store: Any,
    actor: Any,
    project_id: int,
    *,
    today: date | None = None,
    language: str | None = None,
) -> ProjectReport:
    """Collect a project and its goals' evaluations from the store into a report."""
    today = today or date.today()
    project = store.project(actor, project_id)
    evaluations: dict[int, cycle.Evaluation | str] = {}
    for goal in project.goals:
        try:
            evaluations[goal["id"]] = store.goal_evaluation(actor, goal["id"], today=today)
        except KorError:
            evaluations[goal["id"]] = "cycle.app.no_chart"
    return ProjectReport(project, evaluations, today, language or get_language())
