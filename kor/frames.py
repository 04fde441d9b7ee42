"""The frame schemas shared by the store, import/export, sample data and analytics.

Two shapes:

* **tables** (:class:`Dataset`): one frame per database table, integer ids, as the
  sample generator writes them and :meth:`kor.store.Store.load_dataset` bulk-loads them;
* **the session table** (:func:`session_table`): one row per session, the shape every
  analytics function takes, so a researcher can build it from their own data.

Session table columns (:data:`SESSION_COLUMNS`):

==================  =================================================================
client              pseudonymous client code (str)
episode             episode id (int)
team                team code (str)
clinician           clinician username (str)
age_group           ``under_6`` | ``age_6_12`` | ``age_13_17`` | ``adult``
episode_start       date the episode started (datetime64)
episode_end         date it ended, NaT while open
end_reason          ``completed`` | ``dropout`` | ``referred`` | ``moved`` | ``other`` | None
session_date        date of the session (datetime64)
session_no          number of the session within the episode, 1-based (int)
format              ``individual`` | ``group``
outcome_measure     code of the outcome measure given (ORS, CORS, ...), None if missing
outcome             its total, 0.0-40.0, NaN if not recorded
alliance_measure    code of the alliance measure given (SRS, CSRS, GSRS, ...), None if missing
alliance            its total, 0.0-40.0, NaN if not recorded
alliance_min_item   lowest alliance item, 0.0-10.0, NaN if not recorded
==================  =================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from kor import measures, raters
from kor.errors import MissingColumnsError

__all__ = [
    "TABLE_COLUMNS",
    "SESSION_COLUMNS",
    "ITEM_COLUMNS",
    "CORE_ITEM_COLUMNS",
    "FILE_COLUMNS",
    "item_columns",
    "file_columns",
    "table_columns",
    "Dataset",
    "session_table",
    "file_rows",
    "read_session_csv",
    "require_columns",
]

#: The item columns of the store and the files, ``item1``..``item10``
#: (:data:`kor.measures.MAX_ITEMS`): a measure fills the first ``len(items)``, the rest
#: stay NULL / NaN.
ITEM_COLUMNS: tuple[str, ...] = tuple(f"item{k}" for k in range(1, measures.MAX_ITEMS + 1))
#: The item columns every measurement frame and file has (the shipped measures have
#: four items); ``item5``..``item10`` are optional, there when a wider measure is.
CORE_ITEM_COLUMNS: tuple[str, ...] = ITEM_COLUMNS[:4]

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "teams": ("team_id", "code", "name"),
    "users": ("user_id", "username", "display_name", "role", "team_id"),
    "clients": ("client_id", "code", "birth_year", "age_group", "team_id"),
    "episodes": ("episode_id", "client_id", "clinician_id", "start_date", "end_date", "end_reason"),
    "sessions": ("session_id", "episode_id", "number", "session_date", "clinician_id", "format"),
    "measurements": (
        "measurement_id",
        "session_id",
        "measure",
        *CORE_ITEM_COLUMNS,
        "total",
        "entered_by",
        "entered_at",
    ),
}
_DATE_COLUMNS = {
    "episodes": ("start_date", "end_date"),
    "sessions": ("session_date",),
    "measurements": ("entered_at",),
}

#: The import/export file format, one row per measurement (docs/import-format.md);
#: ``item5``..``item10`` follow ``item4`` when a wider measure is there (:func:`file_columns`).
FILE_COLUMNS: tuple[str, ...] = (
    "client_code",
    "age_group",
    "birth_year",
    "team",
    "clinician",
    "episode_start",
    "session_date",
    "session_no",
    "format",
    "measure",
    *CORE_ITEM_COLUMNS,
    "total",
)

SESSION_COLUMNS: tuple[str, ...] = (
    "client",
    "episode",
    "team",
    "clinician",
    "age_group",
    "episode_start",
    "episode_end",
    "end_reason",
    "session_date",
    "session_no",
    "format",
    "outcome_measure",
    "outcome",
    "alliance_measure",
    "alliance",
    "alliance_min_item",
)


def item_columns(codes: Iterable[str] | None = None) -> tuple[str, ...]:
    """The item columns a frame of measurements of ``codes`` needs, at least item1..item4.

    codes: measure codes (an iterable; unknown codes and None are ignored); default every
    registered measure. Without a measure of more than four items this is
    :data:`CORE_ITEM_COLUMNS`, so frames and files look as they always did.

    >>> item_columns(["ORS", "SRS"])
    ('item1', 'item2', 'item3', 'item4')
    """
    declared = measures.MEASURES
    chosen = declared if codes is None else set(codes)
    widest = max((len(declared[c].items) for c in chosen if c in declared), default=0)
    return ITEM_COLUMNS[: max(len(CORE_ITEM_COLUMNS), widest)]


def file_columns(items: tuple[str, ...] = CORE_ITEM_COLUMNS) -> tuple[str, ...]:
    """:data:`FILE_COLUMNS` with ``items`` as the item columns (from :func:`item_columns`).

    >>> file_columns(ITEM_COLUMNS)[9:12], file_columns()[-1]
    (('measure', 'item1', 'item2'), 'total')
    """
    at = FILE_COLUMNS.index(CORE_ITEM_COLUMNS[0])
    return (*FILE_COLUMNS[:at], *items, *FILE_COLUMNS[at + len(CORE_ITEM_COLUMNS) :])


def table_columns(name: str, frame: pd.DataFrame) -> list[str]:
    """:data:`TABLE_COLUMNS` of table ``name`` plus the optional columns ``frame`` has
    (measurements: ``item5``..``item10`` and ``rater``, :mod:`kor.raters`)."""
    columns = list(TABLE_COLUMNS[name])
    if name == "measurements":
        extra = [c for c in ITEM_COLUMNS[len(CORE_ITEM_COLUMNS) :] if c in frame.columns]
        at = columns.index(CORE_ITEM_COLUMNS[-1]) + 1
        columns[at:at] = extra
        if "rater" in frame.columns:
            columns.append("rater")
    return columns


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...] | list[str], where: str) -> None:
    """Raise :class:`MissingColumnsError` naming every column of ``columns`` not in ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingColumnsError(missing, where=where)


@dataclass
class Dataset:
    """All tables of a data set as frames (ids are integers, dates datetime64)."""

    teams: pd.DataFrame
    users: pd.DataFrame
    clients: pd.DataFrame
    episodes: pd.DataFrame
    sessions: pd.DataFrame
    measurements: pd.DataFrame

    def __post_init__(self) -> None:
        for f in fields(self):
            frame = getattr(self, f.name)
            require_columns(frame, TABLE_COLUMNS[f.name], where=f.name)
            dates = [c for c in _DATE_COLUMNS.get(f.name, ()) if frame[c].dtype != "datetime64[ns]"]
            if dates:  # one time unit everywhere (pandas 2 reads ns, pandas 3 may give us)
                frame = frame.copy()
                for col in dates:
                    frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
                setattr(self, f.name, frame)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Table name -> frame, in load order (parents first)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_csv(self, directory: str | Path) -> list[Path]:
        """Write one UTF-8 CSV per table into ``directory`` (created if missing)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in self.tables().items():
            path = directory / f"{name}.csv"
            out = frame.loc[:, table_columns(name, frame)].copy()
            for col in _DATE_COLUMNS.get(name, ()):
                fmt = "%Y-%m-%dT%H:%M:%S" if col == "entered_at" else "%Y-%m-%d"
                out[col] = pd.to_datetime(out[col]).dt.strftime(fmt)
            tmp = path.with_suffix(".csv.tmp")
            out.to_csv(tmp, index=False, lineterminator="\n")
            tmp.replace(path)
            written.append(path)
        return written

    @classmethod
    def read_csv(cls, directory: str | Path) -> Dataset:
        """Read the tables written by :meth:`to_csv`."""
        directory = Path(directory)
        frames = {}
        for name, columns in TABLE_COLUMNS.items():
            frame = pd.read_csv(directory / f"{name}.csv", keep_default_na=True)
            require_columns(frame, columns, where=f"{name}.csv")
            for col in _DATE_COLUMNS.get(name, ()):
                frame[col] = pd.to_datetime(frame[col])
            for col in ("team_id", "birth_year"):
                if col in frame.columns and name != "teams":  # nullable foreign keys
                    frame[col] = frame[col].astype("Int64")
            for col in ("end_reason",):
                if col in frame.columns:
                    frame[col] = frame[col].astype("object").where(frame[col].notna(), None)
            frames[name] = frame
        return cls(**frames)


def read_session_csv(path: str | Path) -> pd.DataFrame:
    """Read a session table (:data:`SESSION_COLUMNS`) saved as CSV, with its dtypes.

    For researchers bringing their own data, and for the reference cases of the tests.
    """
    frame = pd.read_csv(path, dtype={"client": str, "team": str, "clinician": str})
    require_columns(frame, SESSION_COLUMNS, where=str(path))
    for col in ("episode_start", "episode_end", "session_date"):
        frame[col] = pd.to_datetime(frame[col])
    for col in ("end_reason", "outcome_measure", "alliance_measure"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    for col in ("outcome", "alliance", "alliance_min_item"):
        frame[col] = frame[col].astype("float64")
    return frame.loc[:, list(SESSION_COLUMNS)]


def file_rows(ds: Dataset) -> pd.DataFrame:
    """The data set's measurements in the import/export file format, one row each.

    The columns of ``kor.io``'s file (client code, age group, birth year, team code,
    clinician's user name, episode start, session date/number/format, measure, the
    items, total); items past a measure's own are NaN. Sorted by client, episode,
    session and measure, so an export reads in the order a person checks it. The
    store's export and the import benchmark both build their files with it.
    """
    m = ds.measurements.merge(ds.sessions, on="session_id")
    m = m.merge(ds.episodes, on="episode_id", suffixes=("", "_ep"))
    m = m.merge(ds.clients, on="client_id")
    out = pd.DataFrame(
        {
            "client_code": m["code"],
            "age_group": m["age_group"],
            "birth_year": m["birth_year"],
            "team": m["team_id"].map(ds.teams.set_index("team_id")["code"]),
            "clinician": m["clinician_id"].map(ds.users.set_index("user_id")["username"]),
            "episode_start": m["start_date"],
            "session_date": m["session_date"],
            "session_no": m["number"],
            "format": m["format"],
            "measure": m["measure"],
            **{c: m[c] if c in m.columns else float("nan") for c in ITEM_COLUMNS},
            "total": m["total"],
        }
    )
    order = ["client_code", "episode_start", "session_no", "measure"]
    if "rater" in m.columns:  # a collateral rating there: the file says who rated each row
        rater = m["rater"].astype(object).where(m["rater"].notna(), raters.DEFAULT_RATER)
        if rater.ne(raters.DEFAULT_RATER).any():
            out["rater"] = rater.to_numpy()
            out["_r"] = out["rater"].map({r: i for i, r in enumerate(raters.RATERS)})
            order.append("_r")
    out = out.sort_values(order).reset_index(drop=True)
    return out.drop(columns=["_r"], errors="ignore")


def session_table(
    data: Dataset | Mapping[str, pd.DataFrame], *, rater: str | None = None
) -> pd.DataFrame:
    """Join the tables into the session table (one row per session, :data:`SESSION_COLUMNS`).

    ``data`` is a :class:`Dataset` or its tables by name; the measurements need only
    ``session_id``, ``measure``, the items and ``total`` (what the store reads for
    analysis). The outcome and alliance totals are taken from whichever declared measure
    of that kind was recorded for the session; ``alliance_min_item`` is the lowest of
    the alliance measure's items.

    Only one rater's measurements are used (:mod:`kor.raters`): ``rater``, default the
    service's outcome rater (the client's own rating unless configured otherwise), so a
    parent's or teacher's rating never changes a client's change, flags or indicators.
    A measurements frame without a ``rater`` column is all the client's own.

    Units and ranges: ``outcome`` and ``alliance`` are totals in points, 0.0-40.0 for
    the shipped measures (four items of 0.0-10.0), NaN when not recorded;
    ``alliance_min_item`` 0.0-10.0; ``session_no`` 1-based; dates datetime64. Sorted by
    episode and session number; the column table is in the module docstring.

    >>> from kor import sample
    >>> s = session_table(sample.generate(50, seed=1))
    >>> list(s.columns) == list(SESSION_COLUMNS), float(s["outcome"].max()) <= 40.0
    (True, True)
    """
    tables = data.tables() if isinstance(data, Dataset) else data
    meas = raters.of_rater(tables["measurements"], rater)
    is_outcome = meas["measure"].isin(measures.codes("outcome")).to_numpy(dtype=bool)
    is_alliance = meas["measure"].isin(measures.codes("alliance")).to_numpy(dtype=bool)
    outcome = meas.loc[is_outcome, ["session_id", "measure", "total"]].rename(
        columns={"measure": "outcome_measure", "total": "outcome"}
    )
    alliance = meas.loc[is_alliance, ["session_id", "measure", "total"]].rename(
        columns={"measure": "alliance_measure", "total": "alliance"}
    )
    items = meas.loc[is_alliance, [c for c in ITEM_COLUMNS if c in meas.columns]]
    alliance["alliance_min_item"] = items.min(axis=1).to_numpy()
    outcome = outcome.drop_duplicates("session_id", keep="last")
    alliance = alliance.drop_duplicates("session_id", keep="last")

    users = tables["users"].set_index("user_id")["username"]
    teams = tables["teams"].set_index("team_id")["code"]
    clients = tables["clients"].set_index("client_id")
    ep = tables["episodes"].set_index("episode_id")

    s = tables["sessions"]
    if s.empty:
        return _empty_session_table()
    # ``.array`` rather than ``.to_numpy()``: columns are lined up by position, and a
    # string column stays in its own storage (Arrow-backed under pandas 3 with pyarrow;
    # a round trip through Python objects costs a large service a second)
    out = pd.DataFrame(
        {
            "session_id": s["session_id"].to_numpy(),
            "episode": s["episode_id"].to_numpy(),
            "session_date": pd.to_datetime(s["session_date"]).to_numpy(),
            "session_no": s["number"].astype("int64").to_numpy(),
            "format": s["format"].array,
            "clinician": s["clinician_id"].map(users).array,
        }
    )
    client_id = out["episode"].map(ep["client_id"])
    out["client"] = client_id.map(clients["code"]).array
    out["team"] = client_id.map(clients["team_id"]).map(teams).array
    out["age_group"] = client_id.map(clients["age_group"]).array
    out["episode_start"] = pd.to_datetime(out["episode"].map(ep["start_date"]))
    out["episode_end"] = pd.to_datetime(out["episode"].map(ep["end_date"]))
    reason = out["episode"].map(ep["end_reason"])
    out["end_reason"] = reason.astype("object").where(reason.notna(), None)
    out = out.merge(outcome, on="session_id", how="left").merge(
        alliance, on="session_id", how="left"
    )
    out = out.sort_values(["episode", "session_no"], kind="stable").reset_index(drop=True)
    for col in ("outcome", "alliance", "alliance_min_item"):
        out[col] = out[col].astype("float64")
    for col in ("outcome_measure", "alliance_measure"):
        out[col] = out[col].astype("object").where(out[col].notna(), None)
    out["session_no"] = out["session_no"].astype(np.int64)
    return out.loc[:, list(SESSION_COLUMNS)]


def _empty_session_table() -> pd.DataFrame:
    """A session table with no rows but the right columns and dtypes."""
    dtypes = {
        "episode": "int64",
        "episode_start": "datetime64[ns]",
        "episode_end": "datetime64[ns]",
        "session_date": "datetime64[ns]",
        "session_no": "int64",
        "outcome": "float64",
        "alliance": "float64",
        "alliance_min_item": "float64",
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in SESSION_COLUMNS})
