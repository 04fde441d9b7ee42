"""The one gate every public store method passes: the acting user as stored, clean errors.

:func:`verify_actors` wraps, on the finished :class:`kor.store.Store` class, every
public method whose first parameter is ``actor`` (the store's own and its mixins'
alike). The wrapped method

* receives the actor *as stored*: role and team re-read from ``app_user`` on every call
  (``Store._verified``), so an unregistered or deactivated name is refused and a forged
  role gets no more than the stored one;
* refuses a text argument holding a NUL byte, naming the argument (PostgreSQL cannot
  store one and its driver's refusal would carry the SQL);
* turns a database error into a :class:`~kor.errors.StoreError` with a catalog key and
  no chained cause, so neither the SQL nor a bound value (a client code, a comment)
  reaches a message, a log line or a traceback.

Doing this in one wrapper, not in each method, is what makes "every public method" true
for the next method too: a test enumerates the public methods and calls each with a
forged actor.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa

from kor.errors import StoreError, ValidationError

__all__ = ["verify_actors", "acting_methods"]

T = TypeVar("T", bound=type)


def _refuse_nul(signature: inspect.Signature, args: tuple, kwargs: dict) -> None:
    """Raise if a text argument (or a text inside a list or mapping argument) holds NUL."""
    bound = signature.bind_partial(None, None, *args, **kwargs).arguments
    named: list[tuple[str, Any]] = []
    for name, value in list(bound.items())[2:]:
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            named.extend(value.items())  # **filters: name the filter, not "filters"
        else:
            named.append((name, value))
    for name, value in named:
        if isinstance(value, Mapping):
            values = list(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            values = list(value)
        else:
            values = [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise ValidationError("error.nul_byte", field=name)


def _acting(method: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(method)

    @functools.wraps(method)
    def call(self, actor, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
        verified = self._verified(actor)
        _refuse_nul(signature, args, kwargs)
        try:
            return method(self, verified, *args, **kwargs)
        except sa.exc.IntegrityError:
            raise StoreError("error.store.constraint") from None
        except sa.exc.SQLAlchemyError:
            raise StoreError("error.database") from None

    call.verifies_actor = True  # type: ignore[attr-defined]
    return call


def acting_methods(cls: type) -> list[str]:
    """Names of the public methods of ``cls`` whose first parameter is ``actor``."""
    names = []
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_"):
            continue
        parameters = list(inspect.signature(member).parameters)
        if parameters[1:2] == ["actor"]:
            names.append(name)
    return names


def verify_actors(cls: T) -> T:
    """Class decorator: wrap every public ``actor`` method of ``cls`` (see the module doc)."""
    for name in acting_methods(cls):
        member = getattr(cls, name)
        if not getattr(member, "verifies_actor", False):
            setattr(cls, name, _acting(member))
    return cls
