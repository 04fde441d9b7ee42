"""Pseudonymised research extracts: keyed hashes for codes, months for dates, no free text.

Researchers never read client rows (:func:`kor.access.client_scope` refuses them). An
admin or a quality lead runs the extract and hands the file over; what leaves is:

* client codes, episode ids and clinician usernames replaced by HMAC-SHA256 keyed hashes
  (the same client always gets the same pseudonym under one key, so a researcher can
  follow a client across sessions and extracts, but nobody without the key can go back);
* every date coarsened to its month (``2026-03``), so session dates cannot be matched
  to appointment calendars;
* only the columns in :data:`RESEARCH_COLUMNS` (scores, session numbers, age group,
  team, format, end reason): nothing typed as free text ever leaves.

The key is a file *outside* the database (``KOR_RESEARCH_KEY_FILE``, default
``<data dir>/research.key``, created with mode 0600 when missing). Whoever holds the key
and the database can re-identify; keep the key on another disk or in a secrets store in
production, and destroy it when the project ends to make old extracts unlinkable.
A pseudonymised extract is still personal data under GDPR (recital 26).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from kor import config
from kor.access import Actor, require_role
from kor.errors import AccessDenied, ValidationError
from kor.files import write_atomically
from kor.i18n import t

__all__ = [
    "RESEARCH_COLUMNS",
    "EXTRACT_ROLES",
    "KEY_BYTES",
    "key_path",
    "load_key",
    "pseudonym",
    "research_extract",
    "write_extract",
    "register_cli",
]

#: Columns of an extract, in order. Anything not listed here is dropped.
RESEARCH_COLUMNS: tuple[str, ...] = (
    "client",
    "episode",
    "team",
    "clinician",
    "age_group",
    "episode_start",
    "episode_end",
    "end_reason",
    "session_month",
    "session_no",
    "format",
    "outcome_measure",
    "outcome",
    "alliance_measure",
    "alliance",
    "alliance_min_item",
)
#: Roles that may run an extract: they already read every client row.
EXTRACT_ROLES: tuple[str, ...] = ("admin", "quality_lead")
#: Size of a generated key (256 bits, as HMAC-SHA256 wants).
KEY_BYTES = 32
_MIN_KEY_BYTES = 16
_DIGITS = 20  # hex digits kept: 80 bits, collisions negligible for any service's clients


def key_path() -> Path:
    """Where the key lives: ``KOR_RESEARCH_KEY_FILE`` or ``<data dir>/research.key``."""
    given = os.environ.get("KOR_RESEARCH_KEY_FILE")
    return Path(given) if given else config.data_dir() / "research.key"


def load_key(path: str | Path | None = None, *, create: bool = True) -> bytes:
    """The pseudonymisation key from ``path`` (default :func:`key_path`).

    A missing file is created with :data:`KEY_BYTES` random bytes and mode 0600 when
    ``create`` is true. A key shorter than 16 bytes is refused, and so is a key file
    that other users may read (group/other permission bits), because anyone with the
    key and the database can undo the pseudonyms.
    """
    path = Path(path) if path is not None else key_path()
    if not path.exists():
        if not create:
            raise ValidationError("research.key_missing", field="key_file")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValidationError("research.key_permissions", field="key_file")
    key = path.read_bytes()
    if len(key) < _MIN_KEY_BYTES:
        raise ValidationError("research.key_short", field="key_file", minimum=_MIN_KEY_BYTES)
    return key


def pseudonym(kind: str, value: object, key: bytes) -> str:
    """The keyed hash of ``value`` (HMAC-SHA256, first 20 hex digits).

    ``kind`` (``"client"``, ``"episode"``, ``"clinician"``) is part of the message, so
    a client and a clinician with the same text never share a pseudonym.

    >>> pseudonym("client", "K00001", b"k" * 32) == pseudonym("client", "K00001", b"k" * 32)
    True
    >>> pseudonym("client", "K00001", b"k" * 32) == pseudonym("clinician", "K00001", b"k" * 32)
    False
    """
    message = f"{kind}\x1f{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:_DIGITS]


def _hashed(values: pd.Series, kind: str, key: bytes) -> pd.Series:
    """Pseudonyms of a column, computed once per distinct value; missing stays missing."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = [pseudonym(kind, v, key) for v in uniques] + [None]
    return pd.Series([mapped[c] for c in codes], index=values.index, dtype=object)


def _month(values: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM`` text; missing stays missing."""
    dates = pd.to_datetime(values)
    return dates.dt.strftime("%Y-%m").astype(object).where(dates.notna(), None)


def research_extract(store, actor: Actor, key: bytes, **filters: object) -> pd.DataFrame:  # noqa: ANN001
    """A pseudonymised copy of the session table, for a researcher.

    store: an open :class:`kor.store.Store`; actor: an admin, or a quality lead holding a
    ``client_level`` grant (the read is audited as theirs); key: the pseudonymisation
    key (:func:`load_key`); filters: as
    :meth:`kor.store.Store.session_table` takes them (``team=``, ``start=``, ...).

    Returns :data:`RESEARCH_COLUMNS`, one row per session: ``client``, ``episode``,
    ``clinician`` are keyed hashes; ``episode_start``, ``episode_end`` and
    ``session_month`` are months (``YYYY-MM``); scores, numbers and categories as stored.
    Rows are sorted by pseudonym and session number, so the row order does not reveal
    the order clients were registered in.
    """
    require_role(actor, *EXTRACT_ROLES)
    if actor.role == "quality_lead" and not any(
        g.kind == "client_level" for g in store._active_grants(actor)
    ):
        # without the grant a quality lead reads pseudonyms, not codes; hashing those would
        # give other research ids than an admin's extract with the same key
        raise AccessDenied("research.needs_client_level_grant")
    if len(key) < _MIN_KEY_BYTES:
        raise ValidationError("research.key_short", field="key", minimum=_MIN_KEY_BYTES)
    table = store.session_table(actor, **filters)
    out = pd.DataFrame(
        {
            "client": _hashed(table["client"], "client", key),
            "episode": _hashed(table["episode"], "episode", key),
            "team": table["team"].astype(object),
            "clinician": _hashed(table["clinician"], "clinician", key),
            "age_group": table["age_group"].astype(object),
            "episode_start": _month(table["episode_start"]),
            "episode_end": _month(table["episode_end"]),
            "end_reason": table["end_reason"].astype(object),
            "session_month": _month(table["session_date"]),
            "session_no": table["session_no"].astype("int64"),
            "format": table["format"].astype(object),
            "outcome_measure": table["outcome_measure"].astype(object),
            "outcome": table["outcome"].astype("float64"),
            "alliance_measure": table["alliance_measure"].astype(object),
            "alliance": table["alliance"].astype("float64"),
            "alliance_min_item": table["alliance_min_item"].astype("float64"),
        },
        index=table.index,
    )
    out = out.sort_values(["client", "episode", "session_no"], kind="stable")
    return out.loc[:, list(RESEARCH_COLUMNS)].reset_index(drop=True)


def _neutral(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading ``'`` (CSV injection)."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def write_extract(extract: pd.DataFrame, path: str | Path) -> Path:
    """Write an extract as ``.csv`` (UTF-8 with BOM, ``;``, decimal comma) or ``.xlsx``.

    The file is written beside the target and renamed (nothing half-written) and is
    readable by its owner only (mode 0600). Text cells that a spreadsheet would treat as
    a formula are neutralised.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ValidationError("io.unsupported_suffix", field="path", suffix=suffix or "-")
    safe = extract.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            safe[column] = values.astype(object).map(_neutral)

    def write(handle: BinaryIO) -> None:
        if suffix == ".csv":
            safe.to_csv(
                handle,
                sep=";",
                decimal=",",
                index=False,
                encoding="utf-8-sig",
                lineterminator="\r\n",
            )
        else:
            safe.to_excel(handle, index=False, sheet_name="research", engine="openpyxl")

    return write_atomically(path, write)


def _cmd_export_research(args: argparse.Namespace) -> int:
    from kor.store import Store

    key = load_key(args.key_file)
    store = Store.open(args.database)
    try:
        extract = research_extract(store, store.current_actor(), key, team=args.team)
    finally:
        store.close()
    write_extract(extract, args.file)
    print(t("research.cli.done", rows=len(extract), path=str(args.file)))
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kor export-research FILE [--key-file PATH] [--team CODE]``.

    Also gives ``kor export`` a ``--research`` switch (with ``--key-file``) that writes
    the same extract, so both spellings in the documentation work.
    """
    p = subparsers.add_parser(
        "export-research", help=t("research.cli.help"), description=t("research.cli.help")
    )
    p.add_argument("file", type=Path, help=t("research.cli.file"))
    p.add_argument("--key-file", type=Path, default=None, help=t("research.cli.key_file"))
    p.add_argument("--team", default=None)
    p.add_argument("--database", default=None, help=t("cli.database"))
    p.set_defaults(func=_cmd_export_research)

    export = subparsers.choices.get("export")
    if export is None:
        return
    export.add_argument("--research", action="store_true", help=t("research.cli.switch"))
    export.add_argument("--key-file", type=Path, default=None, help=t("research.cli.key_file"))
    plain = export.get_default("func")

    def _export(args: argparse.Namespace) -> int:
        return _cmd_export_research(args) if args.research else plain(args)

    export.set_defaults(func=_export)
