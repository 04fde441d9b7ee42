"""The free-text detector flags names, phone numbers, e-mail and national ids; the coder decides."""

from __future__ import annotations

import pandas as pd
import pytest

from surveys.free_text import (
    bulk_approvable,
    find_identifying,
    flag_kinds,
    merge_identical,
)
from surveys.sample import _COMMENT_CODES


def _found(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in find_identifying(text)]


@pytest.mark.parametrize(
    "number",
    [
        "41234567",
        "412 34 567",
        "41 23 45 67",
        "+47 412 34 567",
        "+4741234567",
        "0047 41 23 45 67",
        "+47 4123 4567",
        "22 33 44 55",
    ],
)
def test_norwegian_phone_numbers_in_their_usual_forms_are_flagged(number):
    assert _found(f"Ring meg på {number}.") == [("phone", number)]


@pytest.mark.parametrize(
    "text",
    [
        "Kontonummer 12345678901",  # 11 digits: not a phone number
        "Ventetid 2019 2020 var lang",  # two years
        "Gruppe kl. 20.30-21.30",  # a time range
        "Jeg ventet 14 dager",
        "Postnummer 0150",
        "01234567 er ikke et nummer",  # a national number starts with 2-9
    ],
)
def test_numbers_that_are_not_phone_numbers_are_not_flagged(text):
    assert [k for k, _ in _found(text) if k == "phone"] == []


def test_names_in_the_middle_of_a_sentence_or_known_first_names_are_flagged():
    assert _found("Jeg snakket med Kari Hansen i går") == [("name", "Kari Hansen")]
    assert _found("Kari Hansen sa at det gikk bra") == [("name", "Kari Hansen")]
    assert _found("Etterpå Ole Brum ringte") == [("name", "Ole Brum")]
    assert _found("Takk til Ingrid, hun er flink") == [("name", "Ingrid")]
    assert _found("Fastlegen min, dr. Nilsen, svarer ikke") == [("name", "Nilsen")]
    assert _found("Psykolog Berg hører på meg") == [("name", "Berg")]
    assert _found("Anne-Lise Moe er god") == [("name", "Anne-Lise Moe")]


def test_sentence_starts_abbreviations_and_word_names_at_a_start_are_not_names():
    for text in (
        "Samtalene hjelper meg. Gruppen er fin!",
        "NAV og DPS snakker ikke sammen.",
        "Per i dag går det bra.",  # «per» = as of
        "Hans bror er med på gruppen.",  # «hans» = his
        "Liv og røre på huset. Tom for kaffe.",
    ):
        assert _found(text) == [], text
    assert _found("Jeg snakker med Per hver uke.") == [("name", "Per")]


def test_email_addresses_win_over_the_names_in_them():
    text = "Skriv til Kari.Hansen@kommune.no"
    assert _found(text) == [("email", "Kari.Hansen@kommune.no")]


def test_flag_kinds_include_national_identity_numbers_in_a_fixed_order():
    assert flag_kinds("kari@x.no, 412 34 567, Kari, 311299 56715") == [
        "national_id",
        "name",
        "phone",
        "email",
    ]
    assert flag_kinds("Bra tilbud, god hjelp.") == []


def test_the_invented_sample_comments_flag_nothing():
    assert [text for text in _COMMENT_CODES if flag_kinds(text)] == []


def test_bulk_approval_takes_coded_unapproved_unflagged_comments_of_the_theme():
    comments = pd.DataFrame(
        {
            "comment_id": [1, 2, 3, 4, 5],
            "text": ["Bra.", "Ring Kari på 41234567", "Fint", "Greit", "Lang ventetid"],
            "themes": [["tilgang"], ["tilgang"], ["tilgang"], ["relasjon"], []],
            "approved": [False, False, True, False, False],
        }
    )
    assert bulk_approvable(comments, "tilgang") == [1]  # 2 names someone, 3 is approved
    assert bulk_approvable(comments, "relasjon") == [4]
    assert bulk_approvable(comments.iloc[0:0], "tilgang") == []


def test_identical_quotes_are_merged_per_theme_and_group_with_a_count():
    quotes = pd.DataFrame(
        {
            "theme": ["tilgang", "tilgang", "tilgang", "tilgang", "relasjon"],
            "respondent": ["user", "user", "staff", "user", "user"],
            "text": ["Lang ventetid.", "lang  ventetid", "Lang ventetid.", "Bra", "Bra"],
        }
    )
    merged = merge_identical(quotes)
    assert merged.values.tolist() == [
        ["tilgang", "user", "Lang ventetid.", 2],
        ["tilgang", "staff", "Lang ventetid.", 1],
        ["tilgang", "user", "Bra", 1],
        ["relasjon", "user", "Bra", 1],
    ]
    assert merge_identical(quotes.iloc[0:0]).columns.tolist() == [
        "theme",
        "respondent",
        "text",
        "count",
    ]
