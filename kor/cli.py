"""The ``kor`` command: serve the apps, make sample data, import, export, migrate.

Every subcommand has ``--help``. Errors the user can fix (a bad file, an unknown
user) are printed as messages in the UI language, one per problem, with exit
code 2 and never a traceback; unexpected errors are logged without client data.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kor import config
from kor.access import SYSTEM, Actor
from kor.errors import ImportFileError, KorError, ValidationError
from kor.i18n import t
from kor.redact import exception_summary

__all__ = ["main", "project_root", "ensure_database"]

log = logging.getLogger("kor")


project_root = config.project_root


def _actor(store) -> Actor:  # noqa: ANN001
    """The acting user of the command line (see :meth:`kor.store.Store.current_actor`)."""
    return store.current_actor()


def ensure_database(*, load_sample: bool = True, sample_dir: Path | None = None) -> dict[str, int]:
    """Create/migrate the database; load the bundled sample when it holds no client;
    refit the expected-response model when it is due.

    Returns rows per table. Used by ``kor app`` so the first start has data to show.
    """
    from kor.frames import Dataset
    from kor.store import Store

    store = Store.open()
    try:
        if load_sample and store.is_empty():
            directory = sample_dir or project_root() / "data" / "sample"
            if (directory / "measurements.csv").exists():
                data = Dataset.read_csv(directory)
            else:
                from kor.sample import generate

                data = generate()
            store.load_dataset(SYSTEM, data)
        from kor.model_registry import ensure_expected_model

        ensure_expected_model(store)  # refits on the schedule (every 30 days)
        return store.counts(SYSTEM)
    finally:
        store.close()


def _local_user() -> str:
    """Who the apps act as, with the stored role (the one that counts), or the warning
    that this user is not stored, so the apps would only say «Ukjent bruker»."""
    from kor.errors import AccessDenied
    from kor.store import Store

    store = Store.open()
    try:
        actor = store.current_actor()
    except AccessDenied:
        return t("cli.app.user_unknown", user=config.local_actor().username)
    finally:
        store.close()
    return t("cli.app.user", user=actor.username, role=t(f"role.{actor.role}"))


def _cmd_app(args: argparse.Namespace) -> int:
    from kor import serve

    start = time.perf_counter()
    token = serve.app_token()  # a bad token file stops here, with a message
    counts = ensure_database(load_sample=not args.no_sample)
    print(
        t(
            "cli.app.ready",
            clients=counts["client"],
            sessions=counts["session"],
            seconds=f"{time.perf_counter() - start:.1f}",
        )
    )
    apps = project_root() / "notebooks"
    command = [
        sys.executable,
        "-m",
        "kor.serve",  # Voilà with the login token and the Host check (kor/serve.py)
        str(apps),
        f"--port={args.port}",
        "--Voila.port_retries=0",  # the printed address is the one served, or none
        f"--Voila.ip={args.host}",
        "--no-browser",
        "--show_tracebacks=False",
        "--strip_sources=True",
        "--template=kor",  # share/jupyter/voila/templates/kor: the root opens the start page
    ]  # the allow/deny lists of static files are in voila.json (read from the project root)
    print(t("cli.app.serving", url=serve.app_url(args.host, args.port, token)))
    if not os.environ.get("KOR_APP_TOKEN", "").strip():
        print(t("cli.app.token_file", path=str(serve.token_path())))
    print(_local_user(), flush=True)
    os.environ["KOR_APP_TOKEN"] = token  # the environment, not argv: ps shows argv to all
    os.environ["KOR_ALLOWED_HOSTS"] = ",".join(serve.allowed_hosts(args.allow_host))
    os.environ["KOR_DATA_DIR"] = str(config.data_dir())  # the kernels open this database
    templates = str(project_root() / "share" / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (templates, os.environ.get("JUPYTER_PATH")) if p
    )
    os.chdir(project_root())
    os.execv(sys.executable, command)
    return 0  # pragma: no cover - exec does not return


def _cmd_sample(args: argparse.Namespace) -> int:
    from kor.sample import generate
    from kor.store import Store

    start = time.perf_counter()
    data = generate(args.clients, seed=args.seed)
    print(
        t(
            "cli.sample.generated",
            clients=len(data.clients),
            sessions=len(data.sessions),
            seconds=f"{time.perf_counter() - start:.1f}",
        )
    )
    from kor.sample import DEFAULT_SEED

    out = args.out
    if out is None and (args.clients, args.seed) == (400, DEFAULT_SEED):
        out = project_root() / "data" / "sample"  # the bundled set; other sizes only on request
    if out is not None:
        data.to_csv(out)  # the same files write_sample() makes
        print(t("cli.sample.written", path=str(out)))
    if args.load:
        store = Store.open(args.database)
        try:
            counts = store.load_dataset(SYSTEM, data)
        finally:
            store.close()
        print(t("cli.sample.loaded", rows=sum(counts.values())))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from kor import fhir
    from kor.io import read_sessions
    from kor.store import Store

    store = Store.open(args.database)
    try:
        if fhir.is_bundle_file(args.file):  # JSON: a FHIR Bundle (docs/fhir.md)
            bundle = fhir.read_bundle(args.file)
            summary = fhir.import_bundle(store, _actor(store), bundle, source=str(args.file))
        else:
            rows = read_sessions(args.file)
            summary = store.import_sessions(_actor(store), rows, source=str(args.file))
    finally:
        store.close()
    print(
        t(
            "cli.import.done",
            sessions=summary.sessions,
            measurements=summary.measurements,
            unchanged=summary.unchanged,
        )
    )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from kor.io import write_sessions
    from kor.store import Store

    store = Store.open(args.database)
    try:
        rows = store.export_rows(_actor(store), team=args.team)
    finally:
        store.close()
    if args.fhir or args.file.suffix.lower() == ".json":  # a FHIR Bundle (docs/fhir.md)
        from datetime import datetime

        from kor import fhir

        fhir.write_resource(fhir.bundle_from_rows(rows, timestamp=datetime.now()), args.file)
    else:
        write_sessions(rows, args.file)
    print(t("cli.export.done", rows=len(rows), path=str(args.file)))
    return 0


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from kor.store import Store

    store = Store.open(args.database, migrate=False)
    try:
        revision = store.upgrade()
    finally:
        store.close()
    print(t("cli.db.upgraded", revision=revision))
    return 0


#: Modules that add their own subcommands: each has ``register_cli(subparsers)``, whose
#: handlers take the parsed arguments and return an exit code. A module that is not
#: there yet is skipped, so features can land one by one.
EXTENSIONS: tuple[str, ...] = (
    "kor.model_registry",
    "kor.report",
    "kor.store.backup",
    "kor.research",
    "kor.fhir",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(prog="kor", description=t("cli.description"))
    parser.add_argument("--language", choices=("nb", "en"), help=t("cli.language"))
    sub = parser.add_subparsers(dest="command", required=True)

    def database(p: argparse.ArgumentParser) -> None:
        p.add_argument("--database", default=None, help=t("cli.database"))

    app = sub.add_parser("app", help=t("cli.app.help"), description=t("cli.app.help"))
    app.add_argument("--port", type=int, default=8866)
    app.add_argument("--host", default="127.0.0.1", help=t("cli.app.host"))
    app.add_argument("--no-sample", action="store_true", help=t("cli.app.no_sample"))
    app.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME", help=t("cli.app.allow_host")
    )
    app.set_defaults(func=_cmd_app)

    sample = sub.add_parser("sample", help=t("cli.sample.help"), description=t("cli.sample.help"))
    sample.add_argument("--clients", type=int, default=400)
    sample.add_argument("--seed", type=int, default=20261123)  # kor.sample.DEFAULT_SEED
    sample.add_argument("--out", type=Path, default=None, help=t("cli.sample.out"))
    sample.add_argument("--no-load", dest="load", action="store_false", help=t("cli.sample.load"))
    database(sample)
    sample.set_defaults(func=_cmd_sample)

    imp = sub.add_parser("import", help=t("cli.import.help"), description=t("cli.import.help"))
    imp.add_argument("file", type=Path)
    database(imp)
    imp.set_defaults(func=_cmd_import)

    exp = sub.add_parser("export", help=t("cli.export.help"), description=t("cli.export.help"))
    exp.add_argument("file", type=Path, help=t("cli.export.file"))
    exp.add_argument("--team", default=None)
    exp.add_argument("--fhir", action="store_true", help=t("fhir.cli.export"))
    database(exp)
    exp.set_defaults(func=_cmd_export)

    db = sub.add_parser("db", help=t("cli.db.help"), description=t("cli.db.help"))
    dbsub = db.add_subparsers(dest="db_command", required=True)
    up = dbsub.add_parser("upgrade", help=t("cli.db.upgrade"), description=t("cli.db.upgrade"))
    database(up)
    up.set_defaults(func=_cmd_db_upgrade)

    import importlib

    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kor`` command; returns the exit code."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("kor").setLevel(logging.INFO)
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--language" in argv:
        from kor.i18n import set_language

        i = argv.index("--language")
        if i + 1 < len(argv) and argv[i + 1] in ("nb", "en"):
            set_language(argv[i + 1])
    args = build_parser().parse_args(argv)
    try:
        config.apply_service_config(config.load_service_config())
        return args.func(args)
    except ImportFileError as exc:
        print(exc.report(), file=sys.stderr)
        print(t("cli.nothing_written"), file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(exc.message(), file=sys.stderr)
        return 2
    except KorError as exc:
        key = getattr(exc, "key", None)
        print(t(key, **getattr(exc, "params", {})) if key else str(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - last line of defence: no traceback, no client data
        log.error("kor %s failed: %s", args.command, exception_summary(exc))
        print(t("error.generic"), file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
