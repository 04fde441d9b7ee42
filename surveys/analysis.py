"""Analysis of «Bruker spør bruker» answers: pure functions, DataFrame in, DataFrame out.

The input is the long answer frame :meth:`kor.store.Store.survey_answers` returns (a
researcher may build the same frame by hand): one row per answer with ``response_id``,
``round``, ``respondent`` (``user``/``staff``), ``question`` and ``value_text`` (the choice
name(s) or the number as text), plus the :class:`~surveys.forms.Questionnaire`.

Scores: a Likert choice scores its numeric name (1-5); «vet ikke»/«ikke aktuelt» are
*counted* (``n_no_opinion``) but never scored; 0-10 scales score their value.

Why these statistics. Likert answers are ordinal, the groups are small and of unequal
size (about 40 users, 15 staff) with unequal spread, and the respondents of two rounds
are different people. So every comparison reports

* the difference in means with a Welch confidence interval (easy to read in a meeting),
* the probability of superiority P(X > Y) + ½P(X = Y) with its confidence interval and
  the Brunner–Munzel test (statsmodels ``rank_compare_2indep``): a rank method that needs
  neither interval scales nor equal variances, and handles the many ties of a 5-point
  scale (Brunner & Munzel 2000; Karch 2021 recommends it over Mann–Whitney's U for
  exactly this case), and
* Holm-adjusted p-values across the questions compared (Holm 1979), so that «the largest
  gaps» are not just the luckiest of twelve tests.

Every group with fewer than ``min_n`` (default 5) scored answers is suppressed: its
statistics are NA and ``suppressed`` is True, in every table and therefore every chart
and report built from them.

References:
Brunner E, Munzel U. The nonparametric Behrens-Fisher problem: asymptotic theory and a
small-sample approximation. Biom J 2000;42(1):17-25.
doi:10.1002/(SICI)1521-4036(200001)42:1<17::AID-BIMJ17>3.0.CO;2-U
Karch JD. Psychologists should use Brunner-Munzel's instead of Mann-Whitney's U test as
the default nonparametric procedure. Adv Methods Pract Psychol Sci 2021;4(2).
doi:10.1177/2515245920960227
Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat
1979;6(2):65-70.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from surveys.forms import Questionnaire

__all__ = [
    "MIN_GROUP",
    "score_answers",
    "distributions",
    "item_summary",
    "holm_adjust",
    "compare_groups",
    "gaps",
    "changes",
    "largest_gaps",
    "largest_improvements",
    "theme_counts",
]

#: Groups with fewer scored answers than this are suppressed.
MIN_GROUP = 5
_COMPARE_COLUMNS = [
    "question",
    "n_a",
    "n_b",
    "mean_a",
    "mean_b",
    "difference",
    "ci_low",
    "ci_high",
    "prob_superiority",
    "ps_ci_low",
    "ps_ci_high",
    "p_value",
    "p_adjusted",
    "significant",
    "suppressed",
]


def score_answers(answers: pd.DataFrame, form: Questionnaire) -> pd.DataFrame:
    """Add ``score`` (float, NaN when not scored) and ``no_opinion`` (bool) to the answers.

    ``no_opinion`` marks a choice of a scored question that carries no score («vet ikke»,
    «ikke aktuelt»). Questions the form does not know are dropped.

    >>> from surveys.forms import default_form
    >>> f = default_form()
    >>> a = pd.DataFrame({"question": ["u_heard", "u_heard"], "value_text": ["4", "vet_ikke"]})
    >>> score_answers(a, f)[["score", "no_opinion"]].values.tolist()
    [[4.0, False], [nan, True]]
    """
    out = answers[answers["question"].map(form.has)].copy()
    scores = np.full(len(out), np.nan)
    no_opinion = np.zeros(len(out), dtype=bool)
    for i, (question, value) in enumerate(zip(out["question"], out["value_text"], strict=True)):
        if not form.is_scored(question) or value is None or pd.isna(value):
            continue
        q = form.question(question)
        if q.type == "select_one":
            choice = next((c for c in form.choice_list(question) if c.name == value), None)
            if choice is not None and choice.score is not None:
                scores[i] = choice.score
            else:
                no_opinion[i] = True
        else:
            try:
                scores[i] = float(value)
            except ValueError:
                no_opinion[i] = True
    out["score"] = scores
    out["no_opinion"] = no_opinion
    return out


def distributions(
    answers: pd.DataFrame,
    form: Questionnaire,
    *,
    by: Sequence[str] = ("round", "respondent"),
    min_n: int = MIN_GROUP,
) -> pd.DataFrame:
    """Share of each answer option per question and group (for stacked bars).

    Returns one row per group x question x option with columns ``*by``, ``question``,
    ``choice`` (name; for a 0-10 scale the value), ``order`` (position of the option),
    ``scored`` (False for «vet ikke»-type options), ``count``, ``n`` (respondents who
    answered the question in the group), ``percent`` (of ``n``; for multiple choice the
    share of respondents choosing the option) and ``suppressed`` (n < ``min_n``: count
    and percent are NA).
    """
    by = list(by)
    rows = []
    for keys, part in answers[answers["question"].map(form.has)].groupby(
        by + ["question"], sort=False
    ):
        keys = keys if isinstance(keys, tuple) else (keys,)
        question = keys[-1]
        q = form.question(question)
        if q.type in ("text", "note"):
            continue
        values = part["value_text"].dropna().astype(str)
        n = int(part["response_id"].nunique()) if "response_id" in part else len(values)
        if q.type in ("select_one", "select_multiple"):
            options = [
                (c.name, c.score is not None or q.type == "select_multiple")
                for c in form.choice_list(question)
            ]
            tokens = (
                values.str.split() if q.type == "select_multiple" else values.map(lambda v: [v])
            )
            counts = pd.Series([t for ts in tokens for t in ts], dtype=object).value_counts()
        else:
            start, end, step = q.start or 0.0, q.end or 10.0, q.step or 1.0
            grid = np.arange(start, end + step / 2, step)
            options = [(_num(v), True) for v in grid]
            counts = pd.to_numeric(values, errors="coerce").map(_num).value_counts()
        suppressed = n < min_n
        for order, (name, scored) in enumerate(options):
            count = int(counts.get(name, 0))
            rows.append(
                {
                    **dict(zip(by, keys[:-1], strict=True)),
                    "question": question,
                    "choice": name,
                    "order": order,
                    "scored": scored,
                    "count": pd.NA if suppressed else count,
                    "n": n,
                    "percent": pd.NA if suppressed or n == 0 else 100.0 * count / n,
                    "suppressed": suppressed,
                }
            )
    columns = by + ["question", "choice", "order", "scored", "count", "n", "percent", "suppressed"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["percent"] = pd.to_numeric(frame["percent"], errors="coerce").astype(float)
    frame["count"] = frame["count"].astype("Int64")
    return frame


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def item_summary(
    answers: pd.DataFrame,
    form: Questionnaire,
    *,
    by: Sequence[str] = ("round", "respondent"),
    min_n: int = MIN_GROUP,
) -> pd.DataFrame:
    """Mean, SD, median and share agreeing per scored question and group.

    Returns ``*by``, ``question``, ``section``, ``n`` (scored answers), ``n_no_opinion``,
    ``mean``, ``sd``, ``median``, ``pct_agree`` (share of scored answers in the top two
    options of a Likert item, NA for other scales) and ``suppressed`` (n < ``min_n``).

    Units: ``mean``, ``sd`` (ddof=1) and ``median`` in scale points (1-5 Likert, 0-10
    range); ``pct_agree`` in %, 0-100. «Vet ikke»/«ikke aktuelt» are counted in
    ``n_no_opinion``, never scored. Descriptive only; for tests see :func:`gaps` and
    :func:`changes`.
    """
    by = list(by)
    scored = score_answers(answers, form)
    scored = scored[scored["question"].map(form.is_scored)]
    rows = []
    for keys, part in scored.groupby(by + ["question"], sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        question = keys[-1]
        values = part["score"].dropna().to_numpy(float)
        n = len(values)
        suppressed = n < min_n
        top = None
        if form.is_likert(question) and n:
            scores = sorted(c.score for c in form.choice_list(question) if c.score is not None)
            top = 100.0 * float(np.isin(values, scores[-2:]).mean())
        rows.append(
            {
                **dict(zip(by, keys[:-1], strict=True)),
                "question": question,
                "section": form.question(question).section,
                "n": n,
                "n_no_opinion": int(part["no_opinion"].sum()),
                "mean": np.nan if suppressed else float(values.mean()),
                "sd": np.nan if suppressed else float(values.std(ddof=1)),
                "median": np.nan if suppressed else float(np.median(values)),
                "pct_agree": np.nan if suppressed or top is None else top,
                "suppressed": suppressed,
            }
        )
    return pd.DataFrame(
        rows,
        columns=by
        + [
            "question",
            "section",
            "n",
            "n_no_opinion",
            "mean",
            "sd",
            "median",
            "pct_agree",
            "suppressed",
        ],
    )


def _welch_ci(a: np.ndarray, b: np.ndarray, alpha: float) -> tuple[float, float]:
    from scipy import stats

    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    diff = a.mean() - b.mean()
    if se == 0:
        return diff, diff
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(1 - alpha / 2, df) * se
    return diff - half, diff + half


def _rank_compare(a: np.ndarray, b: np.ndarray, alpha: float) -> tuple[float, float, float, float]:
    """P(A > B) + ½P(A = B), its CI (clipped to 0-1) and the Brunner-Munzel p-value."""
    from statsmodels.stats.nonparametric import rank_compare_2indep

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = rank_compare_2indep(a, b, use_t=True)
        low, high = result.conf_int(alpha=alpha)
    prob = float(result.prob1)
    p = float(result.pvalue)
    if np.isnan(p):  # no spread in either group: the test is undefined
        p = 1.0 if prob == 0.5 else np.nan
        low = high = prob
    return prob, float(np.clip(low, 0, 1)), float(np.clip(high, 0, 1)), p


def holm_adjust(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of ``p`` (NaN p-values are left out and stay NaN).

    With the m p-values sorted, p_(1) <= ... <= p_(m), the adjusted value of the i-th is
    max over j <= i of min(1, (m - j + 1) p_(j)). A result is *significant after
    adjustment* when its adjusted value is below alpha; this is what ``significant``
    means in :func:`gaps` and :func:`changes` (and what the report's conference
    questions use). Holm controls the family-wise error rate like Bonferroni, and is
    never less powerful.

    Worked example (m = 4): 0.01 x 4 = 0.04; 0.03 x 3 = 0.09; 0.04 x 2 = 0.08, raised to
    the running maximum 0.09; 0.20 x 1 = 0.20. Three raw p-values are below 0.05, only
    one adjusted value is.

    >>> holm_adjust([0.01, 0.04, 0.03, 0.20]).round(2).tolist()
    [0.04, 0.09, 0.09, 0.2]

    References: Holm S. Scand J Stat 1979;6(2):65-70.
    """
    p = np.asarray(p, float)
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if len(ok) == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out


def compare_groups(
    pairs: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    min_n: int = MIN_GROUP,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Compare group A with group B for each (name, a scores, b scores).

    Returns :data:`_COMPARE_COLUMNS`: ``difference`` = mean A - mean B with its Welch CI;
    ``prob_superiority`` = P(A > B) + ½P(A = B) with CI; Brunner-Munzel ``p_value``;
    ``p_adjusted`` (Holm, :func:`holm_adjust`, over the non-suppressed rows);
    ``significant`` (p_adjusted < alpha: significant after adjustment); ``suppressed``
    when either group has fewer than ``min_n`` scores.

    References
    ----------
    Brunner E, Munzel U. Biom J 2000;42(1):17-25.
    doi:10.1002/(SICI)1521-4036(200001)42:1<17::AID-BIMJ17>3.0.CO;2-U
    Welch BL. The generalization of "Student's" problem when several different
    population variances are involved. Biometrika 1947;34(1-2):28-35.
    doi:10.1093/biomet/34.1-2.28
    Holm S. Scand J Stat 1979;6(2):65-70.
    """
    rows = []
    for name, a, b in pairs:
        a = np.asarray(a, float)[~np.isnan(np.asarray(a, float))]
        b = np.asarray(b, float)[~np.isnan(np.asarray(b, float))]
        suppressed = len(a) < min_n or len(b) < min_n
        row = {"question": name, "n_a": len(a), "n_b": len(b), "suppressed": suppressed}
        if suppressed:
            row.update(
                mean_a=np.nan,
                mean_b=np.nan,
                difference=np.nan,
                ci_low=np.nan,
                ci_high=np.nan,
                prob_superiority=np.nan,
                ps_ci_low=np.nan,
                ps_ci_high=np.nan,
                p_value=np.nan,
            )
        else:
            low, high = _welch_ci(a, b, alpha)
            prob, ps_low, ps_high, p = _rank_compare(a, b, alpha)
            row.update(
                mean_a=a.mean(),
                mean_b=b.mean(),
                difference=a.mean() - b.mean(),
                ci_low=low,
                ci_high=high,
                prob_superiority=prob,
                ps_ci_low=ps_low,
                ps_ci_high=ps_high,
                p_value=p,
            )
        rows.append(row)
    frame = pd.DataFrame(
        rows, columns=[c for c in _COMPARE_COLUMNS if c not in ("p_adjusted", "significant")]
    )
    frame["p_adjusted"] = holm_adjust(frame["p_value"].to_numpy(float))
    frame["significant"] = (frame["p_adjusted"] < alpha).fillna(False).astype(bool)
    return frame[_COMPARE_COLUMNS]


def gaps(
    answers: pd.DataFrame,
    form: Questionnaire,
    *,
    round: str | None = None,
    min_n: int = MIN_GROUP,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """User-vs-staff gap per paired scored question (one round, or all answers given).

    ``gap`` = staff mean - user mean: positive when staff believe users experience the
    service better than users say they do. Columns: ``question`` (user question),
    ``staff_question``, ``section``, ``n_user``, ``n_staff``, ``mean_user``, ``mean_staff``,
    ``gap``, ``ci_low``, ``ci_high``, ``prob_superiority`` (P(staff > user) + ½ ties) with
    ``ps_ci_low``/``ps_ci_high``, ``p_value`` (Brunner-Munzel), ``p_adjusted`` (Holm across
    the pairs), ``significant``, ``suppressed``. Form order.

    Units: means, ``gap`` and its Welch CI (level ``1 - alpha``) are in scale points of
    the question (1-5 for the Likert items, 0-10 for a range), so ``gap`` lies in -4..4
    on a Likert item; ``prob_superiority`` and its CI are probabilities 0-1 (0.5 = no
    difference); p-values 0-1. A pair where either group has fewer than ``min_n``
    scored answers is ``suppressed`` (its statistics NA). See :func:`compare_groups`.

    References
    ----------
    Brunner E, Munzel U. Biom J 2000;42(1):17-25.
    doi:10.1002/(SICI)1521-4036(200001)42:1<17::AID-BIMJ17>3.0.CO;2-U
    Welch BL. The generalization of "Student's" problem when several different
    population variances are involved. Biometrika 1947;34(1-2):28-35.
    doi:10.1093/biomet/34.1-2.28
    Holm S. Scand J Stat 1979;6(2):65-70.

    Examples
    --------
    >>> from surveys.sample import generate
    >>> s = generate()
    >>> a = s.answers.rename(columns={"response": "response_id", "value": "value_text"})
    >>> g = gaps(a, s.form, round="baseline")
    >>> g.loc[g["significant"], "question"].tolist()
    ['u_info_service']
    """
    data = answers if round is None else answers[answers["round"] == round]
    scored = score_answers(data, form)
    triples = []
    meta = []
    for user_q, staff_q in form.pairs():
        if not form.is_scored(user_q):
            continue
        user = scored.loc[
            (scored["question"] == user_q) & (scored["respondent"] == "user"), "score"
        ].to_numpy(float)
        staff = scored.loc[
            (scored["question"] == staff_q) & (scored["respondent"] == "staff"), "score"
        ].to_numpy(float)
        triples.append((user_q, staff, user))
        meta.append((staff_q, form.question(user_q).section))
    result = compare_groups(triples, min_n=min_n, alpha=alpha)
    result.insert(1, "staff_question", [m[0] for m in meta])
    result.insert(2, "section", [m[1] for m in meta])
    return result.rename(
        columns={
            "n_a": "n_staff",
            "n_b": "n_user",
            "mean_a": "mean_staff",
            "mean_b": "mean_user",
            "difference": "gap",
        }
    )[
        [
            "question",
            "staff_question",
            "section",
            "n_user",
            "n_staff",
            "mean_user",
            "mean_staff",
            "gap",
            "ci_low",
            "ci_high",
            "prob_superiority",
            "ps_ci_low",
            "ps_ci_high",
            "p_value",
            "p_adjusted",
            "significant",
            "suppressed",
        ]
    ]


def changes(
    answers: pd.DataFrame,
    form: Questionnaire,
    *,
    respondent: str = "user",
    before: str = "baseline",
    after: str = "follow_up",
    min_n: int = MIN_GROUP,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Round-to-round change per scored question of one respondent group.

    The respondents of two rounds are different people, so the rounds are compared as
    independent samples. ``change`` = mean after - mean before (positive = better).
    Columns: ``question``, ``section``, ``n_before``, ``n_after``, ``mean_before``,
    ``mean_after``, ``change``, ``ci_low``, ``ci_high``, ``prob_superiority`` (P(after >
    before) + ½ ties) with CI, ``p_value`` (Brunner-Munzel), ``p_adjusted`` (Holm),
    ``significant``, ``suppressed``.

    Units: means, ``change`` and its Welch CI are in scale points (1-5 Likert, 0-10
    range); ``prob_superiority`` is a probability 0-1 (0.5 = no change). ``before`` /
    ``after`` name values of the ``round`` column.

    References
    ----------
    Brunner E, Munzel U. Biom J 2000;42(1):17-25.
    doi:10.1002/(SICI)1521-4036(200001)42:1<17::AID-BIMJ17>3.0.CO;2-U
    Welch BL. The generalization of "Student's" problem when several different
    population variances are involved. Biometrika 1947;34(1-2):28-35.
    doi:10.1093/biomet/34.1-2.28
    Holm S. Scand J Stat 1979;6(2):65-70.

    Examples
    --------
    >>> from surveys.sample import generate
    >>> s = generate()
    >>> a = s.answers.rename(columns={"response": "response_id", "value": "value_text"})
    >>> c = changes(a, s.form)
    >>> c.loc[c["significant"], "question"].tolist()
    ['u_heard']
    """
    scored = score_answers(answers[answers["respondent"] == respondent], form)
    triples = []
    for q in form.for_respondent(respondent):
        if q.type == "note" or not form.is_scored(q.name) or q.respondent != respondent:
            continue
        this = scored[scored["question"] == q.name]
        triples.append(
            (
                q.name,
                this.loc[this["round"] == after, "score"].to_numpy(float),
                this.loc[this["round"] == before, "score"].to_numpy(float),
            )
        )
    result = compare_groups(triples, min_n=min_n, alpha=alpha)
    result.insert(1, "section", [form.question(t[0]).section for t in triples])
    return result.rename(
        columns={
            "n_a": "n_after",
            "n_b": "n_before",
            "mean_a": "mean_after",
            "mean_b": "mean_before",
            "difference": "change",
        }
    )[
        [
            "question",
            "section",
            "n_before",
            "n_after",
            "mean_before",
            "mean_after",
            "change",
            "ci_low",
            "ci_high",
            "prob_superiority",
            "ps_ci_low",
            "ps_ci_high",
            "p_value",
            "p_adjusted",
            "significant",
            "suppressed",
        ]
    ]


def largest_gaps(gap_table: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` pairs with the largest absolute gap (suppressed pairs left out), with
    ``rank`` 1.. (ties broken by the smaller p-value)."""
    table = gap_table[~gap_table["suppressed"]].assign(abs_gap=lambda d: d["gap"].abs())
    table = table.sort_values(["abs_gap", "p_value"], ascending=[False, True]).head(n)
    return (
        table.drop(columns="abs_gap").assign(rank=range(1, len(table) + 1)).reset_index(drop=True)
    )


def largest_improvements(change_table: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The ``n`` questions with the largest positive change, ranked (suppressed left out)."""
    table = change_table[~change_table["suppressed"] & (change_table["change"] > 0)]
    table = table.sort_values(["change", "p_value"], ascending=[False, True]).head(n)
    return table.assign(rank=range(1, len(table) + 1)).reset_index(drop=True)


def theme_counts(comments: pd.DataFrame, *, by: Sequence[str] = ("respondent",)) -> pd.DataFrame:
    """How many comments were coded to each theme, per group.

    comments: :meth:`kor.store.Store.survey_comments` (``themes`` is a list per comment).
    Returns ``*by``, ``theme``, ``comments``, sorted by group then count (descending).
    Uncoded comments are counted under theme ``""``.
    """
    by = list(by)
    exploded = comments.assign(theme=comments["themes"].map(lambda x: list(x) or [""]))
    exploded = exploded.explode("theme")
    counts = exploded.groupby(by + ["theme"], sort=False).size().rename("comments").reset_index()
    return counts.sort_values(
        by + ["comments", "theme"], ascending=[True] * len(by) + [False, True]
    ).reset_index(drop=True)
