"""Who gave a rating: the client, or a collateral rater (parent, teacher, another adult).

For a child or adolescent the service often asks more than one person each session
(issue 18): the child rates on the CORS/YCORS, and a parent or teacher rates the child
on the same form. Each measurement carries its rater (``client`` for the client's
own rating, the default and what every measurement stored before migration 0010 is).

Change, flags and indicators are computed on one rater's measurements only, the
client's own by default: the reliable-change index, cut-offs and expected paths of
the literature are normed on the client's self-rating (Duncan BL et al. J Brief Ther
2003;2(2):91-100), and mixing a parent's score into a child's trajectory would read
a change of rater as a change of the child. A service that follows the parents'
ratings instead says so in its configuration::

    [analysis]
    outcome_rater = "parent"

(:func:`configure`, applied by :func:`kor.config.apply_service_config`). Collateral
ratings are stored, exported and drawn on the clinician's chart; they enter the
analyses only when configured as the outcome rater.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from kor.errors import ConfigError

__all__ = [
    "RATERS",
    "DEFAULT_RATER",
    "COLLATERAL_AGE_GROUPS",
    "allows_collateral",
    "configure",
    "outcome_rater",
    "rater_of",
    "of_rater",
    "label_key",
    "collateral_outcomes",
]

#: The rater roles, in the order the chart and the picker show them.
RATERS: tuple[str, ...] = ("client", "parent", "teacher", "other")
#: The rater of a measurement that names none (all data before migration 0010).
DEFAULT_RATER: str = "client"
#: Age groups whose outcome forms a collateral rater may fill in (children, adolescents).
COLLATERAL_AGE_GROUPS: frozenset[str] = frozenset({"under_6", "age_6_12", "age_13_17"})

_SERVICE: dict[str, str] = {"outcome_rater": DEFAULT_RATER}


def configure(mapping: Mapping[str, object]) -> str:
    """Apply the ``[analysis]`` section of a service's configuration; returns the rater.

    mapping: ``{"outcome_rater": "client" | "parent" | "teacher" | "other"}``; an
    unknown key or value raises :class:`~kor.errors.ConfigError` naming it.
    """
    unknown = set(mapping) - {"outcome_rater"}
    if unknown:
        raise ConfigError(f"unknown [analysis] settings: {sorted(unknown)}")
    rater = mapping.get("outcome_rater", DEFAULT_RATER)
    if rater not in RATERS:
        raise ConfigError(f"[analysis] outcome_rater must be one of {', '.join(RATERS)}")
    _SERVICE["outcome_rater"] = str(rater)
    return _SERVICE["outcome_rater"]


def outcome_rater() -> str:
    """The rater whose measurements change, flags and indicators use (default ``client``)."""
    return _SERVICE["outcome_rater"]


def rater_of(value: object) -> str:
    """A stored or given rater, blank (None, NaN, "") read as :data:`DEFAULT_RATER`.

    >>> rater_of(None), rater_of("parent")
    ('client', 'parent')
    """
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return DEFAULT_RATER
    if value not in RATERS:
        from kor.errors import ValidationError

        raise ValidationError("error.bad_choice", field="rater", choices=", ".join(RATERS))
    return str(value)


def of_rater(measurements: pd.DataFrame, rater: str | None = None) -> pd.DataFrame:
    """The measurements of one rater (default :func:`outcome_rater`).

    measurements: a frame with a ``rater`` column, or without one (then every row is
    the client's own, as in a researcher's frame or data before migration 0010).

    >>> m = pd.DataFrame({"session_id": [1, 1], "rater": ["client", "parent"]})
    >>> of_rater(m)["rater"].tolist()
    ['client']
    """
    rater = outcome_rater() if rater is None else rater
    if "rater" not in measurements.columns:
        return measurements if rater == DEFAULT_RATER else measurements.iloc[0:0]
    given = measurements["rater"].astype(object).where(measurements["rater"].notna(), "")
    mine = given.eq(rater) | given.eq("") if rater == DEFAULT_RATER else given.eq(rater)
    keep = mine.to_numpy(dtype=bool)
    return measurements if keep.all() else measurements.loc[keep]


def allows_collateral(kind: str, age_group: str) -> bool:
    """True when a parent, teacher or other adult may rate: an outcome measure (YCORS,
    CORS, or ORS at 13-17) of a child or adolescent. Alliance forms (SRS family) rate
    the session as the client lived it, so only the client fills them in.

    >>> allows_collateral("outcome", "age_6_12"), allows_collateral("outcome", "adult")
    (True, False)
    """
    return kind == "outcome" and age_group in COLLATERAL_AGE_GROUPS


def label_key(rater: str) -> str:
    """The catalog key of a rater's plain-words label (``rater.parent`` -> «Forelder»)."""
    return f"rater.{rater}"


def collateral_outcomes(
    measurements: pd.DataFrame, sessions: pd.DataFrame, *, rater: str | None = None
) -> pd.DataFrame:
    """The outcome totals of every rater but ``rater`` (default :func:`outcome_rater`),
    for drawing beside the client's own line (:func:`kor.client_chart.client_chart`).

    measurements: a measurements table (``session_id``, ``measure``, ``total``, and
    ``rater``; without that column there is no collateral rating). sessions: the
    sessions table rows to take (``session_id``, ``number``), e.g. one episode's.
    Returns ``session_no``, ``rater``, ``measure``, ``outcome`` (points), sorted by rater
    (in :data:`RATERS` order) and session; empty when nobody else rated.

    >>> m = pd.DataFrame({"session_id": [1, 1], "measure": ["CORS", "CORS"],
    ...                   "total": [20.0, 26.5], "rater": ["client", "parent"]})
    >>> collateral_outcomes(m, pd.DataFrame({"session_id": [1], "number": [1]}))
       session_no   rater measure  outcome
    0           1  parent    CORS     26.5
    """
    from kor import measures

    columns = ["session_no", "rater", "measure", "outcome"]
    if "rater" not in measurements.columns or measurements.empty:
        return pd.DataFrame(columns=columns)
    rater = outcome_rater() if rater is None else rater
    given = measurements["rater"].astype(object).where(measurements["rater"].notna(), "")
    given = given.where(given.ne(""), DEFAULT_RATER)
    outcome = measurements["measure"].isin(measures.codes("outcome"))
    keep = (outcome & given.ne(rater)).to_numpy(dtype=bool)
    m = measurements.loc[keep, ["session_id", "measure", "total"]].assign(rater=given[keep])
    m = m.merge(sessions.loc[:, ["session_id", "number"]], on="session_id")
    out = pd.DataFrame(
        {
            "session_no": m["number"].astype("int64").to_numpy(),
            "rater": m["rater"].to_numpy(dtype=object),
            "measure": m["measure"].to_numpy(dtype=object),
            "outcome": m["total"].astype("float64").to_numpy(),
        }
    )
    order = out["rater"].map({r: i for i, r in enumerate(RATERS)})
    out = out.assign(_o=order).sort_values(["_o", "session_no"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)
