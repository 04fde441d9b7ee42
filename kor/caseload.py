"""The clinician's client list and what one client's chart needs: pure frame functions.

A clinician opens the app at the start of a session and must find the client in
seconds, with the clients who need attention on top. :func:`caseload` makes that list
from the session table (:data:`kor.frames.SESSION_COLUMNS`) and the current flags
(:func:`kor.flags.current_flags`); the other functions shape the store's tables
(:class:`kor.frames.Dataset`) for the entry form (stored values to correct) and align
the expected path (:mod:`kor.trajectories`) with the episode's session numbers.

Nothing here reads or writes the database; every function takes frames and returns
new frames, so the same list can be built from a researcher's own data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kor import measures, raters
from kor.change import episode_change
from kor.flags import LEVELS, current_flags, evaluate_flags
from kor.frames import ITEM_COLUMNS, Dataset, require_columns, session_table

__all__ = [
    "CASELOAD_COLUMNS",
    "ENTRY_COLUMNS",
    "caseload",
    "clinicians",
    "episode_table",
    "open_sessions",
    "search",
    "replace_episodes",
    "session_entries",
    "stored_entry",
    "episode_path",
    "EpisodeView",
    "current_episode_flags",
    "caseload_from",
    "episode_view",
]

CASELOAD_COLUMNS: tuple[str, ...] = (
    "client",
    "episode",
    "team",
    "clinician",
    "age_group",
    "episode_start",
    "sessions",
    "last_session_date",
    "intake",
    "latest_outcome",
    "outcome_measure",
    "latest_alliance",
    "flag_level",
    "flag_rules",
)

ENTRY_COLUMNS: tuple[str, ...] = (
    "session_id",
    "session_no",
    "session_date",
    "format",
    "kind",
    "measurement_id",
    "measure",
    *ITEM_COLUMNS,
    "total",
    "version",
)

_EPISODE_COLUMNS = (
    "client",
    "episode",
    "team",
    "clinician",
    "age_group",
    "episode_start",
    "episode_end",
    "end_reason",
)
_RANK = {level: i for i, level in enumerate(LEVELS)}


def clinicians(data: Dataset, team: str | None = None) -> pd.DataFrame:
    """The clinicians among the users: username, display_name, team (code), sorted by name.

    Used by leads and admins to pick whose client list to open; ``team`` keeps one team's.
    """
    users = data.users
    teams = data.teams.set_index("team_id")["code"]
    out = users.loc[users["role"] == "clinician", ["username", "display_name", "team_id"]].copy()
    out["team"] = out["team_id"].map(teams).astype(object)
    if team is not None:
        out = out.loc[out["team"] == team]
    out = out.drop(columns="team_id").sort_values(["display_name", "username"], kind="stable")
    return out.reset_index(drop=True)


def episode_table(data: Dataset) -> pd.DataFrame:
    """One row per episode of ``data`` (also episodes without any session yet).

    Columns: client, episode, team, clinician, age_group, episode_start, episode_end,
    end_reason. The session table alone cannot show a just-registered client, since it
    has one row per *session*.
    """
    ep = data.episodes
    clients = data.clients.set_index("client_id")
    users = data.users.set_index("user_id")["username"]
    teams = data.teams.set_index("team_id")["code"]
    out = pd.DataFrame(
        {
            "client": ep["client_id"].map(clients["code"]).astype(object).to_numpy(),
            "episode": ep["episode_id"].to_numpy(dtype=np.int64),
            "team": ep["client_id"].map(clients["team_id"]).map(teams).astype(object).to_numpy(),
            "clinician": ep["clinician_id"].map(users).astype(object).to_numpy(),
            "age_group": ep["client_id"].map(clients["age_group"]).astype(object).to_numpy(),
            "episode_start": pd.to_datetime(ep["start_date"]).to_numpy(),
            "episode_end": pd.to_datetime(ep["end_date"]).to_numpy(),
            "end_reason": ep["end_reason"].astype(object).to_numpy(),
        }
    )
    out["end_reason"] = out["end_reason"].where(out["end_reason"].notna(), None)
    return out.sort_values("episode", kind="stable").reset_index(drop=True)


def open_sessions(sessions: pd.DataFrame) -> pd.DataFrame:
    """The rows of episodes that have not ended (``episode_end`` is NaT)."""
    require_columns(sessions, ("episode", "episode_end"), where="sessions")
    return sessions.loc[sessions["episode_end"].isna()].reset_index(drop=True)


def caseload(
    sessions: pd.DataFrame,
    flags: pd.DataFrame | None = None,
    *,
    episodes: pd.DataFrame | None = None,
    open_only: bool = True,
) -> pd.DataFrame:
    """The client list: one row per (open) episode, the ones needing attention first.

    Parameters
    ----------
    sessions : DataFrame
        The session table (:data:`kor.frames.SESSION_COLUMNS`).
    flags : DataFrame, optional
        Today's flags (:func:`kor.flags.current_flags`); their worst level per episode
        becomes ``flag_level``.
    episodes : DataFrame, optional
        :func:`episode_table` rows, so that episodes without any session yet are listed.
    open_only : bool
        Keep only episodes without an end date (the default: a clinician's active clients).

    Returns
    -------
    DataFrame
        Columns :data:`CASELOAD_COLUMNS`: client, episode, team, clinician (of the
        episode), age_group, episode_start, sessions (count so far), last_session_date
        (NaT if none), intake and latest_outcome (first and last outcome total, points
        0-40, NaN if none; from :func:`kor.change.episode_change`), outcome_measure,
        latest_alliance (last alliance total, NaN if none), flag_level (``alert`` /
        ``warning`` / ``info`` or None) and flag_rules (the current rule ids, comma
        separated, "" if none). Sorted by flag severity (alert first, no flag last),
        then client code and episode.

    >>> s = pd.DataFrame({"client": ["K1", "K1"], "episode": [1, 1], "team": "A",
    ...     "clinician": "u1", "age_group": "adult",
    ...     "episode_start": pd.Timestamp("2026-01-05"), "episode_end": pd.NaT,
    ...     "end_reason": None, "session_date": pd.to_datetime(["2026-01-05", "2026-01-12"]),
    ...     "session_no": [1, 2], "format": "individual", "outcome_measure": "ORS",
    ...     "outcome": [18.0, 21.5], "alliance_measure": "SRS", "alliance": [37.0, 38.1],
    ...     "alliance_min_item": [9.0, 9.3]})
    >>> caseload(s).loc[0, ["sessions", "latest_outcome", "latest_alliance"]].tolist()
    [2, 21.5, 38.1]
    """
    require_columns(
        sessions,
        (*_EPISODE_COLUMNS, "session_no", "session_date", "outcome", "alliance"),
        where="sessions",
    )
    ordered = sessions.sort_values(["episode", "session_no"], kind="stable")
    g = ordered.groupby("episode", sort=True)
    base = g[list(_EPISODE_COLUMNS)].first()
    base["episode"] = base.index.to_numpy()
    counts = g.size()
    last_date = g["session_date"].max()
    alliance = g["alliance"].last()  # last non-missing value
    if episodes is not None and len(episodes):
        require_columns(episodes, _EPISODE_COLUMNS, where="episodes")
        extra = episodes.loc[~episodes["episode"].isin(base.index)].set_index("episode", drop=False)
        extra = extra.loc[:, list(_EPISODE_COLUMNS)].astype(base.dtypes.to_dict())  # one unit
        base = pd.concat([base, extra]) if len(extra) else base
    if open_only:
        base = base.loc[base["episode_end"].isna()]
    out = base.loc[:, ["client", "episode", "team", "clinician", "age_group", "episode_start"]]
    out = out.copy()
    out["sessions"] = counts.reindex(out.index).fillna(0).astype(np.int64).to_numpy()
    out["last_session_date"] = pd.to_datetime(last_date.reindex(out.index)).to_numpy()
    scored = ordered.loc[ordered["outcome"].notna() & ordered["episode"].isin(out.index)]
    change = (
        episode_change(scored).set_index("episode")
        if len(scored)
        else pd.DataFrame(columns=["intake", "latest", "outcome_measure"])
    )
    out["intake"] = change["intake"].reindex(out.index).astype(float).to_numpy()
    out["latest_outcome"] = change["latest"].reindex(out.index).astype(float).to_numpy()
    measure = change["outcome_measure"].reindex(out.index).astype(object)
    out["outcome_measure"] = measure.where(measure.notna(), None).to_numpy()
    out["latest_alliance"] = alliance.reindex(out.index).astype(float).to_numpy()
    level, rules = _worst_flags(flags, out.index)
    out["flag_level"] = pd.Series(level, index=out.index, dtype=object)
    out["flag_rules"] = pd.Series(rules, index=out.index, dtype=object)
    out["flag_level"] = _none_for_missing(out["flag_level"])
    out["_rank"] = out["flag_level"].map(_RANK).fillna(len(LEVELS)).to_numpy()
    out = out.reset_index(drop=True).sort_values(["_rank", "client", "episode"], kind="stable")
    out = out.drop(columns="_rank").reset_index(drop=True)
    out["episode"] = out["episode"].astype(np.int64)
    return out.loc[:, list(CASELOAD_COLUMNS)]


def _worst_flags(flags: pd.DataFrame | None, episodes: pd.Index) -> tuple[list, list]:
    """Per episode in ``episodes``: the most severe current level and the rule ids."""
    if flags is None or len(flags) == 0:
        return [None] * len(episodes), [""] * len(episodes)
    require_columns(flags, ("episode", "rule", "level"), where="flags")
    f = flags.loc[flags["episode"].isin(episodes), ["episode", "rule", "level"]].copy()
    f["_rank"] = f["level"].map(_RANK)
    f = f.sort_values(["episode", "_rank"], kind="stable")
    worst = f.groupby("episode")["level"].first()
    rules = f.groupby("episode")["rule"].agg(",".join)
    level = worst.reindex(episodes).astype(object)
    return (
        level.where(level.notna(), None).tolist(),
        rules.reindex(episodes).fillna("").tolist(),
    )


def search(frame: pd.DataFrame, text: str) -> pd.DataFrame:
    """Rows whose client code contains ``text`` (case-insensitive); all rows for ""."""
    text = (text or "").strip()
    if not text:
        return frame
    hit = frame["client"].astype(str).str.contains(text, case=False, regex=False)
    return frame.loc[hit].reset_index(drop=True)


def replace_episodes(frame: pd.DataFrame, fresh: pd.DataFrame, episodes: list[int]) -> pd.DataFrame:
    """The list ``frame`` with the rows of ``episodes`` replaced by ``fresh`` and re-sorted.

    After a save only one episode changed; recomputing its row is cheaper than the
    whole list. An episode absent from ``fresh`` (ended) drops out.
    """
    keep = frame.loc[~frame["episode"].isin(episodes)]
    out = pd.concat([keep, fresh.loc[:, list(frame.columns)]], ignore_index=True)
    out["_rank"] = out["flag_level"].map(_RANK).fillna(len(LEVELS)).to_numpy()
    out = out.sort_values(["_rank", "client", "episode"], kind="stable")
    out = out.drop(columns="_rank").reset_index(drop=True)
    out["flag_level"] = _none_for_missing(out["flag_level"])
    return out


def _none_for_missing(values: pd.Series) -> pd.Series:
    """Object values with None (not NaN) where missing: «no flag» must test as falsy."""
    values = values.astype(object)
    return values.where(values.notna(), None)


def session_entries(data: Dataset, episode: int) -> pd.DataFrame:
    """What is stored for each session of ``episode``: one row per measurement of the
    client's own (a parent's or teacher's rating is drawn on the chart, not corrected here).

    Columns :data:`ENTRY_COLUMNS`; a session without any measurement has one row with
    ``kind`` None. ``kind`` is the measure's kind (``outcome`` / ``alliance``) and
    ``version`` the row version a correction must name (1 when the store does not say).
    Sorted by session number, newest first, outcome before alliance.
    """
    s = data.sessions.loc[data.sessions["episode_id"] == episode]
    s = s.rename(columns={"number": "session_no"})
    m = data.measurements.loc[data.measurements["session_id"].isin(s["session_id"])]
    m = raters.of_rater(m, raters.DEFAULT_RATER).copy()  # the client's own (kor.raters)
    if "version" not in m.columns:
        m["version"] = 1
    kinds = {code: meas.kind for code, meas in measures.MEASURES.items()}
    m["kind"] = m["measure"].map(kinds).astype(object)
    out = s.loc[:, ["session_id", "session_no", "session_date", "format"]].merge(
        m, on="session_id", how="left"
    )
    out["session_date"] = pd.to_datetime(out["session_date"])
    out["kind"] = out["kind"].astype(object).where(out["kind"].notna(), None)
    out["measure"] = out["measure"].astype(object).where(out["measure"].notna(), None)
    out["_k"] = out["kind"].map({"outcome": 0, "alliance": 1}).fillna(2)
    out = out.sort_values(["session_no", "_k"], ascending=[False, True], kind="stable")
    return out.reindex(columns=list(ENTRY_COLUMNS)).reset_index(drop=True)


def stored_entry(entries: pd.DataFrame, session_id: int, kind: str) -> dict[str, Any] | None:
    """The stored measurement of ``kind`` in a session, or None.

    Returns ``{"id", "measure", "values": {item: value}, "version", "total"}`` with the
    items named as the measure declares them.
    """
    rows = entries.loc[(entries["session_id"] == session_id) & (entries["kind"] == kind)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    measure = measures.get(row["measure"])
    values = {item: float(row[f"item{i + 1}"]) for i, item in enumerate(measure.items)}
    return {
        "id": int(row["measurement_id"]),
        "measure": measure.code,
        "values": values,
        "version": int(row["version"]),
        "total": float(row["total"]),
    }


def episode_path(model: Any, sessions: pd.DataFrame, *, horizon: int = 10) -> pd.DataFrame:
    """The expected path of one episode, on the episode's own session numbers.

    model: a fitted :class:`kor.trajectories.ExpectedResponse`; sessions: the session
    table rows of one episode. The path starts at the intake (the first session with an
    outcome value; session 1 of the model) and runs to ``horizon`` sessions after it,
    or two past the latest session. Returns session_no, p10, p25, p50, p75 (points);
    empty when the episode has no outcome value yet.
    """
    scored = sessions.loc[sessions["outcome"].notna()].sort_values("session_no", kind="stable")
    if scored.empty:
        return pd.DataFrame(columns=["session_no", *model.columns])
    first = scored.iloc[0]
    start = int(first["session_no"])
    last = int(sessions["session_no"].max())
    length = max(int(horizon), last - start + 3)
    age_group = first["age_group"] if "age_group" in scored.columns else None
    path = model.path(float(first["outcome"]), length, age_group=age_group)
    path["session_no"] = path["session_no"] + (start - 1)
    return path


@dataclass(frozen=True)
class EpisodeView:
    """Everything the clinician's panel shows for one episode (see :func:`episode_view`).

    sessions: the episode's session-table rows; entries: :func:`session_entries`;
    path: :func:`episode_path`; flags: the episode's current flags; row: its
    :func:`caseload` row as a dict (None when the episode has ended).
    """

    episode: int
    sessions: pd.DataFrame
    entries: pd.DataFrame
    path: pd.DataFrame
    flags: pd.DataFrame
    row: dict[str, Any] | None
    #: other raters' outcome totals (:func:`kor.raters.collateral_outcomes`), for the chart
    collateral: pd.DataFrame | None = None


def current_episode_flags(sessions: pd.DataFrame, model: Any) -> pd.DataFrame:
    """Today's flags of the open episodes in ``sessions``, with the expected path of ``model``."""
    sessions = open_sessions(sessions)
    if sessions.empty:
        return current_flags(evaluate_flags(sessions))
    expected = model.expected(sessions) if sessions["outcome"].notna().any() else None
    return current_flags(evaluate_flags(sessions, expected=expected))


def caseload_from(data: Dataset, model: Any) -> pd.DataFrame:
    """The client list (:func:`caseload`) of the open episodes in ``data``."""
    sessions = open_sessions(session_table(data))
    flags = current_episode_flags(sessions, model)
    return caseload(sessions, flags, episodes=episode_table(data))


def episode_view(data: Dataset, model: Any, episode: int) -> EpisodeView:
    """Sessions, stored entries, expected path, flags and list row of one episode."""
    sessions = session_table(data)
    sessions = sessions.loc[sessions["episode"] == episode].reset_index(drop=True)
    flags = current_episode_flags(sessions, model)
    eps = episode_table(data)
    rows = caseload(sessions, flags, episodes=eps.loc[eps["episode"] == episode])
    return EpisodeView(
        episode=int(episode),
        sessions=sessions,
        entries=session_entries(data, episode),
        path=episode_path(model, sessions),
        flags=flags,
        row=rows.to_dict("records")[0] if len(rows) else None,
        collateral=raters.collateral_outcomes(
            data.measurements, data.sessions.loc[data.sessions["episode_id"] == episode]
        ),
    )
