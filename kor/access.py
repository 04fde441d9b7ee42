"""Who is acting, and what each role may see.

Every public read and write of :mod:`kor.store` takes an :class:`Actor`; the store
asks this module which clients the actor may see, so access rules live in one
place and a notebook user cannot bypass them by calling the library with another
widget. The roles follow the privacy design:

* clinician: own clients (episodes where they are the clinician);
* team_lead: clients of their team, and team aggregates;
* quality_lead: aggregates across teams; client level across teams;
* researcher: pseudonymised extracts only, never client-level reads;
* admin: everything, including the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from kor.errors import AccessDenied

__all__ = ["ROLES", "Actor", "SYSTEM", "require_role", "client_scope"]

ROLES: tuple[str, ...] = ("clinician", "team_lead", "quality_lead", "researcher", "admin")


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


#: The actor of the workbench's own maintenance (migrations, sample load from the CLI).
SYSTEM = Actor(username="system", role="admin")


def require_role(actor: Actor, *roles: str) -> None:
    """Raise :class:`AccessDenied` unless ``actor`` has one of ``roles``."""
    if actor.role not in roles:
        raise AccessDenied()


def client_scope(actor: Actor) -> tuple[str, str | None]:
    """Which clients ``actor`` may read at client level.

    Returns ``("all", None)``, ``("team", team_code)`` or ``("own", username)``;
    raises :class:`AccessDenied` for roles that never read client-level rows.
    """
    if actor.role in ("admin", "quality_lead"):
        return ("all", None)
    if actor.role == "team_lead":
        if not actor.team:
            raise AccessDenied()
        return ("team", actor.team)
    if actor.role == "clinician":
        return ("own", actor.username)
    raise AccessDenied()
