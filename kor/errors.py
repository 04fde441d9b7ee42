"""One exception hierarchy for the workbench.

Messages are catalog keys (see :mod:`kor.i18n`), so a widget can show them in the
user's language; ``field``/``row``/``column`` say where the problem is. Nothing
here ever carries client data in its message: only positions, field names and
the offending value's *kind* when the value itself could identify a person.
"""

from __future__ import annotations

__all__ = [
    "KorError",
    "ValidationError",
    "MissingColumnsError",
    "OutOfRangeError",
    "ImportFileError",
    "StoreError",
    "ConflictError",
    "AccessDenied",
    "FormError",
    "ConfigError",
    "KorStatisticalWarning",
]


class KorError(Exception):
    """Root of every error the workbench raises on purpose."""


class ValidationError(KorError):
    """A value or record is not acceptable.

    key: catalog key of the message, e.g. ``"error.out_of_range"``.
    field: the logical field (``"ORS.socially"``); row/column: position in a file
    (row is 1-based as a spreadsheet shows it, header = row 1).
    params: values substituted into the message.
    """

    def __init__(
        self,
        key: str,
        *,
        field: str | None = None,
        row: int | None = None,
        column: str | None = None,
        **params: object,
    ) -> None:
        self.key = key
        self.field = field
        self.row = row
        self.column = column
        self.params = params
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        detail = ", ".join(f"{k}={v}" for k, v in self.params.items())
        text = self.key
        if where:
            text += " at " + ", ".join(where)
        if detail:
            text += f" ({detail})"
        return text

    def message(self, language: str | None = None) -> str:
        """The message in the user's language, with its position."""
        from kor.i18n import catalog, t

        # a parameter that is itself a catalog key (e.g. "age_group.adult") is shown translated
        params = {
            k: t(v, language=language) if isinstance(v, str) and v in catalog() else v
            for k, v in self.params.items()
        }
        text = t(self.key, language=language, **params)
        where = []
        if self.row is not None:
            where.append(t("error.where.row", language=language, row=self.row))
        if self.column is not None:
            where.append(t("error.where.column", language=language, column=self.column))
        if self.field is not None:  # as the user sees it, where the catalog names it
            label = f"field.{self.field}"
            field = (
                t(label, language=language)
                if label in catalog()
                else _item_field(self.field, language)
            )
            where.append(t("error.where.field", language=language, field=field))
        return f"{text} ({', '.join(where)})" if where else text


def _item_field(field: str, language: str | None) -> str:
    """A measure item's field (``ORS.overall``) as the form shows it («ORS: Generelt»).

    Anything else that the catalog does not name is returned unchanged.
    """
    from kor import measures
    from kor.i18n import t

    code, _, item = field.partition(".")
    try:
        measure = measures.get(code)
    except KorError:
        return field
    if item not in measure.items:
        return field
    return t("field.item", language=language, measure=code, item=measure.item_label(item, language))


class MissingColumnsError(ValidationError):
    """A frame or file lacks required columns."""

    def __init__(self, missing: list[str] | tuple[str, ...], *, where: str = "data") -> None:
        self.missing = list(missing)
        super().__init__("error.missing_columns", columns=", ".join(self.missing), where=where)


class OutOfRangeError(ValidationError):
    """A number lies outside its permitted range."""


class ImportFileError(KorError):
    """A file could not be imported; ``problems`` lists every problem found.

    Nothing is written when this is raised.
    """

    def __init__(self, path: str, problems: list[ValidationError]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(
            f"{path}: {len(problems)} problem(s); first: {problems[0] if problems else ''}"
        )

    def report(self, language: str | None = None) -> str:
        """One line per problem, in the user's language."""
        return "\n".join(f"{self.path}: {p.message(language)}" for p in self.problems)


class StoreError(KorError):
    """The database refused or failed an operation."""

    def __init__(self, key: str, **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(key + (f" ({params})" if params else ""))


class ConflictError(StoreError):
    """Someone else changed the record since it was read (optimistic locking)."""


class AccessDenied(KorError):
    """The acting user's role does not permit this read or write."""

    def __init__(self, key: str = "error.access_denied", **params: object) -> None:
        self.key = key
        self.params = params
        super().__init__(key)


class FormError(ValidationError):
    """A questionnaire/form definition is invalid (sheet, row, column)."""


class ConfigError(KorError):
    """The service's configuration file is invalid."""


class KorStatisticalWarning(UserWarning):
    """A statistical caveat: small groups, too few points, fallback model in use."""
