"""Client codes: pseudonymous by rule, never a name or a national identity number.

A client code is 3-20 letters, digits, ``-`` or ``_``. Anything that could be a
Norwegian national identity number (fødselsnummer/D-nummer: 11 digits, maybe
split 6+5) is refused outright, and the refusal never echoes the value.
"""

from __future__ import annotations

import re

from kor.errors import ValidationError

__all__ = ["CLIENT_CODE", "looks_like_national_id", "check_client_code"]

CLIENT_CODE = re.compile(r"^[A-Za-z0-9_-]{3,20}$")
_NATIONAL_ID = re.compile(r"\d{6}[\s.-]?\d{5}")


def looks_like_national_id(text: str) -> bool:
    """True if ``text`` contains 11 digits in a row (or 6 + 5 with a separator)."""
    return bool(_NATIONAL_ID.search(text))


def check_client_code(code: object, *, row: int | None = None, column: str | None = None) -> str:
    """Return the code if acceptable; raise :class:`ValidationError` (without the value) if not."""
    text = "" if code is None else str(code).strip()
    if not CLIENT_CODE.match(text) or looks_like_national_id(text):
        raise ValidationError("error.client_code", field="client_code", row=row, column=column)
    return text
