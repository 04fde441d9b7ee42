"""Backup and restore of the whole database, SQLite or PostgreSQL, in one portable archive.

A backup is a zip archive (``.korbackup``) holding ``manifest.json`` (format, migration
revision, tables with their columns, row counts and a SHA-256 per table) and one
JSON-lines file per table, rows ordered by primary key. The format is the same for
both databases, so a SQLite installation can move to PostgreSQL by restoring its backup.

Consistency while the apps run:

* SQLite: the file is first copied with SQLite's online backup API (a consistent
  snapshot taken under a read lock; writers in WAL mode go on), then dumped from the copy;
* PostgreSQL: every table is read in one ``REPEATABLE READ`` read-only transaction, so
  the dump is one snapshot. We do not use ``pg_dump``: its version must match the
  server's, and its output cannot be restored into SQLite.

Restore refuses a database that holds any row, migrates it to the archive's revision
(it must be the revision the installed workbench runs), loads every table in one
transaction, then re-reads every row and compares its checksum with the manifest
before committing: a restore is complete and identical, or nothing is written.
One audit row records the backup (in the source, before the dump, so the archive holds
it) and one the restore.

This module reads and writes tables generically (reflected, so tables added by later
migrations are included without code here); it lives in :mod:`kor.store`, the only
package that speaks SQL.
Archives hold every client row in clear: keep them as the database itself (mode 0600 is
set; encrypt them at rest and in transit, see ``SECURITY.md``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa

from kor import config
from kor.access import SYSTEM, Actor, require_role
from kor.errors import AccessDenied, StoreError
from kor.files import write_atomically
from kor.i18n import t
from kor.pseudonyms import check_client_code

__all__ = ["FORMAT", "BackupSummary", "backup", "restore", "read_manifest", "register_cli"]

#: Archive format tag; a restore refuses any other.
FORMAT = "kor-backup/1"
_SKIP = frozenset({"alembic_version"})
_CHUNK = 5000


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds or a restore wrote: revision and rows per table."""

    path: Path
    revision: str | None
    rows: dict[str, int]

    @property
    def total(self) -> int:
        """All rows of all tables."""
        return sum(self.rows.values())


# --------------------------------------------------------------------- encoding
def _encode(value: Any) -> Any:
    """A JSON-ready value; dates and times as ISO text (the column type says which on restore)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decoder(column: sa.Column) -> Any:
    """A function turning an archived value back into what ``column`` stores."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(kind, sa.Date):
        return lambda v: None if v is None else date.fromisoformat(v)
    if isinstance(kind, sa.LargeBinary):
        return lambda v: None if v is None else base64.b64decode(v)
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float) and kind.asdecimal:
        return lambda v: None if v is None else Decimal(v)
    return lambda v: v


def _line(row: Any) -> bytes:
    return json.dumps([_encode(v) for v in row], ensure_ascii=False, sort_keys=True).encode()


def _tables(conn: sa.Connection) -> list[sa.Table]:
    """Every table of the database except Alembic's, parents before children."""
    meta = sa.MetaData()
    meta.reflect(conn)
    return [tb for tb in meta.sorted_tables if tb.name not in _SKIP]


def _ordered(table: sa.Table) -> sa.Select:
    keys = list(table.primary_key.columns) or list(table.columns)
    return sa.select(*table.columns).order_by(*keys)


def _table_lines(conn: sa.Connection, table: sa.Table) -> Iterator[bytes]:
    result = conn.execution_options(yield_per=_CHUNK).execute(_ordered(table))
    for row in result:
        yield _line(row)


def _checksums(conn: sa.Connection, tables: list[sa.Table]) -> dict[str, tuple[int, str]]:
    """Rows and SHA-256 of the archived form of each table, as the database holds it now."""
    out: dict[str, tuple[int, str]] = {}
    for table in tables:
        digest, rows = hashlib.sha256(), 0
        for line in _table_lines(conn, table):
            digest.update(line + b"\n")
            rows += 1
        out[table.name] = (rows, digest.hexdigest())
    return out


def _revision(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


# ----------------------------------------------------------------------- backup
@contextlib.contextmanager
def _snapshot(store) -> Iterator[sa.Connection]:  # noqa: ANN001
    """A connection that sees one consistent state of the store's database."""
    if store.dialect == "sqlite":
        source = store.engine.url.database
        workdir = tempfile.mkdtemp(prefix="kor-backup-")  # mode 0700
        copy = os.path.join(workdir, "snapshot.sqlite")
        try:
            src = sqlite3.connect(source, timeout=30)
            dst = sqlite3.connect(copy)
            try:
                src.backup(dst)  # the online backup API: one step, under a read lock
            finally:
                dst.close()
                src.close()
            engine = sa.create_engine(f"sqlite:///{copy}")
            try:
                with engine.connect() as conn:
                    yield conn
            finally:
                engine.dispose()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    else:
        with store.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn


def _record(store, actor: Actor, action: str, **detail: Any) -> None:  # noqa: ANN001
    """One audit row in the store's audit table (same shape as the store writes)."""
    audit = sa.Table("audit", sa.MetaData(), autoload_with=store.engine)
    with store.engine.begin() as conn:
        conn.execute(
            audit.insert().values(
                at=datetime.now().replace(microsecond=0),
                username=actor.username,
                role=actor.role,
                action=action,
                entity="database",
                entity_id=None,
                detail=json.dumps(detail, ensure_ascii=False),
            )
        )


def backup(store, actor: Actor, target: str | Path) -> BackupSummary:  # noqa: ANN001
    """Write a consistent backup of the whole database to ``target`` (admin only).

    store: an open :class:`kor.store.Store` (SQLite or PostgreSQL); the apps may keep
    writing meanwhile. The archive is written beside ``target`` and renamed into place,
    readable by its owner only. Returns the revision and rows per table archived.
    """
    actor = store._verified(actor)  # the stored role, as every store method (kor.store.acting)
    require_role(actor, "admin")
    target = Path(target)
    _record(store, actor, "backup", file=target.name)
    manifest: dict[str, Any] = {}

    def write(handle: BinaryIO) -> None:
        with (
            zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive,
            _snapshot(store) as conn,
        ):
            tables = _tables(conn)
            manifest.update(
                format=FORMAT,
                dialect=store.dialect,
                revision=_revision(conn),
                created=datetime.now().replace(microsecond=0).isoformat(),
                tables=[],
            )
            for table in tables:
                digest, rows = hashlib.sha256(), 0
                with archive.open(f"tables/{table.name}.jsonl", "w") as member:
                    for line in _table_lines(conn, table):
                        member.write(line + b"\n")
                        digest.update(line + b"\n")
                        rows += 1
                manifest["tables"].append(
                    {
                        "name": table.name,
                        "columns": [c.name for c in table.columns],
                        "rows": rows,
                        "sha256": digest.hexdigest(),
                    }
                )
            archive.writestr("manifest.json", json.dumps(manifest, indent=1))

    write_atomically(target, write)
    rows = {entry["name"]: entry["rows"] for entry in manifest["tables"]}
    return BackupSummary(path=target, revision=manifest["revision"], rows=rows)


# ---------------------------------------------------------------------- restore
def read_manifest(source: str | Path) -> dict[str, Any]:
    """The manifest of a backup archive; refuses files that are not one."""
    try:
        with zipfile.ZipFile(source) as archive:
            manifest = json.loads(archive.read("manifest.json"))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError):
        raise StoreError("backup.not_an_archive") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreError("backup.not_an_archive")
    return manifest


def _verify_archive(archive: zipfile.ZipFile, manifest: dict[str, Any]) -> None:
    """Every table file matches its checksum and row count (before anything is written)."""
    for entry in manifest["tables"]:
        digest, rows = hashlib.sha256(), 0
        try:
            with archive.open(f"tables/{entry['name']}.jsonl") as member:
                for line in member:
                    digest.update(line)
                    rows += 1
        except (KeyError, zipfile.BadZipFile, OSError):
            raise StoreError("backup.damaged", table=entry["name"]) from None
        if rows != entry["rows"] or digest.hexdigest() != entry["sha256"]:
            raise StoreError("backup.damaged", table=entry["name"])


def _archive_rows(archive: zipfile.ZipFile, entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The rows of one archived table as column -> JSON value."""
    with archive.open(f"tables/{entry['name']}.jsonl") as member:
        for line in member:
            yield dict(zip(entry["columns"], json.loads(line), strict=True))


def _restoring_actor(archive: zipfile.ZipFile, manifest: dict[str, Any], actor: Actor) -> Actor:
    """``actor`` as stored in the archive's ``app_user`` table, where it must be an active admin.

    The target database is empty, so the archive holds the only stored users there are: a
    restore is done by an admin of the data being restored (or the maintenance actor).
    """
    if actor is SYSTEM:
        return actor
    users = next((e for e in manifest["tables"] if e["name"] == "app_user"), None)
    rows = _archive_rows(archive, users) if users else iter(())
    for row in rows:
        if isinstance(actor, Actor) and row.get("username") == actor.username and row.get("active"):
            stored = Actor(username=actor.username, role=row["role"])
            require_role(stored, "admin")
            return stored
    raise AccessDenied("error.unknown_user", username="")


def _refuse_non_empty(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for name in sa.inspect(conn).get_table_names():
                if name in _SKIP:
                    continue
                table = sa.table(name)
                if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
                    raise StoreError("backup.target_not_empty", table=name)
    finally:
        engine.dispose()


def _sync_sequences(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """PostgreSQL: move each serial ``id`` sequence past the restored ids."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        if "id" not in table.columns:
            continue
        seq = conn.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%s, 'id')", (table.name,)
        ).scalar()
        if seq:
            conn.exec_driver_sql(
                f'SELECT setval(%s, COALESCE((SELECT MAX(id) FROM "{table.name}"), 0) + 1, false)',
                (seq,),
            )


def restore(url: str | None, actor: Actor, source: str | Path) -> BackupSummary:
    """Restore a backup archive into the EMPTY database at ``url`` (admin only).

    The archive is checked first (format, revision, checksums, and that ``actor`` is an
    active admin in its ``app_user`` table); the database must hold no
    row in any table. It is migrated to the workbench's revision, which must equal the
    archive's; then every table is loaded in one transaction, re-read and compared with
    the manifest's checksums before commit. Raises :class:`~kor.errors.StoreError` with
    a catalog key when any check fails; nothing is written then.
    """
    from kor.store import Store

    require_role(actor, "admin")  # the claimed role first; the stored one in the archive
    source = Path(source)
    manifest = read_manifest(source)
    with zipfile.ZipFile(source) as archive:
        _verify_archive(archive, manifest)
        actor = _restoring_actor(archive, manifest, actor)
    url = url or config.database_url()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    _refuse_non_empty(url)
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            revision = _revision(conn)
        if revision != manifest["revision"]:
            raise StoreError(
                "backup.revision_mismatch", archive=manifest["revision"], database=revision
            )
        with zipfile.ZipFile(source) as archive, store.engine.begin() as conn:
            tables = {tb.name: tb for tb in _tables(conn)}
            wanted = {e["name"]: e for e in manifest["tables"]}
            if set(wanted) != set(tables):
                raise StoreError("backup.schema_mismatch")
            for table in reversed(list(tables.values())):  # rows a migration may have seeded
                conn.execute(table.delete())
            for name, table in tables.items():
                entry = wanted[name]
                if set(entry["columns"]) != set(table.columns.keys()):
                    raise StoreError("backup.schema_mismatch")
                decoders = {c: _decoder(table.columns[c]) for c in entry["columns"]}
                batch: list[dict[str, Any]] = []
                for line_no, row in enumerate(_archive_rows(archive, entry), start=1):
                    if name == "client":  # the one client-code rule holds for restored codes too
                        check_client_code(row["code"], row=line_no, column="client.code")
                    batch.append({c: decoders[c](v) for c, v in row.items()})
                    if len(batch) >= _CHUNK:
                        conn.execute(table.insert(), batch)
                        batch = []
                if batch:
                    conn.execute(table.insert(), batch)
            _sync_sequences(conn, list(tables.values()))
            restored = _checksums(conn, list(tables.values()))
            for name, entry in wanted.items():
                if restored[name] != (entry["rows"], entry["sha256"]):
                    raise StoreError("backup.verify_failed", table=name)
        _record(store, actor, "restore", file=source.name, revision=revision)
    finally:
        store.close()
    rows = {e["name"]: e["rows"] for e in manifest["tables"]}
    return BackupSummary(path=source, revision=manifest["revision"], rows=rows)


# -------------------------------------------------------------------------- CLI
def _cmd_backup(args: argparse.Namespace) -> int:
    from kor.store import Store

    store = Store.open(args.database)
    try:
        summary = backup(store, store.current_actor(), args.file)
    finally:
        store.close()
    print(t("backup.cli.done", rows=summary.total, tables=len(summary.rows), path=str(args.file)))
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    # The target is empty, so the local (OS-level) operator acts: KOR_USER must name an
    # active admin of the archive being restored (restore checks it there).
    summary = restore(args.database, config.local_actor(), args.file)
    print(t("backup.cli.restored", rows=summary.total, tables=len(summary.rows)))
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kor backup FILE`` and ``kor restore FILE`` (both take ``--database URL``)."""
    for name, func, help_key in (
        ("backup", _cmd_backup, "backup.cli.help"),
        ("restore", _cmd_restore, "backup.cli.restore_help"),
    ):
        p = subparsers.add_parser(name, help=t(help_key), description=t(help_key))
        p.add_argument("file", type=Path, help=t("backup.cli.file"))
        p.add_argument("--database", default=None, help=t("cli.database"))
        p.set_defaults(func=func)
