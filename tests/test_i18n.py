"""The one catalog: every key in both languages, every key used in the code defined."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kor import i18n, measures

ROOT = Path(__file__).resolve().parents[1]
KEY_USE = re.compile(r"""\bt\(\s*(?:f?)["']([a-z_][a-z0-9_.]*[a-z0-9_])["']""")
KEY_ARG = re.compile(r"""(?:Error|Denied)\(\s*["']((?:error|flag|spc|io)\.[a-z0-9_.]+)["']""")


def test_every_catalog_entry_has_bokmal_and_english_text():
    missing = [k for k, v in i18n.catalog().items() if not v.get("nb") or not v.get("en")]
    assert missing == []


def test_every_literal_key_used_in_the_code_is_in_the_catalog():
    keys = set(i18n.catalog())
    used: set[str] = set()
    for package in ("kor", "widgets", "surveys"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            used |= {k for k in KEY_USE.findall(text) if "{" not in k}
            used |= set(KEY_ARG.findall(text))
    assert sorted(used - keys) == []


@pytest.mark.parametrize("code", sorted(measures.MEASURES))
def test_every_measure_and_item_has_a_label(code):
    m = measures.MEASURES[code]
    for lang in i18n.LANGUAGES:
        assert i18n.t(f"measure.{code}.name", language=lang) != f"measure.{code}.name"
        for item in m.items:
            key = f"measure.{code}.item.{item}"
            assert i18n.t(key, language=lang) != key


def test_language_switch_and_parameters():
    assert i18n.t("error.where.row", language="nb", row=3) == "rad 3"
    assert i18n.t("error.where.row", language="en", row=3) == "row 3"
    i18n.set_language("en")
    try:
        assert i18n.t("role.clinician") == "Clinician"
    finally:
        i18n.set_language("nb")
    assert i18n.t("role.clinician") == "Behandler"


def test_licensed_wording_overrides_the_short_label():
    key = "measure.ORS.item.individually"
    i18n.add_overrides({key: {"nb": "Meg selv (lisensiert tekst)"}})
    try:
        assert i18n.t(key, language="nb") == "Meg selv (lisensiert tekst)"
        assert i18n.t(key, language="en") == "Individually"
    finally:
        i18n._overrides.pop(key)


def test_a_count_of_one_takes_the_singular_entry():
    assert i18n.t("clinician.n_sessions", language="nb", n=1) == "1 økt"
    assert i18n.t("clinician.n_sessions", language="nb", n=2) == "2 økter"
    assert i18n.t("clinician.n_sessions", language="en", n=1) == "1 session"
    assert i18n.t("clinician.n_sessions", language="en", n=0) == "0 sessions"
