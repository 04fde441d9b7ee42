"""Store methods for «Bruker spør bruker» surveys (mixed into :class:`kor.store.Store`)."""

from __future__ import annotations


class SurveyStoreMixin:
    """Survey, questionnaire and response persistence. Filled in by the BSB work."""
