"""Where the data lives and who is acting, from the environment and a service's config file.

Settings (environment first, then defaults):

* ``KOR_DATA_DIR``: directory of the embedded database (default ``var`` under the project
  root, outside the served ``notebooks/`` folder so no data file can be served).
* ``KOR_DATABASE_URL``: a SQLAlchemy URL; default the SQLite file ``<data dir>/kor.sqlite``.
  PostgreSQL: ``postgresql+psycopg://user@host:5432/db``.
* ``KOR_USER`` / ``KOR_ROLE`` / ``KOR_TEAM``: the single local user of the embedded default
  (:func:`local_actor`; without them the sample's team lead, never an admin).
  Under JupyterHub (``JUPYTERHUB_USER`` set) these are ignored and the user's role comes
  from the database (:meth:`kor.store.Store.current_actor`).
* ``KOR_CONFIG``: a TOML file with a service's settings::

      [measures.ORS]
      reliable_change = 5.0
      cutoffs = { adult = 25.0, age_13_17 = 28.0 }

      [wording."measure.ORS.item.individually"]   # licensed wording, if the service has it
      nb = "..."
      en = "..."

      [flags.alliance_item]                       # switch a rule on, change a threshold
      enabled = true
      [flags.alliance_low]
      threshold = 35.0

      [fhir]                                      # FHIR exchange (kor.fhir, docs/fhir.md)
      base = "https://fhir.eksempel.kommune.no/kor"

      [analysis]                                  # whose ratings change, flags and
      outcome_rater = "client"                    # indicators use (kor.raters): the
                                                  # client's own (default), or "parent",
                                                  # "teacher", "other"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from kor.access import Actor
from kor.errors import ConfigError

__all__ = [
    "project_root",
    "data_dir",
    "database_url",
    "local_actor",
    "DEFAULT_LOCAL_USER",
    "load_service_config",
    "apply_service_config",
]


def project_root() -> Path:
    """The checkout holding ``pyproject.toml`` (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def data_dir() -> Path:
    """The data directory (created if missing).

    A relative ``KOR_DATA_DIR`` (default ``var``) is taken from the project root, not the
    working directory: Voilà kernels run inside ``notebooks/``, and must open the same
    database as ``kor app`` did, never one inside the served folder.
    """
    path = Path(os.environ.get("KOR_DATA_DIR", "var"))
    path = (path if path.is_absolute() else project_root() / path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """The database URL: ``KOR_DATABASE_URL`` or the embedded SQLite file."""
    url = os.environ.get("KOR_DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    return f"sqlite:///{data_dir() / 'kor.sqlite'}"


#: The local user when neither ``KOR_USER`` nor ``KOR_ROLE`` is set: the bundled sample's
#: team lead of VOP (:data:`kor.sample.STAFF`). Every app but research is theirs, and the
#: clinician app works for their team's clinicians; an admin is only ever asked for.
DEFAULT_LOCAL_USER = Actor(username="guro.nesheim", role="team_lead", team="VOP")


def local_actor() -> Actor:
    """The acting user of a single-user installation (the embedded default).

    Not an admin unless ``KOR_ROLE=admin``: the apps act as this user for whoever reaches
    them, so the default must not be the role that grants, reads the audit trail and
    restores backups. A user that is not admin must be stored (the sample registers its
    staff); their stored role and team then win over ``KOR_ROLE``/``KOR_TEAM``
    (:meth:`kor.store.Store.current_actor`). ``KOR_ROLE=admin`` alone acts as ``admin``,
    which the store registers on first use.
    """
    username = os.environ.get("KOR_USER")
    role = os.environ.get("KOR_ROLE")
    if not username and not role:
        return DEFAULT_LOCAL_USER
    if not username:
        username = "admin" if role == "admin" else DEFAULT_LOCAL_USER.username
    return Actor(
        username=username, role=role or "clinician", team=os.environ.get("KOR_TEAM") or None
    )


def load_service_config(path: str | Path | None = None) -> dict[str, Any]:
    """Read the service's TOML settings (``KOR_CONFIG``); empty if none is configured."""
    path = path or os.environ.get("KOR_CONFIG")
    if not path:
        return {}
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from None


def apply_service_config(settings: dict[str, Any]) -> None:
    """Apply measure settings and licensed wording from a loaded configuration."""
    from kor import flags, i18n, measures

    unknown = set(settings) - {"measures", "wording", "flags", "fhir", "analysis"}
    if unknown:
        raise ConfigError(f"unknown configuration sections: {sorted(unknown)}")
    try:
        measures.configure(settings.get("measures", {}))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    i18n.add_overrides(settings.get("wording", {}))
    flags.configure(settings.get("flags", {}))
    if "analysis" in settings:  # the outcome rater (kor.raters.configure)
        from kor import raters

        raters.configure(settings["analysis"])
    if "fhir" in settings:  # canonical base and identifier systems (kor.fhir.configure)
        from kor import fhir

        fhir.configure(settings["fhir"])
