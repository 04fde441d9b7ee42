"""Instrument declarations: ORS, SRS and their child, young-child and group variants.

Each measure is data, not code: items, range, when it is given, which age groups
and session formats it fits, cut-offs and alliance thresholds. One generic engine
(:func:`score`) validates and sums any declared measure, so adding a measure is one
:class:`Measure` plus :func:`register`.

Licensing: ORS/SRS and variants are copyrighted (Miller & Duncan). We ship only
their structure and short domain labels (catalog keys ``measure.<CODE>.item.<item>``);
a service with a licence loads its wording over them as configuration
(:mod:`kor.config`).

Numbers and their sources (all configurable):

* clinical cut-offs, ORS total: 25 adults, 28 adolescents 13-17, 32 children 6-12
  (CORS). Miller SD, Duncan BL et al. J Brief Ther 2003;2(2):91-100; Duncan BL et
  al. J Brief Ther 2006;5(2):71-87.
* reliable change: 5 points (ORS manual; Miller & Duncan 2004).
* alliance: SRS total below 36, or a drop of 1 point or more from the previous
  session; any item below 9 as an optional, weaker rule (Duncan BL et al. J Brief
  Ther 2003;3(1):3-12; as the licensed FIT systems alert).
* YCORS/YCSRS (under 6, faces) have no validated cut-off; none is declared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Literal

from kor.errors import OutOfRangeError, ValidationError
from kor.i18n import t

__all__ = [
    "AGE_GROUPS",
    "FORMATS",
    "Measure",
    "MEASURES",
    "ORS",
    "SRS",
    "CORS",
    "CSRS",
    "YCORS",
    "YCSRS",
    "GSRS",
    "codes",
    "register",
    "unregister",
    "get",
    "measure_for",
    "age_group_for",
    "score",
    "check_fits",
    "configure",
]

AGE_GROUPS: tuple[str, ...] = ("under_6", "age_6_12", "age_13_17", "adult")
FORMATS: tuple[str, ...] = ("individual", "group")
Kind = Literal["outcome", "alliance"]


@dataclass(frozen=True)
class Measure:
    """Declaration of one instrument.

    code: short code, also the catalog prefix (``measure.<code>.*``).
    items: item keys in form order; at most four (the store keeps item1..item4).
    kind: ``"outcome"`` (ORS family) or ``"alliance"`` (SRS family).
    given: ``"start"`` or ``"end"`` of the session.
    age_groups / formats: where the measure fits.
    item_range: permitted item values; decimals: permitted decimals (1 = millimetres
    on a 10 cm line).
    reliable_change: points of total change counted as reliable (outcome measures).
    cutoffs: clinical cut-off of the total per age group (outcome measures).
    alliance_threshold / alliance_drop / item_threshold: alliance warning rules
    (alliance measures): total below threshold, drop of at least ``alliance_drop``
    from the previous session, any item below ``item_threshold``.
    """

    code: str
    items: tuple[str, ...]
    kind: Kind
    given: Literal["start", "end"]
    age_groups: tuple[str, ...]
    formats: tuple[str, ...] = FORMATS
    item_range: tuple[float, float] = (0.0, 10.0)
    decimals: int = 1
    higher_is_better: bool = True
    reliable_change: float | None = None
    cutoffs: Mapping[str, float] = field(default_factory=dict)
    alliance_threshold: float | None = None
    alliance_drop: float | None = None
    item_threshold: float | None = None
    reference: str = ""

    def __post_init__(self) -> None:
        if not 1 <= len(self.items) <= 4:
            raise ValueError(f"{self.code}: a measure has 1 to 4 items, not {len(self.items)}")
        unknown = set(self.age_groups) - set(AGE_GROUPS)
        if unknown:
            raise ValueError(f"{self.code}: unknown age groups {sorted(unknown)}")
        object.__setattr__(self, "cutoffs", MappingProxyType(dict(self.cutoffs)))

    @property
    def total_range(self) -> tuple[float, float]:
        """Range of the total score."""
        low, high = self.item_range
        return (low * len(self.items), high * len(self.items))

    def cutoff(self, age_group: str) -> float | None:
        """Clinical cut-off of the total for ``age_group``, or None if none is declared."""
        return self.cutoffs.get(age_group)

    def label(self, language: str | None = None) -> str:
        """Short name shown in the UI."""
        return t(f"measure.{self.code}.name", language=language)

    def item_label(self, item: str, language: str | None = None) -> str:
        """Short domain label of one item (licensed wording if configured)."""
        return t(f"measure.{self.code}.item.{item}", language=language)


ORS = Measure(
    code="ORS",
    items=("individually", "interpersonally", "socially", "overall"),
    kind="outcome",
    given="start",
    age_groups=("age_13_17", "adult"),
    reliable_change=5.0,
    cutoffs={"adult": 25.0, "age_13_17": 28.0},
    reference="Miller SD, Duncan BL, Brown J et al. J Brief Ther 2003;2(2):91-100",
)
CORS = replace(
    ORS,
    code="CORS",
    items=("me", "family", "school", "everything"),
    age_groups=("age_6_12",),
    cutoffs={"age_6_12": 32.0},
    reference="Duncan BL, Sparks JA, Miller SD et al. J Brief Ther 2006;5(2):71-87",
)
YCORS = replace(CORS, code="YCORS", age_groups=("under_6",), cutoffs={})
SRS = Measure(
    code="SRS",
    items=("relationship", "goals_topics", "approach_method", "overall"),
    kind="alliance",
    given="end",
    age_groups=("age_13_17", "adult"),
    formats=("individual",),
    alliance_threshold=36.0,
    alliance_drop=1.0,
    item_threshold=9.0,
    reference="Duncan BL, Miller SD, Sparks JA et al. J Brief Ther 2003;3(1):3-12",
)
CSRS = replace(
    SRS,
    code="CSRS",
    items=("listening", "how_important", "what_we_did", "overall"),
    age_groups=("age_6_12",),
    formats=FORMATS,
)
YCSRS = replace(CSRS, code="YCSRS", age_groups=("under_6",))
GSRS = replace(
    SRS,
    code="GSRS",
    formats=("group",),
    reference="Quirk K, Miller SD, Duncan BL, Owen J. Psychother Res 2013;23(2):171-80",
)

_DEFAULTS = (ORS, CORS, YCORS, SRS, CSRS, YCSRS, GSRS)
MEASURES: dict[str, Measure] = {m.code: m for m in _DEFAULTS}


def register(measure: Measure, *, replace_existing: bool = False) -> Measure:
    """Add a measure declaration (or, with ``replace_existing``, change one)."""
    if measure.code in MEASURES and not replace_existing:
        raise ValueError(f"measure {measure.code!r} is already registered")
    MEASURES[measure.code] = measure
    return measure


def unregister(code: str) -> None:
    """Remove a measure (tests and configuration use this)."""
    MEASURES.pop(code, None)


def get(code: str) -> Measure:
    """The declared measure ``code``; raises a ValidationError if unknown."""
    try:
        return MEASURES[code]
    except KeyError:
        raise ValidationError("error.unknown_measure", field="measure", measure=code) from None


def codes(kind: Kind) -> list[str]:
    """Codes of the registered measures of ``kind``, in registration order."""
    return [code for code, m in MEASURES.items() if m.kind == kind]


def measure_for(kind: Kind, age_group: str, format: str = "individual") -> Measure:
    """The measure of ``kind`` to give a client of ``age_group`` in a ``format`` session.

    The first registered measure that fits wins, so the shipped declarations are
    the defaults and a service's own measure can take over with ``replace_existing``.
    """
    if age_group not in AGE_GROUPS:
        raise ValidationError("error.unknown_age_group", field="age_group", age_group=age_group)
    for m in MEASURES.values():
        if m.kind == kind and age_group in m.age_groups and format in m.formats:
            return m
    raise ValidationError("error.unknown_measure", field="measure", measure=f"{kind}/{age_group}")


def age_group_for(birth_year: int, on: date) -> str:
    """Age group from birth year at date ``on`` (age = year difference; no birthday is stored)."""
    age = on.year - int(birth_year)
    if age < 6:
        return "under_6"
    if age <= 12:
        return "age_6_12"
    if age <= 17:
        return "age_13_17"
    return "adult"


def check_fits(measure: Measure, age_group: str, format: str) -> None:
    """Raise if ``measure`` is the wrong form for this age group or session format."""
    if age_group not in measure.age_groups:
        expected = measure_for(measure.kind, age_group, format).code
        raise ValidationError(
            "error.measure_age_group",
            field="measure",
            measure=measure.code,
            age_group=f"age_group.{age_group}",
            expected=expected,
        )
    if format not in measure.formats:
        raise ValidationError(
            "error.measure_format",
            field="measure",
            measure=measure.code,
            format=f"format.{measure.formats[0]}" if len(measure.formats) == 1 else "format.any",
        )


def _as_number(value: object, fieldname: str, label: str) -> float:
    """Parse one item value; accepts Norwegian decimal comma in strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ValidationError("error.missing_item", field=fieldname, item=label)
    if isinstance(value, bool):
        raise ValidationError("error.not_a_number", field=fieldname)
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-").replace(",", ".")
        if not text:
            raise ValidationError("error.missing_item", field=fieldname, item=label)
        try:
            return float(text)
        except ValueError:
            raise ValidationError("error.not_a_number", field=fieldname) from None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError("error.not_a_number", field=fieldname) from None
    if math.isnan(number) or math.isinf(number):
        raise ValidationError("error.not_a_number", field=fieldname)
    return number


def score(measure: Measure, values: Mapping[str, object]) -> dict[str, float]:
    """Validate item values and return ``{item: value, ..., "total": sum}``.

    values: item key -> number (or a string with decimal point or comma).
    Raises :class:`ValidationError` naming the field (``"ORS.socially"``) for a
    missing or unknown item, a non-number, a value out of range, or more decimals
    than the measure permits. Nothing is rounded silently.

    >>> score(ORS, {"individually": 5, "interpersonally": "6,5", "socially": 7, "overall": 4.2})
    {'individually': 5.0, 'interpersonally': 6.5, 'socially': 7.0, 'overall': 4.2, 'total': 22.7}
    """
    unknown = set(values) - set(measure.items)
    if unknown:
        item = sorted(unknown)[0]
        raise ValidationError(
            "error.unknown_item", field=f"{measure.code}.{item}", item=item, measure=measure.code
        )
    low, high = measure.item_range
    scale = 10**measure.decimals
    result: dict[str, float] = {}
    for item in measure.items:
        name = f"{measure.code}.{item}"
        label = f"measure.{measure.code}.item.{item}"  # a catalog key: shown translated
        if item not in values:
            raise ValidationError("error.missing_item", field=name, item=label)
        number = _as_number(values[item], name, label)
        if not low <= number <= high:
            raise OutOfRangeError("error.out_of_range", field=name, low=low, high=high)
        if abs(number * scale - round(number * scale)) > 1e-6:
            raise ValidationError("error.too_many_decimals", field=name)
        result[item] = round(number, measure.decimals)
    result["total"] = round(sum(result[i] for i in measure.items), measure.decimals)
    return result


def configure(settings: Mapping[str, Mapping[str, object]]) -> None:
    """Apply a service's settings to the declared measures.

    settings: measure code -> field overrides, e.g.
    ``{"ORS": {"reliable_change": 6.0, "cutoffs": {"adult": 25.0}}}``.
    Unknown measures or fields raise ``ValueError`` naming them.
    """
    allowed = {
        "reliable_change",
        "cutoffs",
        "alliance_threshold",
        "alliance_drop",
        "item_threshold",
    }
    for code, overrides in settings.items():
        if code not in MEASURES:
            raise ValueError(f"configuration names unknown measure {code!r}")
        bad = set(overrides) - allowed
        if bad:
            raise ValueError(
                f"measure {code}: cannot configure {sorted(bad)}; allowed {sorted(allowed)}"
            )
        MEASURES[code] = replace(MEASURES[code], **overrides)  # type: ignore[arg-type]
