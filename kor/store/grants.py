"""Store methods for access grants (mixed into :class:`kor.store.Store`)."""

from __future__ import annotations


class GrantStoreMixin:
    """Time-limited grants that widen a role's client-level access. Filled in by the grants work."""
