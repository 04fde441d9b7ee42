"""Instrument declarations: ORS, SRS and their child, young-child and group variants.

Each measure is data, not code: items, range, when it is given, which age groups
and session formats it fits, cut-offs and alliance thresholds. One generic engine
(:func:`score`) validates and sums any declared measure, so adding a measure is one
:class:`Measure` plus :func:`register`.

Plug-ins: an installed package may declare measures through the entry point group
``kor.measures`` (:data:`PLUGIN_GROUP`); :func:`load_plugins` registers them when this
module is first imported, so they appear in the store, the analytics, the entry form
and the FHIR export without changes here (``docs/plugins.md``).

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
from importlib import metadata
from types import MappingProxyType
from typing import Literal

from kor import i18n
from kor.errors import ConfigError, OutOfRangeError, ValidationError
from kor.i18n import t

__all__ = [
    "AGE_GROUPS",
    "FORMATS",
    "MAX_ITEMS",
    "PLUGIN_GROUP",
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
    "load_plugins",
]

AGE_GROUPS: tuple[str, ...] = ("under_6", "age_6_12", "age_13_17", "adult")
FORMATS: tuple[str, ...] = ("individual", "group")
#: Most items a measure may have: the store and the files keep ``item1``..``item10``.
MAX_ITEMS: int = 10
#: Entry point group through which installed packages declare measures (plug-ins).
PLUGIN_GROUP: str = "kor.measures"
Kind = Literal["outcome", "alliance"]


@dataclass(frozen=True)
class Measure:
    """Declaration of one instrument (data, not code: :func:`score` is the engine).

    code: short code, also the catalog prefix (``measure.<code>.*``).
    items: item keys in form order; 1 to :data:`MAX_ITEMS` (the store keeps
    item1..item10).
    kind: ``"outcome"`` (ORS family) or ``"alliance"`` (SRS family).
    given: ``"start"`` or ``"end"`` of the session.
    age_groups / formats: where the measure fits (:data:`AGE_GROUPS`, :data:`FORMATS`).
    item_range: permitted item values in points, default 0.0-10.0 (the mark on a
    10 cm visual-analogue line); the total ranges over ``total_range`` (0.0-40.0 for
    four items). decimals: permitted decimals (1 = millimetres on the line).
    higher_is_better: direction of the total (True for every shipped measure).
    reliable_change: points of total change counted as reliable (outcome measures;
    ORS 5.0).
    cutoffs: clinical cut-off of the total per age group, points (outcome measures;
    ORS adult 25, age 13-17 28; CORS 6-12 32).
    alliance_threshold / alliance_drop / item_threshold: alliance warning rules
    (alliance measures), points: total below threshold (SRS 36), drop of at least
    ``alliance_drop`` from the previous session (1), any item below ``item_threshold``
    (9).
    reference: the validation study the numbers come from.
    labels: catalog entries the measure brings along (a plug-in has no catalog file),
    keyed relative to ``measure.<code>.``: ``{"name": {"nb": ..., "en": ...},
    "item.<item>": {...}}``; :func:`register` adds them, licensed wording from the
    configuration still goes over them, and keys of the shipped catalog are refused.

    References
    ----------
    Miller SD, Duncan BL, Brown J, Sparks JA, Claud DA. The Outcome Rating Scale: a
    preliminary study of the reliability, validity, and feasibility of a brief visual
    analog measure. J Brief Ther 2003;2(2):91-100.
    Duncan BL, Miller SD, Sparks JA et al. The Session Rating Scale: preliminary
    psychometric properties of a "working" alliance measure. J Brief Ther
    2003;3(1):3-12.

    Examples
    --------
    >>> toy = Measure(code="TOY", items=("a", "b"), kind="outcome", given="start",
    ...               age_groups=("adult",), item_range=(0.0, 3.0), decimals=0,
    ...               higher_is_better=False, reliable_change=2.0)
    >>> toy.total_range
    (0.0, 6.0)
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
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= len(self.items) <= MAX_ITEMS:
            raise ValueError(
                f"{self.code}: a measure has 1 to {MAX_ITEMS} items, not {len(self.items)}"
            )
        unknown = set(self.age_groups) - set(AGE_GROUPS)
        if unknown:
            raise ValueError(f"{self.code}: unknown age groups {sorted(unknown)}")
        object.__setattr__(self, "cutoffs", MappingProxyType(dict(self.cutoffs)))
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

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

    def anchors(self, item: str, language: str | None = None) -> tuple[str, str]:
        """The low and high end anchors of an item's 0-10 line.

        The licensed wording when the service configured it
        (``measure.<CODE>.anchor[.<item>].low``), else the short default of the kind
        (``measure.anchor.<kind>.low``); one place, so the clinician's form and the
        remote form a client fills in at home read the same.
        """
        keys = i18n.catalog()
        out = []
        for end in ("low", "high"):
            for key in (
                f"measure.{self.code}.anchor.{item}.{end}",
                f"measure.{self.code}.anchor.{end}",
                f"measure.anchor.{self.kind}.{end}",
            ):
                if key in keys:
                    out.append(t(key, language=language))
                    break
            else:
                out.append("")
        return out[0], out[1]


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
"""Outcome Rating Scale (ages 13+): four items 0.0-10.0 at the start of a session, total
0.0-40.0, higher is better; reliable change 5 points; clinical cut-off 25 (adults) and
28 (13-17). Miller SD, Duncan BL, Brown J et al. J Brief Ther 2003;2(2):91-100."""
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
"""Session Rating Scale (ages 13+, individual sessions): four items 0.0-10.0 at the end
of a session, total 0.0-40.0; alliance warning below 36, a drop of 1 point or more, or
(optional rule) any item below 9. Duncan BL, Miller SD, Sparks JA et al. J Brief Ther
2003;3(1):3-12."""
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
"""The registry: code -> :class:`Measure`, in registration order (ORS, CORS, YCORS, SRS,
CSRS, YCSRS, GSRS shipped). Change it with :func:`register` / :func:`unregister`."""


def register(measure: Measure, *, replace_existing: bool = False) -> Measure:
    """Add a measure declaration (or, with ``replace_existing``, change one); returns it.

    From then on :func:`score` validates it, :func:`measure_for` may pick it, and the
    analytics read its ``reliable_change``, ``cutoffs`` and alliance thresholds. A code
    already registered raises ``ValueError`` unless ``replace_existing``. Its labels are
    catalog keys ``measure.<code>.name`` / ``measure.<code>.item.<item>``.

    >>> from dataclasses import replace
    >>> strict = register(replace(ORS, reliable_change=6.0), replace_existing=True)
    >>> get("ORS").reliable_change
    6.0
    >>> _ = register(ORS, replace_existing=True)  # back to the shipped declaration
    """
    if measure.code in MEASURES and not replace_existing:
        raise ValueError(f"measure {measure.code!r} is already registered")
    if measure.labels:
        i18n.add_entries({f"measure.{measure.code}.{k}": v for k, v in measure.labels.items()})
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
    ``{"ORS": {"reliable_change": 6.0, "cutoffs": {"adult": 25.0}}}``. ``age_groups``
    narrows where a measure is given, so that a plug-in measure declared for the same
    age group takes its place in the entry form (:func:`measure_for` picks the first
    that fits): ``{"ORS": {"age_groups": ["age_13_17"]}}``.
    Unknown measures or fields raise ``ValueError`` naming them.
    """
    allowed = {
        "age_groups",
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
        fields = dict(overrides)
        if "age_groups" in fields:  # TOML gives a list; the declaration holds a tuple
            fields["age_groups"] = tuple(fields["age_groups"])
        MEASURES[code] = replace(MEASURES[code], **fields)  # type: ignore[arg-type]


_PLUGINS: dict[str, tuple[str, ...]] = {}  # entry point name -> codes it registered


def load_plugins() -> list[Measure]:
    """Register the measures that installed packages declare (entry points ``kor.measures``).

    Each entry point names a :class:`Measure`, a list of them, or a callable returning
    either, e.g. in the plug-in's ``pyproject.toml``::

        [project.entry-points."kor.measures"]
        demo = "kor_phq_demo:MEASURE"

    Called once when :mod:`kor.measures` is imported; calling it again loads only entry
    points not loaded yet. Returns the measures newly registered. A plug-in that cannot
    be imported, names something else than measures, or declares a code already
    registered (a shipped measure or another plug-in's) raises
    :class:`~kor.errors.ConfigError` naming the entry point: a service whose data may
    hold that measure should not start without it.
    """
    found: list[Measure] = []
    for ep in metadata.entry_points(group=PLUGIN_GROUP):
        name = f"{ep.name} = {ep.value}"
        if name in _PLUGINS:
            continue
        where = f"measure plug-in {name!r} (entry point group {PLUGIN_GROUP!r})"
        try:
            declared = ep.load()
            if callable(declared):
                declared = declared()
        except Exception as e:  # any failure of foreign code, reported as one error
            raise ConfigError(f"{where} failed to load: {type(e).__name__}: {e}") from e
        if isinstance(declared, Measure):
            declared = [declared]
        if (
            not isinstance(declared, list | tuple)
            or not declared
            or not all(isinstance(m, Measure) for m in declared)
        ):
            raise ConfigError(f"{where} must give a kor.measures.Measure or a list of them")
        for m in declared:
            if m.code in MEASURES:
                raise ConfigError(f"{where} declares measure {m.code!r}, already registered")
        for m in declared:
            try:
                register(m)
            except ValueError as e:
                raise ConfigError(f"{where}: {e}") from e
        _PLUGINS[name] = tuple(m.code for m in declared)
        found += declared
    return found


load_plugins()
