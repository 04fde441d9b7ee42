"""Client codes: pseudonymous by rule, never a name or a national identity number.

A client code is 3-20 letters, digits, ``-`` or ``_``. One check,
:func:`check_client_code`, guards every path that creates a client (the store, the
session import, the apps through the store, and a restore from backup), and it refuses
a code that contains a Norwegian national identity number:

* any run of 11 or more digits in a row, whatever the digits (a code of 11 bare digits is
  never a sensible pseudonym, and a mistyped fødselsnummer must not slip through);
* 11 digits split by separators (``010190-12345``, ``0101_90_12345``, ``x311299-56715``)
  when they are *valid-looking*: a birth date in the first six digits (day, month and
  two-digit year; D-numbers add 4 to the first digit, H-numbers 4 to the third, test
  numbers 8 to the third) and both modulus-11 check digits right, or an FH-number
  (first digit 8 or 9, both check digits right). The check digits keep ordinary codes
  that happen to hold a date and a serial (``240315-00017``) from being refused by
  accident: about one such code in 121 passes both checks.

:func:`national_ids_in` finds valid-looking numbers in free text (comments, project
notes) in the same separator forms, so the store can flag or refuse them. Neither
function ever echoes the value.

References: Skatteetaten, «Fødselsnummer» (check digits with weights 3 7 6 1 8 9 4 5 2
and 5 4 3 2 7 6 5 4 3 2); Direktoratet for e-helse, «FH-nummer» (HITS 1121:2010).
"""

from __future__ import annotations

import re

from kor.errors import ValidationError

__all__ = [
    "CLIENT_CODE",
    "is_national_id",
    "national_ids_in",
    "looks_like_national_id",
    "is_client_code",
    "check_client_code",
]

CLIENT_CODE = re.compile(r"^[A-Za-z0-9_-]{3,20}$")
_BARE_RUN = re.compile(r"\d{11}")
# digits with at most three separators between neighbours: space, . - _ / (and NBSP)
_SEPARATED = re.compile(r"\d(?:[\s.\-_/\u00a0]{0,3}\d)+")
_SEPARATOR = re.compile(r"[\s.\-_/\u00a0]")
_WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _check_digit(digits: str, weights: tuple[int, ...]) -> int | None:
    """The modulus-11 check digit of ``digits``; None where it would be 10 (never issued)."""
    rest = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    digit = (11 - rest) % 11
    return None if digit == 10 else digit


def _plausible_birth_date(digits: str) -> bool:
    """Day and month of a fødselsnummer, D-number (day + 40) or H/test number (month + 40/80)."""
    day, month = int(digits[0:2]), int(digits[2:4])
    if day > 40:
        day -= 40
    if month > 80:
        month -= 80
    elif month > 40:
        month -= 40
    return 1 <= day <= 31 and 1 <= month <= 12


def is_national_id(digits: str) -> bool:
    """True if the 11 ``digits`` are a valid-looking fødselsnummer, D-, H- or FH-number.

    >>> is_national_id("31129956715"), is_national_id("02016126007")
    (True, True)
    >>> is_national_id("01019012345")  # the first check digit would be 10
    False
    """
    if len(digits) != 11 or not digits.isascii() or not digits.isdigit():
        return False
    k1 = _check_digit(digits[:9], _WEIGHTS_1)
    k2 = _check_digit(digits[:10], _WEIGHTS_2)
    if k1 is None or k2 is None or digits[9:] != f"{k1}{k2}":
        return False
    return digits[0] in "89" or _plausible_birth_date(digits)


def national_ids_in(text: str) -> int:
    """How many valid-looking national identity numbers ``text`` holds, in any separator form.

    Every 11-digit window of every run of digits (separators between digits dropped) is
    checked with :func:`is_national_id`.

    >>> national_ids_in("ring 311299 56715 eller 02.01.61-260.07"), national_ids_in("tlf 41234567")
    (2, 0)
    """
    found = 0
    for match in _SEPARATED.finditer(str(text)):
        digits = _SEPARATOR.sub("", match.group())
        found += sum(is_national_id(digits[i : i + 11]) for i in range(len(digits) - 10))
    return found


def looks_like_national_id(text: str) -> bool:
    """True if ``text`` holds 11 digits in a row, or a valid-looking number in any form."""
    text = str(text)
    return bool(_BARE_RUN.search(text)) or national_ids_in(text) > 0


def is_client_code(code: object) -> bool:
    """True if ``code`` (stripped) is an acceptable client code: the one rule of this module."""
    text = "" if code is None else str(code).strip()
    return bool(CLIENT_CODE.match(text)) and not looks_like_national_id(text)


def check_client_code(code: object, *, row: int | None = None, column: str | None = None) -> str:
    """Return the code if acceptable; raise :class:`ValidationError` (without the value) if not."""
    if not is_client_code(code):
        raise ValidationError("error.client_code", field="client_code", row=row, column=column)
    return str(code).strip()
