"""The one UI catalog: every label, message and axis title goes through :func:`t`.

Entries live in ``kor/catalog/*.toml`` (one file per area so that areas can grow
independently; keys are unique across files), each entry carrying both languages::

    "ors.item.socially" = { nb = "Sosialt", en = "Socially" }

Norwegian bokmål (``nb``) is the default, English (``en``) the switch. A service
may load its licensed instrument wording over the shipped short labels with
:func:`add_overrides` (see :mod:`kor.config`). A measure plug-in brings its own labels,
added with :func:`add_entries` (see :func:`kor.measures.register`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources

__all__ = [
    "LANGUAGES",
    "t",
    "set_language",
    "get_language",
    "catalog",
    "add_overrides",
    "add_entries",
]

LANGUAGES = ("nb", "en")
_state = {"language": os.environ.get("KOR_LANGUAGE", "nb")}
_overrides: dict[str, dict[str, str]] = {}
_entries: dict[str, dict[str, str]] = {}  # added by plug-ins, below the overrides


@cache
def catalog() -> dict[str, dict[str, str]]:
    """All entries, key -> {language: text}. Raises if a key is defined twice."""
    entries: dict[str, dict[str, str]] = {}
    files = sorted(
        (f for f in resources.files("kor.catalog").iterdir() if f.name.endswith(".toml")),
        key=lambda f: f.name,
    )
    for f in files:
        data = tomllib.loads(f.read_text(encoding="utf-8"))
        for key, value in data.items():
            if key in entries:
                raise ValueError(f"catalog key {key!r} defined twice (again in {f.name})")
            entries[key] = value
    return entries


def set_language(language: str) -> None:
    """Switch the UI language for this process (``"nb"`` or ``"en"``)."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {LANGUAGES}")
    _state["language"] = language


def get_language() -> str:
    """The current UI language."""
    return _state["language"] if _state["language"] in LANGUAGES else "nb"


def add_overrides(entries: dict[str, dict[str, str]]) -> None:
    """Replace shipped texts, e.g. with a service's licensed item wording."""
    for key, value in entries.items():
        _overrides.setdefault(key, {}).update(value)


def add_entries(entries: Mapping[str, Mapping[str, str]]) -> None:
    """Add entries the shipped catalog lacks (a plug-in measure's labels).

    A key the shipped catalog defines raises ``ValueError``; overrides
    (:func:`add_overrides`, licensed wording) still go over the added entries.
    """
    clash = sorted(set(entries) & set(catalog()))
    if clash:
        raise ValueError(f"catalog key {clash[0]!r} is shipped; a plug-in cannot redefine it")
    for key, value in entries.items():
        _entries[key] = dict(value)


def t(key: str, *, language: str | None = None, **params: object) -> str:
    """The text for ``key`` in ``language`` (default: current), with ``{params}`` filled.

    A missing key returns the key itself, so a screen never breaks; the test
    suite makes sure no key used in the code is missing. When ``n`` is 1 and the
    catalog has ``key + ".one"``, that entry is used: «1 økt», not «1 økter».
    """
    lang = language or get_language()
    if params.get("n") == 1 and f"{key}.one" in catalog():
        key = f"{key}.one"
    entry = catalog().get(key) or _entries.get(key, {})
    if key in _overrides:
        entry = entry | _overrides[key]
    if not entry:
        return key
    text = entry.get(lang) or entry.get("nb") or key
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text
