"""Store methods for improvement projects (mixed into :class:`kor.store.Store`)."""

from __future__ import annotations


class CycleStoreMixin:
    """Improvement projects, goals, change log and evaluations. Filled in by the cycle work."""
