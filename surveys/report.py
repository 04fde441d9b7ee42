"""The dialogue-conference report (HTML and PDF) and proposed improvement projects.

The report follows the conference's agenda: what users said, where users and staff see
the service differently, what changed since the last round, chosen quotes, and a page of
questions for the discussion. It never holds free text that is not approved: the
comments are filtered on ``approved`` *here*, whatever the caller passes in, and only
those also chosen as quotes are shown, identical ones once with how many said it
(:func:`surveys.free_text.merge_identical`). Groups under 5 respondents are suppressed by
the analysis functions the report is built from.

Numbers are written with a decimal comma in bokmål («3,4», «< 0,001») and a point in
English. The questions for the conference are built only from what the data can carry:
a user-staff gap (or a round-to-round improvement) becomes a question only when it is
*significant after adjustment*, i.e. its Brunner-Munzel p-value, Holm-adjusted across
all paired questions compared in the round (:func:`surveys.analysis.holm_adjust`), is
below 0.05: the ``significant`` column of :func:`surveys.analysis.gaps` /
:func:`~surveys.analysis.changes`. The wording follows the item's scale: «mer enige» for
an agree-disagree item, «høyere skår (av 10)» for a 0-10 item.

Proposed improvement projects are in :mod:`surveys.improvements`.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kor.i18n import get_language, t
from kor.plotting import figure_bytes
from surveys import analysis, plotting
from surveys.forms import Questionnaire
from surveys.free_text import merge_identical

__all__ = ["DialogueReport", "build_report", "discussion_questions", "previous_survey"]


@dataclass
class DialogueReport:
    """Everything the report shows, computed once; render with :meth:`to_html`/:meth:`to_pdf`."""

    form: Questionnaire
    title: str
    service: str
    round: str
    language: str
    counts: dict[str, int]
    user_distribution: pd.DataFrame
    user_summary: pd.DataFrame
    gaps: pd.DataFrame
    top_gaps: pd.DataFrame
    changes: pd.DataFrame | None
    top_improvements: pd.DataFrame | None
    quotes: pd.DataFrame  # theme, respondent, text, count (identical quotes merged)
    themes: pd.DataFrame
    theme_labels: dict[str, str]
    questions: list[str] = field(default_factory=list)

    # ------------------------------------------------------------ charts
    def charts(self) -> list[tuple[str, Any]]:
        """(caption, Axes) in report order."""
        lang = self.language
        out = [
            (
                t("surveys.report.chart_users", language=lang),
                plotting.likert_bars(self.user_distribution, self.form, language=lang),
            )
        ]
        out.append(
            (
                t("surveys.report.chart_gaps", language=lang),
                plotting.gap_chart(self.gaps, self.form, language=lang),
            )
        )
        if self.changes is not None and len(self.changes):
            out.append(
                (
                    t("surveys.report.chart_change", language=lang),
                    plotting.change_chart(self.changes, self.form, language=lang),
                )
            )
        return out

    def _label(self, question: str) -> str:
        return self.form.question(question).label(self.language)

    # -------------------------------------------------------------- HTML
    def to_html(self) -> str:
        """A self-contained HTML page (charts embedded as PNG)."""
        lang = self.language
        esc = html.escape
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{lang}"><head><meta charset="utf-8"><title>{esc(self.title)}</title>',
            "<style>body{font-family:sans-serif;max-width:960px;margin:auto;padding:16px}"
            "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #bbb;"
            "padding:4px 8px;font-size:0.9em}blockquote{border-left:4px solid #018571;"
            "margin:8px 0;padding:4px 12px}.page{page-break-before:always}"
            "img{max-width:100%}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
            f"<p>{esc(self._intro())}</p>",
        ]
        charts = self.charts()
        parts.append(f"<h2>{esc(t('surveys.report.users_said', language=lang))}</h2>")
        parts.append(_img(charts[0][1], charts[0][0]))
        parts.append(self._summary_table_html())
        parts.append(f"<h2>{esc(t('surveys.report.differ', language=lang))}</h2>")
        parts.append(f"<p>{esc(t('surveys.report.differ_intro', language=lang))}</p>")
        parts.append(_img(charts[1][1], charts[1][0]))
        parts.append(self._gap_table_html())
        if len(charts) > 2:
            parts.append(f"<h2>{esc(t('surveys.report.changed', language=lang))}</h2>")
            parts.append(_img(charts[2][1], charts[2][0]))
            parts.append(self._change_table_html())
        parts.append(f"<h2>{esc(t('surveys.report.quotes', language=lang))}</h2>")
        if len(self.quotes):
            for theme, group in self.quotes.groupby("theme", sort=False):
                parts.append(f"<h3>{esc(self.theme_labels.get(theme, theme))}</h3>")
                for row in group.itertuples(index=False):
                    parts.append(
                        f"<blockquote>«{esc(row.text)}» <small>({esc(self._who(row))})"
                        "</small></blockquote>"
                    )
        else:
            parts.append(f"<p>{esc(t('surveys.report.no_quotes', language=lang))}</p>")
        parts.append(f'<h2 class="page">{esc(t("surveys.report.discussion", language=lang))}</h2>')
        parts.append("<ol>" + "".join(f"<li>{esc(q)}</li>" for q in self.questions) + "</ol>")
        parts.append(
            f"<p><small>{esc(t('surveys.report.method_note', language=lang))}"
            "</small></p></body></html>"
        )
        return "\n".join(parts)

    def _who(self, row: Any) -> str:
        """«Bruker» or «Bruker; 3 sa det samme» for a quote given by several."""
        who = t("surveys.respondent." + row.respondent, language=self.language)
        if int(getattr(row, "count", 1)) > 1:
            same = t("surveys.report.quote_count", language=self.language, count=int(row.count))
            return f"{who}; {same}"
        return who

    def _intro(self) -> str:
        return t(
            "surveys.report.intro",
            language=self.language,
            service=self.service,
            round=t("surveys.round." + self.round, language=self.language),
            users=self._count("user"),
            staff=self._count("staff"),
        )

    def _count(self, respondent: str) -> str:
        n = self.counts.get(respondent, 0)
        return (
            str(n) if n >= analysis.MIN_GROUP else t("surveys.fewer_than_5", language=self.language)
        )

    def _summary_table_html(self) -> str:
        lang = self.language
        head = [
            t("surveys.col.question", language=lang),
            "n",
            t("surveys.col.mean", language=lang),
            t("surveys.col.pct_agree", language=lang),
            t("surveys.col.no_opinion", language=lang),
        ]
        rows = []
        for r in self.user_summary.itertuples(index=False):
            rows.append(
                [
                    self._label(r.question),
                    str(r.n),
                    _fmt(r.mean, language=lang),
                    _fmt(r.pct_agree, 0, language=lang),
                    str(r.n_no_opinion),
                ]
            )
        return _table(head, rows)

    def _gap_table_html(self) -> str:
        lang = self.language
        head = [
            "#",
            t("surveys.col.question", language=lang),
            t("surveys.col.users", language=lang),
            t("surveys.col.staff", language=lang),
            t("surveys.col.gap", language=lang),
            t("surveys.col.ci", language=lang),
            t("surveys.col.p_adjusted", language=lang),
        ]
        rows = [
            [
                str(r.rank),
                self._label(r.question),
                _fmt(r.mean_user, language=lang),
                _fmt(r.mean_staff, language=lang),
                _fmt(r.gap, signed=True, language=lang),
                f"{_fmt(r.ci_low, signed=True, language=lang)}; "
                f"{_fmt(r.ci_high, signed=True, language=lang)}",
                _p(r.p_adjusted, language=lang),
            ]
            for r in self.top_gaps.itertuples(index=False)
        ]
        return _table(head, rows)

    def _change_table_html(self) -> str:
        lang = self.language
        head = [
            "#",
            t("surveys.col.question", language=lang),
            t("surveys.round.baseline", language=lang),
            t("surveys.round.follow_up", language=lang),
            t("surveys.col.change", language=lang),
            t("surveys.col.p_adjusted", language=lang),
        ]
        table = self.top_improvements if self.top_improvements is not None else pd.DataFrame()
        rows = [
            [
                str(r.rank),
                self._label(r.question),
                _fmt(r.mean_before, language=lang),
                _fmt(r.mean_after, language=lang),
                _fmt(r.change, signed=True, language=lang),
                _p(r.p_adjusted, language=lang),
            ]
            for r in table.itertuples(index=False)
        ]
        return _table(head, rows)

    # --------------------------------------------------------------- PDF
    def to_pdf(self) -> bytes:
        """The same content as a PDF (matplotlib's PdfPages: no extra dependency)."""
        from matplotlib.backends.backend_pdf import PdfPages

        lang = self.language
        buffer = io.BytesIO()
        with PdfPages(buffer) as pdf:
            pdf.savefig(
                _text_page(
                    self.title, [self._intro(), "", t("surveys.report.differ_intro", language=lang)]
                )
            )
            for caption, ax in self.charts():
                ax.set_title(caption, pad=24)
                pdf.savefig(ax.figure)
            lines = []
            for theme, group in self.quotes.groupby("theme", sort=False):
                lines.append(f"## {self.theme_labels.get(theme, theme)}")
                for row in group.itertuples(index=False):
                    lines.append(f"«{row.text}» ({self._who(row)})")
                lines.append("")
            if not lines:
                lines = [t("surveys.report.no_quotes", language=lang)]
            pdf.savefig(_text_page(t("surveys.report.quotes", language=lang), lines))
            pdf.savefig(
                _text_page(
                    t("surveys.report.discussion", language=lang),
                    [f"{i}. {q}" for i, q in enumerate(self.questions, 1)],
                )
            )
            info = pdf.infodict()
            info["Title"] = self.title
        return buffer.getvalue()


def _text_page(title: str, lines: list[str]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.27, 11.69))
    fig.text(0.08, 0.94, title, fontsize=16, fontweight="bold", va="top")
    y = 0.89
    for line in lines:
        bold = line.startswith("## ")
        for piece in textwrap.wrap(line.removeprefix("## "), 90) or [""]:
            fig.text(0.08, y, piece, fontsize=10, va="top", fontweight="bold" if bold else "normal")
            y -= 0.022
            if y < 0.05:
                return fig
    return fig


def _img(ax: Any, caption: str) -> str:
    data = base64.b64encode(figure_bytes(ax, "png")).decode()
    alt = html.escape(caption)
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{data}"><figcaption>{alt}'
        "</figcaption></figure>"
    )


def _table(head: list[str], rows: list[list[str]]) -> str:
    esc = html.escape
    return (
        "<table><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + "</tr>"
        + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
        + "</table>"
    )


def _fmt(value: Any, digits: int = 1, *, signed: bool = False, language: str | None = None) -> str:
    """A number with ``digits`` decimals: a decimal comma in bokmål, «–» when missing."""
    if value is None or pd.isna(value):
        return "–"
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text.replace(".", ",") if (language or get_language()) == "nb" else text


def _p(value: Any, *, language: str | None = None) -> str:
    if value is None or pd.isna(value):
        return "–"
    text = "< 0.001" if value < 0.001 else f"{value:.3f}"
    return text.replace(".", ",") if (language or get_language()) == "nb" else text


def _scale(form: Questionnaire, question: str) -> tuple[str, str]:
    """(wording, top of the scale) for ``question``: ``"agreement"`` for a Likert item whose
    top choice says «enig»/«agree», ``"score"`` for any other scored item (a 0-10 range,
    a satisfaction scale)."""
    q = form.question(question)
    if form.is_likert(question):
        scored = [c for c in form.choice_list(question) if c.score is not None]
        top = max(scored, key=lambda c: c.score)
        labels = " ".join(top.labels.values()).casefold()
        kind = "agreement" if "enig" in labels or "agree" in labels else "score"
        return kind, _fmt(top.score, 0, language="en")
    end = q.end if q.end is not None else 10.0
    return "score", f"{end:g}"


def discussion_questions(
    top_gaps: pd.DataFrame,
    user_summary: pd.DataFrame,
    form: Questionnaire,
    *,
    language: str | None = None,
    top_improvements: pd.DataFrame | None = None,
) -> list[str]:
    """Questions for the conference: from gaps and improvements that are significant
    after adjustment, and from the lowest-rated items.

    top_gaps: :func:`surveys.analysis.largest_gaps`; only rows with ``significant`` True
    (Holm-adjusted Brunner-Munzel p < 0.05, see the module docstring) become questions,
    at most three, largest first. When none is, one question says so, so that the
    conference does not read meaning into noise. top_improvements:
    :func:`surveys.analysis.largest_improvements`; the largest *significant* one
    becomes a question. user_summary: :func:`surveys.analysis.item_summary` of the
    users; its two lowest Likert means become questions (descriptive, no test). The
    wording fits the item's scale (:func:`_scale`), numbers have a decimal comma in
    bokmål.
    """
    lang = language or get_language()
    out = []
    significant = top_gaps[top_gaps["significant"].astype(bool)] if len(top_gaps) else top_gaps
    for r in significant.head(3).itertuples(index=False):
        kind, top = _scale(form, r.question)
        higher = "staff_higher" if r.gap > 0 else "users_higher"
        key = f"surveys.discuss.{higher}" + ("" if kind == "agreement" else "_score")
        out.append(
            t(
                key,
                language=lang,
                item=form.question(r.question).label(lang),
                user=_fmt(r.mean_user, language=lang),
                staff=_fmt(r.mean_staff, language=lang),
                top=top,
            )
        )
    if not len(significant):
        out.append(t("surveys.discuss.no_clear_gaps", language=lang))
    likert = user_summary[
        user_summary["question"].map(form.is_likert).astype(bool)
        & ~user_summary["suppressed"].astype(bool)
    ]
    for r in likert.nsmallest(2, "mean").itertuples(index=False):
        out.append(
            t(
                "surveys.discuss.lowest",
                language=lang,
                item=form.question(r.question).label(lang),
                mean=_fmt(r.mean, language=lang),
            )
        )
    if top_improvements is not None and len(top_improvements):
        better = top_improvements[top_improvements["significant"].astype(bool)]
        for r in better.head(1).itertuples(index=False):
            out.append(
                t(
                    "surveys.discuss.improved",
                    language=lang,
                    item=form.question(r.question).label(lang),
                )
            )
    out.append(t("surveys.discuss.choose", language=lang))
    return out


def build_report(
    answers: pd.DataFrame,
    comments: pd.DataFrame,
    form: Questionnaire,
    *,
    title: str,
    service: str,
    round: str,
    previous_round: str | None = None,
    theme_labels: dict[str, str] | None = None,
    language: str | None = None,
    min_n: int = analysis.MIN_GROUP,
) -> DialogueReport:
    """Compute the report of ``round`` (and its change from ``previous_round`` if given).

    answers: :meth:`kor.store.Store.survey_answers` of the round (and the previous one);
    comments: :meth:`kor.store.Store.survey_comments`; unapproved ones are dropped here.
    min_n: groups with fewer scored answers are suppressed (default 5) in every table
    and chart. Returns a :class:`DialogueReport` (render with ``to_html()`` /
    ``to_pdf()``) whose tables come from :func:`surveys.analysis.item_summary`,
    :func:`~surveys.analysis.gaps` and :func:`~surveys.analysis.changes` (Welch CI,
    Brunner-Munzel test, Holm adjustment: see their references), in scale points.
    """
    lang = language or get_language()
    this = answers[answers["round"] == round]
    counts = this.groupby("respondent")["response_id"].nunique().to_dict()
    dist = analysis.distributions(this, form, min_n=min_n)
    user_dist = dist[dist["respondent"] == "user"]
    summary = analysis.item_summary(this, form, min_n=min_n)
    user_summary = summary[summary["respondent"] == "user"].reset_index(drop=True)
    gap_table = analysis.gaps(this, form, min_n=min_n)
    top = analysis.largest_gaps(gap_table)
    change = improvements = None
    if previous_round is not None and (answers["round"] == previous_round).any():
        change = analysis.changes(
            answers, form, respondent="user", before=previous_round, after=round, min_n=min_n
        )
        improvements = analysis.largest_improvements(change)
    safe = comments[comments["approved"].astype(bool)] if len(comments) else comments
    if len(safe):
        safe = safe[safe["quote"].astype(bool) & (safe["round"] == round)]
    quotes = merge_identical(
        pd.DataFrame(
            {
                "theme": [(list(x) or [""])[0] for x in safe["themes"]] if len(safe) else [],
                "respondent": list(safe["respondent"]) if len(safe) else [],
                "text": list(safe["text"]) if len(safe) else [],
            }
        )
    )
    approved = comments[comments["approved"].astype(bool)] if len(comments) else comments
    themes = (
        analysis.theme_counts(approved[approved["round"] == round])
        if len(approved)
        else pd.DataFrame(columns=["respondent", "theme", "comments"])
    )
    report = DialogueReport(
        form=form,
        title=title,
        service=service,
        round=round,
        language=lang,
        counts={k: int(v) for k, v in counts.items()},
        user_distribution=user_dist,
        user_summary=user_summary,
        gaps=gap_table,
        top_gaps=top,
        changes=change,
        top_improvements=improvements,
        quotes=quotes,
        themes=themes,
        theme_labels=theme_labels or {k: v.get(lang, k) for k, v in form.themes().items()},
    )
    report.questions = discussion_questions(
        top, user_summary, form, language=lang, top_improvements=improvements
    )
    return report


def previous_survey(surveys: pd.DataFrame, survey_id: int) -> int | None:
    """The baseline survey a follow-up round is compared with: same service and form,
    round ``baseline``, the newest before it; None for a baseline round.

    surveys: :meth:`kor.store.Store.surveys`.
    """
    this = surveys[surveys["id"] == survey_id]
    if this.empty:
        return None
    row = this.iloc[0]
    if row["round"] == "baseline":
        return None
    earlier = surveys[
        (surveys["service"] == row["service"])
        & (surveys["form_id"] == row["form_id"])
        & (surveys["round"] == "baseline")
        & (surveys["id"] != survey_id)
    ]
    return None if earlier.empty else int(earlier["id"].iloc[-1])
