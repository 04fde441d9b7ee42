"""Free-text comments: flag what may identify someone, approve in bulk, merge identical quotes.

Interview comments are typed in the interviewer's words and can name a person («Kari
Hansen på kontoret…»), give a phone number or an e-mail address. A coder must see that
*before* approving a comment for the report. :func:`find_identifying` is a deliberately
simple detector: it **flags, the coder decides**. It is tuned to miss little, so it also
flags place and organisation names written like names («Røde Kors»), which a coder
simply approves. What it looks for (each a :class:`Finding` with its ``kind``):

``phone``
    a Norwegian phone number: 8 digits, first digit 2-9, written together
    (``41234567``) or grouped as ``412 34 567`` / ``41 23 45 67`` (spaces, ``-`` or
    ``.``), optionally after ``+47`` or ``0047``; with the country code also
    ``4123 4567``. Digits that run on into more digits (an account or national
    identity number) are not a phone number.
``email``
    an e-mail address (``navn@domene.no``).
``name``
    * two or more capitalised words in a row that do not start a sentence
      (``… snakket med Kari Hansen``), or that start with a common first name
      (``Kari Hansen sa …``); all-capital abbreviations (``NAV``, ``DPS``) are not names;
    * a common Norwegian first name (:data:`FIRST_NAMES`, a short shipped list from
      SSB's most frequent names; a double name counts by its first part, «Anne-Lise»),
      wherever it stands, except that the few names that are
      also ordinary words («Per», «Liv», «Tor», «Vår», ...: :data:`WORD_NAMES`) are
      flagged only when they do not start a sentence;
    * a capitalised word after a title (``psykolog Berg``, ``lege Nilsen``).

National identity numbers are found by :func:`kor.pseudonyms.national_ids_in`; a comment
holding one can never be approved (the store refuses), so :func:`flag_kinds` reports it
as ``national_id`` next to the kinds above.

Nothing here logs or raises with the text; findings are positions and kinds.

References: Statistisk sentralbyrå, «Navn» (most frequent first names in Norway),
https://www.ssb.no/befolkning/navn; Nasjonal kommunikasjonsmyndighet, «Nummerplan for
telefoni» (8-digit national numbers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from kor.pseudonyms import national_ids_in

__all__ = [
    "FIRST_NAMES",
    "WORD_NAMES",
    "TITLES",
    "KINDS",
    "Finding",
    "find_identifying",
    "flag_kinds",
    "bulk_approvable",
    "merge_identical",
]

#: The kinds of finding, in the order a coder is told about them.
KINDS: tuple[str, ...] = ("national_id", "name", "phone", "email")

#: Common Norwegian first names (SSB's most frequent, women and men), capitalised.
FIRST_NAMES: frozenset[str] = frozenset(
    """
    Anne Inger Kari Marit Ingrid Liv Eva Berit Astrid Bjørg Hilde Anna Solveig Marianne
    Randi Ida Nina Ragnhild Elisabeth Kristin Bente Heidi Silje Hanne Gerd Linda Tone
    Monica Grete Camilla Ellen Julie Mari Nora Emma Sara Sofie Maria Ingeborg Else Karin
    Lise Turid Wenche Mona Ann Åse Siri Sissel Unni Torill Gunn Helene Hege Kristine Marte
    Thea Emilie Maja Ella Olivia Frida Tuva Vilde Malin Anette Kjersti Line Trine Elin
    Jan Per Bjørn Ole Lars Kjell Knut Arne Svein Hans Geir Tor Morten Terje Odd Erik
    Martin Andreas John Anders Rune Trond Tore Harald Jon Olav Øyvind Gunnar Jørgen Thomas
    Rolf Leif Einar Espen Stian Kristian Magnus Henrik Daniel Fredrik Even Håkon Sindre
    Jonas Mathias Emil Noah Oskar Lucas Filip Aksel Jakob William Sander Tobias
    Petter Nils Steinar Roger Frode Vidar Helge Dag Eirik Sigurd Ivar Kåre Asbjørn Aud
    Ragnar Tom Paul Ali Mohammed Ahmed Mustafa Fatima Amina Aisha Piotr Vår Siv Eli Ola
    """.split()
)

#: First names that are also ordinary Norwegian words: flagged only mid-sentence.
WORD_NAMES: frozenset[str] = frozenset(
    {"Per", "Liv", "Tor", "Vår", "Dag", "Tom", "Hans", "Tone", "Line", "Eli"}
)

#: Titles that are followed by a surname («psykolog Berg»); lower case, as written mid-sentence.
TITLES: frozenset[str] = frozenset(
    """
    dr doktor lege legen fastlege fastlegen psykolog psykologen psykiater psykiateren
    sykepleier sykepleieren terapeut terapeuten behandler behandleren kontaktperson
    kontaktpersonen saksbehandler saksbehandleren miljøarbeider miljøterapeut
    herr fru frøken
    """.split()
)

_WORD = r"[A-ZÆØÅ][a-zæøåéèüöäá]+(?:-[A-ZÆØÅ][a-zæøåéèüöäá]+)?"
_NOT_LETTER_BEFORE = r"(?<![\wÆØÅæøå])"
_NOT_LETTER_AFTER = r"(?![\wÆØÅæøå])"
_CAPITALISED_RUN = re.compile(
    rf"{_NOT_LETTER_BEFORE}({_WORD})(?:[ \u00a0]+{_WORD})+{_NOT_LETTER_AFTER}"
)
_CAPITALISED = re.compile(rf"{_NOT_LETTER_BEFORE}{_WORD}{_NOT_LETTER_AFTER}")
_TITLED = re.compile(
    rf"{_NOT_LETTER_BEFORE}(?P<title>[A-Za-zÆØÅæøå]+)\.?[ \u00a0]+"
    rf"(?P<name>{_WORD}){_NOT_LETTER_AFTER}"
)
_S = r"[ \u00a0]"  # the separator inside a phone number: a space
_GROUPED = rf"(?:\d{{8}}|\d{{3}}{_S}\d{{2}}{_S}\d{{3}}|\d{{2}}{_S}\d{{2}}{_S}\d{{2}}{_S}\d{{2}})"
_PHONE = re.compile(
    rf"(?<![\d+])(?<!\d{_S})"
    rf"(?:(?:\+|00)47{_S}?(?:(?=[2-9]){_GROUPED}|[2-9]\d{{3}}{_S}\d{{4}})|(?=[2-9]){_GROUPED})"
    rf"(?!\d|{_S}\d)"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: what may stand between a sentence break and the first word: spaces, quotes, dashes
_LEAD = " \t\u00a0«\"'(-–—"


@dataclass(frozen=True)
class Finding:
    """Something in a comment that may identify a person: ``kind`` in :data:`KINDS`,
    ``start``/``end`` the character span (Python slice) in the text."""

    kind: str
    start: int
    end: int


def _starts_sentence(text: str, position: int) -> bool:
    """True at the text's start or after . ! ? : ; … or a line break (quotes, dashes between)."""
    before = text[:position].rstrip(_LEAD)
    return before == "" or before[-1] in ".!?:;…\n"


def _first_name(word: str) -> bool:
    """A common first name, or a double name of them («Anne-Lise»)."""
    return word.split("-")[0] in FIRST_NAMES


def find_identifying(text: str) -> list[Finding]:
    """Names, phone numbers and e-mail addresses in ``text`` (rules: module docstring).

    Findings are sorted by position and do not overlap (an e-mail address is not also
    a name). National identity numbers are counted by :func:`flag_kinds`.

    >>> [f.kind for f in find_identifying("Ring Kari Hansen på 412 34 567 eller kari@x.no")]
    ['name', 'phone', 'email']
    >>> find_identifying("NAV og dere snakker ikke sammen. Brosjyren er vanskelig.")
    []
    """
    text = str(text)
    found: list[Finding] = []
    for match in _EMAIL.finditer(text):
        found.append(Finding("email", match.start(), match.end()))
    for match in _PHONE.finditer(text):
        found.append(Finding("phone", match.start(), match.end()))
    for match in _CAPITALISED_RUN.finditer(text):
        start = match.start()
        if not _starts_sentence(text, start) or _first_name(match.group(1)):
            found.append(Finding("name", start, match.end()))
        else:  # «Etterpå Kari Hansen …» at a sentence start: the run after the first word
            rest = _CAPITALISED_RUN.search(text, match.end(1), match.end())
            if rest is not None:
                found.append(Finding("name", rest.start(), rest.end()))
    for match in _CAPITALISED.finditer(text):
        word = match.group()
        if not _first_name(word):
            continue
        if word in WORD_NAMES and _starts_sentence(text, match.start()):
            continue
        found.append(Finding("name", match.start(), match.end()))
    for match in _TITLED.finditer(text):
        if match.group("title").lower() in TITLES:
            found.append(Finding("name", match.start("name"), match.end("name")))
    return _without_overlaps(found)


def _without_overlaps(found: Iterable[Finding]) -> list[Finding]:
    """Keep the earliest, then longest finding of overlapping ones (e-mail wins over name)."""
    priority = {"email": 0, "phone": 1, "name": 2}
    out: list[Finding] = []
    for f in sorted(found, key=lambda f: (priority[f.kind], f.start, -(f.end - f.start))):
        if all(f.end <= g.start or f.start >= g.end for g in out):
            out.append(f)
    return sorted(out, key=lambda f: f.start)


def flag_kinds(text: str) -> list[str]:
    """The kinds of identifying detail in ``text``, in :data:`KINDS` order (empty: none).

    >>> flag_kinds("Per i dag går det bra."), flag_kinds("Snakk med Per, tlf 91234567")
    ([], ['name', 'phone'])
    """
    kinds = {f.kind for f in find_identifying(text)}
    if national_ids_in(str(text)):
        kinds.add("national_id")
    return [k for k in KINDS if k in kinds]


def bulk_approvable(comments: pd.DataFrame, theme: str) -> list[int]:
    """Ids of the comments that may be approved together under ``theme``.

    comments: :meth:`kor.store.Store.survey_comments` (``themes`` a list per comment,
    ``flags`` the :func:`flag_kinds` of its text). A comment qualifies when it is coded
    to ``theme``, not yet approved, and flags nothing: a comment that may name someone
    is approved one at a time, after the coder has read it, and one with a national
    identity number never.
    """
    if comments.empty:
        return []
    flags = comments["flags"] if "flags" in comments else comments["text"].map(flag_kinds)
    chosen = (
        comments["themes"].map(lambda codes: theme in codes)
        & ~comments["approved"].astype(bool)
        & (flags.map(len) == 0)
    )
    return [int(x) for x in comments.loc[chosen, "comment_id"]]


def _same_text(text: str) -> str:
    return " ".join(str(text).split()).casefold().rstrip(".!")


def merge_identical(quotes: pd.DataFrame) -> pd.DataFrame:
    """Identical quotes once, with how many said it.

    quotes: one row per quote with ``theme``, ``respondent`` and ``text``. Texts are the
    same when they differ only in case, spacing and a closing full stop or «!».
    Returns ``theme``, ``respondent``, ``text`` (the first wording), ``count`` (>= 1),
    one row per theme, respondent group and text, in the order first seen.

    >>> q = pd.DataFrame({"theme": ["a", "a", "a"], "respondent": ["user"] * 3,
    ...                   "text": ["Bra.", "bra", "Dårlig"]})
    >>> merge_identical(q)[["text", "count"]].values.tolist()
    [['Bra.', 2], ['Dårlig', 1]]
    """
    columns = ["theme", "respondent", "text", "count"]
    if quotes.empty:
        return pd.DataFrame(columns=columns)
    keyed = quotes.assign(_key=quotes["text"].map(_same_text))
    merged = keyed.groupby(["theme", "respondent", "_key"], sort=False).agg(
        text=("text", "first"), count=("text", "size")
    )
    return merged.reset_index()[columns].astype({"count": "int64"})
