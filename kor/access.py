"""Who is acting, and what each role may see.

Every public read and write of :mod:`kor.store` takes an :class:`Actor`; the store
asks this module which clients the actor may see, so access rules live in one
place and a notebook user cannot bypass them by calling the library with another
widget. The roles follow the privacy design:

* clinician: own clients (episodes where they are the clinician), plus the clients of
  a team they hold a ``team_clients`` grant for (e.g. covering for a colleague);
* team_lead: clients of their team, and team aggregates;
* quality_lead: aggregates across teams. Without a ``client_level`` grant the session
  table reaches them with client codes replaced by opaque pseudonyms
  (:func:`client_pseudonym`), so dashboards, indicators and reports work but no code is
  visible; with the grant, real codes;
* researcher: pseudonymised extracts only, never client-level reads;
* admin: everything, including the audit trail, and the only role that grants.

Grants (:class:`Grant`) are time-limited and stored by :mod:`kor.store.grants`; the store
passes the actor's unexpired grants to :func:`client_scope`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from kor.errors import AccessDenied

__all__ = [
    "ROLES",
    "GRANT_KINDS",
    "GRANTABLE",
    "Actor",
    "Grant",
    "Scope",
    "SYSTEM",
    "require_role",
    "client_scope",
    "client_pseudonym",
    "client_id_of",
]

ROLES: tuple[str, ...] = ("clinician", "team_lead", "quality_lead", "researcher", "admin")

#: What a grant widens: the clients of one team, or client level across the service.
GRANT_KINDS: tuple[str, ...] = ("team_clients", "client_level")
#: The role each kind of grant is for (a grant to another role would have no effect,
#: so the store refuses to make one).
GRANTABLE: dict[str, str] = {"team_clients": "clinician", "client_level": "quality_lead"}


@dataclass(frozen=True)
class Actor:
    """The acting user: who, in which role, and (for clinicians and leads) which team."""

    username: str
    role: str
    team: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise AccessDenied("error.unknown_role", role=self.role)
        if not self.username:
            raise AccessDenied("error.unknown_user", username="")


@dataclass(frozen=True)
class Grant:
    """An unexpired grant held by the actor: its kind and, for ``team_clients``, the team code."""

    kind: str
    team: str | None = None


@dataclass(frozen=True)
class Scope:
    """Which clients an actor reads, and how.

    ``everyone``: every client; otherwise the episodes held by ``clinician`` plus the
    clients of ``teams``. ``pseudonymised``: client codes are replaced by
    :func:`client_pseudonym` (and a client filter names a pseudonym, not a code).
    """

    everyone: bool = False
    teams: frozenset[str] = frozenset()
    clinician: str | None = None
    pseudonymised: bool = False


#: The maintenance actor of the workbench (migrations, sample load from the CLI).
SYSTEM = Actor(username="system", role="admin")

_PSEUDONYM = re.compile(r"^P#(\d{6,})$")


def require_role(actor: Actor, *roles: str) -> None:
    """Raise :class:`AccessDenied` unless ``actor`` has one of ``roles``."""
    if actor.role not in roles:
        raise AccessDenied()


def client_scope(actor: Actor, grants: Iterable[Grant] = ()) -> Scope:
    """Which clients ``actor`` may read at client level, given their unexpired ``grants``.

    Raises :class:`AccessDenied` for roles that never read client-level rows (researcher,
    and a team lead without a team). Grants of a kind not meant for the role are ignored.
    """
    kinds = {g.kind for g in grants}
    if actor.role == "admin":
        return Scope(everyone=True)
    if actor.role == "quality_lead":
        return Scope(everyone=True, pseudonymised="client_level" not in kinds)
    if actor.role == "team_lead":
        if not actor.team:
            raise AccessDenied()
        return Scope(teams=frozenset({actor.team}))
    if actor.role == "clinician":
        teams = frozenset(g.team for g in grants if g.kind == "team_clients" and g.team)
        return Scope(teams=teams, clinician=actor.username)
    raise AccessDenied()


def client_pseudonym(client_id: int) -> str:
    """The stable opaque stand-in for a client's code: ``P#`` and the internal id, 6+ digits.

    ``#`` is not allowed in a client code (:data:`kor.pseudonyms.CLIENT_CODE`), so a
    pseudonym is never mistaken for, or equal to, a real code. It carries nothing but the
    internal id, which the pseudonymised reader already sees in the dataset's id columns.

    >>> client_pseudonym(17)
    'P#000017'
    """
    return f"P#{int(client_id):06d}"


def client_id_of(pseudonym: str) -> int | None:
    """The internal client id a :func:`client_pseudonym` stands for, or None if it is not one.

    >>> client_id_of("P#000017"), client_id_of("K00017")
    (17, None)
    """
    match = _PSEUDONYM.match(str(pseudonym))
    return int(match.group(1)) if match else None
