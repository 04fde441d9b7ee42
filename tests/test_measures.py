"""Measure declarations and the generic scoring engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from kor import measures
from kor.access import SYSTEM
from kor.errors import OutOfRangeError, ValidationError
from kor.frames import session_table
from kor.measures import CORS, GSRS, ORS, SRS, YCORS, Measure, check_fits, measure_for, score

ORS_VALUES = {"individually": 5, "interpersonally": 6, "socially": 7, "overall": 4}


def test_cutoffs_by_age_group_follow_the_literature():
    assert ORS.cutoff("adult") == 25.0
    assert ORS.cutoff("age_13_17") == 28.0
    assert CORS.cutoff("age_6_12") == 32.0
    assert YCORS.cutoff("under_6") is None
    assert ORS.reliable_change == CORS.reliable_change == 5.0


def test_alliance_thresholds_are_declared_on_every_alliance_measure():
    for m in measures.MEASURES.values():
        if m.kind == "alliance":
            assert (m.alliance_threshold, m.alliance_drop, m.item_threshold) == (36.0, 1.0, 9.0)
            assert m.given == "end"
        else:
            assert m.given == "start"


@pytest.mark.parametrize(
    ("age_group", "format", "kind", "code"),
    [
        ("adult", "individual", "outcome", "ORS"),
        ("adult", "group", "outcome", "ORS"),
        ("adult", "individual", "alliance", "SRS"),
        ("adult", "group", "alliance", "GSRS"),
        ("age_13_17", "individual", "alliance", "SRS"),
        ("age_6_12", "individual", "outcome", "CORS"),
        ("age_6_12", "individual", "alliance", "CSRS"),
        ("under_6", "individual", "outcome", "YCORS"),
        ("under_6", "individual", "alliance", "YCSRS"),
    ],
)
def test_the_right_form_for_age_group_and_format(age_group, format, kind, code):
    assert measure_for(kind, age_group, format).code == code


def test_score_sums_items_and_accepts_decimal_comma():
    result = score(ORS, {**ORS_VALUES, "socially": "7,5"})
    assert result["total"] == 22.5 and result["socially"] == 7.5


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (10.1, "error.out_of_range"),
        (-0.1, "error.out_of_range"),
        (75, "error.out_of_range"),
        (7.25, "error.too_many_decimals"),
        ("sju", "error.not_a_number"),
        (None, "error.missing_item"),
        (float("nan"), "error.missing_item"),
        (float("inf"), "error.not_a_number"),
        (True, "error.not_a_number"),
    ],
)
def test_bad_item_value_is_refused_naming_the_field(value, key):
    with pytest.raises(ValidationError) as err:
        score(ORS, {**ORS_VALUES, "socially": value})
    assert err.value.key == key
    assert err.value.field == "ORS.socially"


def test_out_of_range_is_its_own_error_class():
    with pytest.raises(OutOfRangeError):
        score(SRS, {"relationship": 11, "goals_topics": 9, "approach_method": 9, "overall": 9})


def test_missing_and_unknown_items_are_named():
    with pytest.raises(ValidationError) as err:
        score(ORS, {k: v for k, v in ORS_VALUES.items() if k != "overall"})
    assert err.value.field == "ORS.overall"
    with pytest.raises(ValidationError) as err:
        score(ORS, {**ORS_VALUES, "mood": 3})
    assert err.value.key == "error.unknown_item" and err.value.field == "ORS.mood"


def test_edges_of_the_line_are_valid():
    assert score(ORS, dict.fromkeys(ORS.items, 0.0))["total"] == 0.0
    assert score(ORS, dict.fromkeys(ORS.items, 10.0))["total"] == 40.0


def test_wrong_form_for_age_group_or_format_names_the_right_one():
    with pytest.raises(ValidationError) as err:
        check_fits(ORS, "age_6_12", "individual")
    assert err.value.params["expected"] == "CORS"
    with pytest.raises(ValidationError) as err:
        check_fits(GSRS, "adult", "individual")
    assert err.value.key == "error.measure_format"


def test_age_group_from_birth_year():
    on = date(2026, 6, 1)
    assert measures.age_group_for(2021, on) == "under_6"
    assert measures.age_group_for(2020, on) == "age_6_12"
    assert [measures.age_group_for(2026 - a, on) for a in (5, 6, 12, 13, 17, 18)] == [
        "under_6",
        "age_6_12",
        "age_6_12",
        "age_13_17",
        "age_13_17",
        "adult",
    ]


def test_service_configuration_changes_thresholds_without_code():
    saved = dict(measures.MEASURES)
    try:
        measures.configure({"ORS": {"reliable_change": 6.0, "cutoffs": {"adult": 24.0}}})
        assert measures.get("ORS").reliable_change == 6.0
        assert measures.get("ORS").cutoff("adult") == 24.0
        with pytest.raises(ValueError, match="items"):
            measures.configure({"ORS": {"items": ("a",)}})
        with pytest.raises(ValueError, match="XYZ"):
            measures.configure({"XYZ": {}})
    finally:
        measures.MEASURES.clear()
        measures.MEASURES.update(saved)


def test_a_new_measure_is_one_declaration_and_works_end_to_end(store, small_service):
    """A made-up three-item wellbeing line: declared, entered, stored, read back."""
    wellbeing = Measure(
        code="WB3",
        items=("sleep", "energy", "mood"),
        kind="outcome",
        given="start",
        age_groups=("adult",),
        reliable_change=4.0,
        cutoffs={"adult": 20.0},
    )
    saved = dict(measures.MEASURES)
    try:
        measures.unregister("ORS")  # the service replaces ORS by its own measure
        measures.register(wellbeing)
        assert measure_for("outcome", "adult").code == "WB3"
        ingrid = small_service["ingrid.berg"]
        store.add_client(ingrid, "K00077", team="VOP", age_group="adult")
        start = date.today() - timedelta(days=14)
        ep = store.open_episode(ingrid, "K00077", start=start)
        store.record_session(
            ingrid,
            ep,
            session_date=start,
            measurements={"WB3": {"sleep": 3.0, "energy": 4.5, "mood": 5.0}},
        )
        table = session_table(store.dataset(ingrid))
        assert table.outcome_measure.tolist() == ["WB3"]
        assert table.outcome.tolist() == [12.5]
        with pytest.raises(ValidationError) as err:
            store.record_session(
                ingrid, ep, session_date=start, measurements={"WB3": {"sleep": 3.0}}
            )
        assert err.value.field == "WB3.energy"
        assert store.counts(SYSTEM)["measurement"] == 1
    finally:
        measures.MEASURES.clear()
        measures.MEASURES.update(saved)


def test_declarations_refuse_impossible_shapes():
    with pytest.raises(ValueError):
        replace(ORS, items=tuple(f"i{k}" for k in range(measures.MAX_ITEMS + 1)))
    with pytest.raises(ValueError):
        replace(ORS, age_groups=("pensioner",))
