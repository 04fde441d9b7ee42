"""FHIR R4 exchange: measures and the default BSB form as Questionnaire resources,
measurements as QuestionnaireResponse resources in a Bundle, and the way back.

No public FHIR Questionnaire or LOINC code exists for ORS/SRS, so every resource here is
written by us under one canonical base (:data:`DEFAULT_BASE`, configurable: section
``[fhir]`` of the service configuration, see :func:`configure`). The mapping, the
canonical URLs and what is and is not carried are documented in ``docs/fhir.md``; in
short:

* :func:`questionnaire`: one Questionnaire per declared measure, ``url =
  <base>/Questionnaire/<CODE>``, one ``decimal`` item per measure item (``linkId`` = the
  item key, 0-10, one decimal) plus a read-only ``total``. Item texts are the catalog's
  short labels (``measure.<CODE>.item.<item>``), or the service's licensed wording where
  its configuration loads one (:mod:`kor.config`); the forms' instructions and anchors
  are never shipped.
* :func:`bsb_questionnaire`: the «Bruker spør bruker» form, a ``group`` per section.
* :func:`bundle_from_rows`: rows of the import/export format (:data:`kor.frames.FILE_COLUMNS`)
  -> a ``transaction`` Bundle (or ``collection``) of QuestionnaireResponse resources;
  client = pseudonymous client code as ``subject.identifier``, clinician as
  ``author.identifier``, session date as ``authored``, episode start, session number,
  format, team, age group and birth year as extensions.
* :func:`rows_from_bundle`: the way back, validated: every resource against the
  ``fhir.resources`` R4B model classes (the elements used here are the same in R4), then
  against the Questionnaire (status, canonical, identifier systems, extensions, linkIds,
  answer types), then every value with the checks of the file import
  (:func:`kor.io.read_cells`: client code, dates, choices, measure fits the age group,
  items 0-10 with one decimal, totals). Every problem is a
  :class:`~kor.errors.ValidationError` whose ``field`` is the FHIR element path
  (``Bundle.entry[3].resource.item[2].answer[0].valueDecimal``); no message carries a
  value.
* :func:`import_bundle`: :func:`rows_from_bundle` + :meth:`kor.store.Store.import_sessions`,
  all or nothing, the store's problems named by element too.

Why ``transaction``: it says what our import does. A FHIR server applies a transaction
all or nothing, as :meth:`~kor.store.Store.import_sessions` does, and each entry is a
conditional create (``ifNoneExist`` on the measurement's identifier), so posting the same
Bundle twice adds nothing, as importing a file twice adds nothing here. A ``collection``
(no ``request``) is written on request and both types are read.

``fhir.resources`` is imported only where a resource is validated, so importing this
module costs no more than pandas.
"""

from __future__ import annotations

import argparse
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kor import measures
from kor.errors import ConfigError, ImportFileError, MissingColumnsError, ValidationError
from kor.files import write_atomically
from kor.frames import ITEM_COLUMNS, file_columns, item_columns
from kor.i18n import LANGUAGES, t

__all__ = [
    "FHIR_VERSION",
    "DEFAULT_BASE",
    "STRUCTURE_VERSION",
    "BUNDLE_TYPES",
    "MAX_BYTES",
    "EXTENSIONS",
    "Namespaces",
    "namespaces",
    "configure",
    "questionnaire",
    "bsb_questionnaire",
    "questionnaires",
    "bundle_from_rows",
    "rows_from_bundle",
    "import_bundle",
    "read_bundle",
    "is_bundle_file",
    "resource_problems",
    "write_resource",
    "register_cli",
]

#: The FHIR release written and read (validated with ``fhir.resources.R4B``).
FHIR_VERSION = "4.0.1"
#: Our canonical base: ``.example`` is reserved (RFC 2606) and resolves nowhere, so a
#: service that exchanges data sets its own in the configuration (``[fhir] base``).
DEFAULT_BASE = "https://kor-workbench.example/fhir"
#: ``Questionnaire.version`` of the measure Questionnaires: changes when their structure does.
STRUCTURE_VERSION = "1.0.0"
#: Bundle types :func:`rows_from_bundle` reads.
BUNDLE_TYPES: tuple[str, ...] = ("transaction", "collection")
#: Bundle files larger than this are refused unread (bytes; 200 MB, about 150,000
#: measurements written compactly).
MAX_BYTES: int = 200 * 1024 * 1024
_TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
_MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
_MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
_MAX_DECIMALS = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
_ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
_SLIDER_STEP = "http://hl7.org/fhir/StructureDefinition/questionnaire-sliderStepValue"
_ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
_CALCULATED = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
)
_ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
_STATUSES = ("completed", "amended")
_FHIR_ID = re.compile(r"[^A-Za-z0-9\-.]")

#: Extensions of a QuestionnaireResponse: name (under ``<base>/StructureDefinition/``)
#: -> (column of the file format, value element, required).
EXTENSIONS: dict[str, tuple[str, str, bool]] = {
    "episode-start": ("episode_start", "valueDate", True),
    "session-number": ("session_no", "valuePositiveInt", True),
    "session-format": ("format", "valueCode", True),
    "team": ("team", "valueString", True),
    "age-group": ("age_group", "valueCode", False),
    "birth-year": ("birth_year", "valueInteger", False),
}
_CELL_COLUMNS: tuple[str, ...] = (*file_columns(ITEM_COLUMNS), "rater")  # every optional one
#: ``id`` of the contained RelatedPerson a collateral rating's ``source`` points to.
_RATER_ID = "rater"


# ---------------------------------------------------------------------------
# namespaces (configurable)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Namespaces:
    """Where our resources and identifiers live.

    base: canonical base of our Questionnaires and extensions (no trailing ``/``).
    client_system: ``Identifier.system`` of the pseudonymous client code, a namespace of
    the service (never a national identity number's system).
    clinician_system: ``Identifier.system`` of the clinicians' usernames.
    """

    base: str = DEFAULT_BASE
    client_system: str = f"{DEFAULT_BASE}/sid/client-code"
    clinician_system: str = f"{DEFAULT_BASE}/sid/username"

    @classmethod
    def from_base(cls, base: str, **systems: str) -> Namespaces:
        """Namespaces under ``base``; systems not given default to ``<base>/sid/...``."""
        base = base.rstrip("/")
        return cls(
            base=base,
            client_system=systems.get("client_system") or f"{base}/sid/client-code",
            clinician_system=systems.get("clinician_system") or f"{base}/sid/username",
        )

    def questionnaire_url(self, name: str) -> str:
        return f"{self.base}/Questionnaire/{name}"

    def extension_url(self, name: str) -> str:
        return f"{self.base}/StructureDefinition/{name}"

    def code_system_url(self, name: str) -> str:
        return f"{self.base}/CodeSystem/{name}"


_state: dict[str, Namespaces] = {"ns": Namespaces()}


def namespaces() -> Namespaces:
    """The namespaces in force (:data:`DEFAULT_BASE` unless configured)."""
    return _state["ns"]


def configure(settings: Mapping[str, object]) -> Namespaces:
    """Apply the ``[fhir]`` section of a service's configuration::

        [fhir]
        base = "https://fhir.eksempel.kommune.no/kor"
        client_system = "https://fhir.eksempel.kommune.no/sid/kor-klientkode"
        clinician_system = "https://fhir.eksempel.kommune.no/sid/brukernavn"

    Only ``base`` is needed; the systems default to ``<base>/sid/...``. Every value must
    be an ``https://``, ``http://`` or ``urn:`` URI. Raises :class:`ConfigError`.
    """
    allowed = {"base", "client_system", "clinician_system"}
    unknown = set(settings) - allowed
    if unknown:
        raise ConfigError(f"[fhir]: unknown settings {sorted(unknown)}; allowed {sorted(allowed)}")
    for key, value in settings.items():
        if not isinstance(value, str) or not re.match(r"^(https?://\S+|urn:\S+)$", value):
            raise ConfigError(f"[fhir] {key}: expected an https://, http:// or urn: URI")
    systems = {k: str(v) for k, v in settings.items() if k != "base"}
    _state["ns"] = Namespaces.from_base(str(settings.get("base", DEFAULT_BASE)), **systems)
    return _state["ns"]


# ---------------------------------------------------------------------------
# Questionnaire resources
# ---------------------------------------------------------------------------


def _texts(element: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """``element`` in bokmål (the resource's language) + the other languages as
    translation extensions on its ``_element``."""
    default = labels.get("nb") or next(iter(labels.values()), "")
    out: dict[str, Any] = {element: default}
    others = [
        {
            "url": _TRANSLATION,
            "extension": [
                {"url": "lang", "valueCode": lang},
                {"url": "content", "valueString": text},
            ],
        }
        for lang, text in labels.items()
        if lang != "nb" and text and text != default
    ]
    if others:
        out[f"_{element}"] = {"extension": others}
    return out


def _catalog_texts(element: str, key: str, **params: object) -> dict[str, Any]:
    return _texts(element, {lang: t(key, language=lang, **params) for lang in LANGUAGES})


def _decimal(value: float, decimals: int) -> float | int:
    """A JSON number with the measure's decimals (10.0 is written 10.0, not 10)."""
    return round(float(value), decimals)


def _item_control(code: str) -> dict[str, Any]:
    return {
        "url": _ITEM_CONTROL,
        "valueCodeableConcept": {"coding": [{"system": _ITEM_CONTROL_SYSTEM, "code": code}]},
    }


def questionnaire(measure: measures.Measure | str, *, ns: Namespaces | None = None) -> dict:
    """The Questionnaire resource of a declared measure (a JSON-ready dict).

    One ``decimal`` item per measure item: ``linkId`` = the item key, required, with
    minValue/maxValue (the item range), maxDecimalPlaces (the measure's decimals) and a
    slider item control (the 10 cm line); then ``total``, read-only, with its FHIRPath
    sum (SDC calculatedExpression). Texts in bokmål with English as a translation
    extension: the catalog's short labels, or the licensed wording a service loads.
    Extensions under ``<base>/StructureDefinition/`` say the measure's kind, when it is
    given, and which age groups and session formats it fits.

    >>> questionnaire("ORS")["item"][2]["linkId"], questionnaire("ORS")["url"]
    ('socially', 'https://kor-workbench.example/fhir/Questionnaire/ORS')
    """
    m = measures.get(measure) if isinstance(measure, str) else measure
    ns = ns or namespaces()
    low, high = m.item_range
    items: list[dict[str, Any]] = []
    for item in m.items:
        items.append(
            {
                "extension": [
                    {"url": _MIN_VALUE, "valueDecimal": _decimal(low, m.decimals)},
                    {"url": _MAX_VALUE, "valueDecimal": _decimal(high, m.decimals)},
                    {"url": _MAX_DECIMALS, "valueInteger": m.decimals},
                    _item_control("slider"),
                ],
                "linkId": item,
                **_catalog_texts("text", f"measure.{m.code}.item.{item}"),
                "type": "decimal",
                "required": True,
            }
        )
    total_low, total_high = m.total_range
    links = " | ".join(f"'{i}'" for i in m.items)
    items.append(
        {
            "extension": [
                {"url": _MIN_VALUE, "valueDecimal": _decimal(total_low, m.decimals)},
                {"url": _MAX_VALUE, "valueDecimal": _decimal(total_high, m.decimals)},
                {"url": _MAX_DECIMALS, "valueInteger": m.decimals},
                {
                    "url": _CALCULATED,
                    "valueExpression": {
                        "language": "text/fhirpath",
                        "expression": f"%resource.item.where(linkId in ({links}))"
                        ".answer.value.sum()",
                    },
                },
            ],
            "linkId": "total",
            **_catalog_texts("text", "fhir.item.total"),
            "type": "decimal",
            "required": False,
            "readOnly": True,
        }
    )
    extensions = [
        {"url": ns.extension_url("measure-kind"), "valueCode": m.kind},
        {"url": ns.extension_url("given"), "valueCode": m.given},
        *({"url": ns.extension_url("age-group"), "valueCode": a} for a in m.age_groups),
        *({"url": ns.extension_url("session-format"), "valueCode": f} for f in m.formats),
    ]
    return {
        "resourceType": "Questionnaire",
        "id": _FHIR_ID.sub("-", m.code)[:64],
        "language": "nb",
        "extension": extensions,
        "url": ns.questionnaire_url(m.code),
        "version": STRUCTURE_VERSION,
        "name": re.sub(r"[^A-Za-z0-9_]", "_", m.code),
        **_texts("title", {lang: m.label(lang) for lang in LANGUAGES}),
        "status": "active",
        "subjectType": ["Patient"],
        **_catalog_texts("description", f"fhir.description.{m.kind}", measure=m.code),
        **_catalog_texts("copyright", "fhir.copyright.measure", reference=m.reference or m.code),
        "item": items,
    }


def _bsb_item(form: Any, question: Any, qid: str, ns: Namespaces) -> dict[str, Any]:
    """One question of a BSB form as a Questionnaire item (see docs/fhir.md)."""
    kinds = {"select_one": "choice", "select_multiple": "choice", "integer": "integer"}
    kinds |= {"text": "text", "note": "display"}
    extensions: list[dict[str, Any]] = []
    if question.type == "range":
        values = (question.start, question.end, question.step)
        whole = all(v is not None and float(v).is_integer() for v in values)
        kind = "integer" if whole else "decimal"
        value_key = "valueInteger" if whole else "valueDecimal"

        def number(v: float | None) -> int | float:
            return int(v) if whole else float(v)  # type: ignore[arg-type]

        extensions += [
            {"url": _MIN_VALUE, value_key: number(question.start)},
            {"url": _MAX_VALUE, value_key: number(question.end)},
            _item_control("slider"),
        ]
        if whole:
            extensions.append({"url": _SLIDER_STEP, "valueInteger": int(question.step)})
    else:
        kind = kinds[question.type]
    if question.respondent:
        url = ns.extension_url("bsb-respondent")
        extensions.append({"url": url, "valueCode": question.respondent})
    if question.pair:
        extensions.append({"url": ns.extension_url("bsb-pair"), "valueString": question.pair})
    item: dict[str, Any] = {"linkId": question.name, **_texts("text", question.labels)}
    if extensions:
        item = {"extension": extensions, **item}
    item["type"] = kind
    if question.required and kind != "display":
        item["required"] = True
    if question.type == "select_multiple":
        item["repeats"] = True
    if question.type in ("select_one", "select_multiple"):
        system = ns.code_system_url(f"{qid}-{question.list_name}")
        options = []
        for choice in form.choices.get(question.list_name or "", ()):
            coding = {"system": system, "code": choice.name, **_texts("display", choice.labels)}
            option: dict[str, Any] = {"valueCoding": coding}
            if choice.score is not None:
                option = {"extension": [{"url": _ORDINAL, "valueDecimal": choice.score}], **option}
            options.append(option)
        item["answerOption"] = options
    if question.hints:
        hint = {
            "extension": [_item_control("help")],
            "linkId": f"{question.name}.help",
            **_texts("text", question.hints),
            "type": "display",
        }
        item["item"] = [hint]
    return item


def bsb_questionnaire(form: Any = None, *, ns: Namespaces | None = None) -> dict:
    """A «Bruker spør bruker» form (:class:`surveys.forms.Questionnaire`; default: the
    shipped one) as a FHIR Questionnaire.

    One ``group`` item per section (``linkId`` = the section name), holding its questions
    (``linkId`` = the question name): ``select_one`` -> ``choice``, ``select_multiple`` ->
    ``choice`` with ``repeats``, ``range`` -> ``integer`` (``decimal`` for a fractional
    scale) with minValue/maxValue and a slider, ``integer`` -> ``integer``, ``text`` ->
    ``text``, ``note`` -> ``display``. Choices are ``answerOption.valueCoding`` in the
    code system ``<base>/CodeSystem/<form>-<list>``; a scored choice carries its score as
    ``ordinalValue``. Who is asked (``user``/``staff``) and the counterpart question are
    extensions (``bsb-respondent``, ``bsb-pair``). Labels in bokmål, English as
    translation extensions. The wording is our own and shipped whole.
    """
    if form is None:
        from surveys.forms import default_form

        form = default_form()
    ns = ns or namespaces()
    qid = _FHIR_ID.sub("-", form.form_id.replace("_", "-"))[:64]
    items: list[dict[str, Any]] = []
    placed: set[str] = set()
    for section in form.sections:
        children = [_bsb_item(form, form.question(n), qid, ns) for n in section.questions]
        placed.update(section.questions)
        if not section.name:
            items.extend(children)
            continue
        group = {"linkId": section.name, **_texts("text", section.labels), "type": "group"}
        items.append({**group, "item": children})
    items += [_bsb_item(form, q, qid, ns) for q in form.questions if q.name not in placed]
    return {
        "resourceType": "Questionnaire",
        "id": qid,
        "language": "nb",
        "url": ns.questionnaire_url(qid),
        "version": str(form.version),
        "name": re.sub(r"[^A-Za-z0-9_]", "_", form.form_id[:1].upper() + form.form_id[1:]),
        **_texts("title", form.titles),
        "status": "active",
        **_catalog_texts("description", "fhir.description.bsb"),
        "item": items,
    }


def questionnaires(*, ns: Namespaces | None = None) -> dict[str, dict]:
    """File name -> Questionnaire, for every declared measure and the default BSB form."""
    out = {
        f"Questionnaire-{code}.json": questionnaire(m, ns=ns)
        for code, m in measures.MEASURES.items()
    }
    bsb = bsb_questionnaire(ns=ns)
    out[f"Questionnaire-{bsb['id']}.json"] = bsb
    return out


# ---------------------------------------------------------------------------
# validation with fhir.resources
# ---------------------------------------------------------------------------


def _path(prefix: str, loc: Iterable[object]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _model_error_key(kind: str) -> str:
    if kind == "missing" or kind.endswith(".missing"):
        return "fhir.missing_element"
    if kind == "extra_forbidden":
        return "fhir.unknown_element"
    return "fhir.invalid_value"


def _model_errors(model: Any, value: Any) -> list[tuple[tuple[object, ...], str]]:
    """(location, error type) of each problem the model finds in ``value``; empty if valid."""
    import pydantic

    try:
        model.model_validate(value)
    except pydantic.ValidationError as error:
        return [(tuple(e["loc"]), str(e["type"])) for e in error.errors()]
    except Exception:  # noqa: BLE001 - the models raise KeyError etc. for unknown contained types
        return [((), "invalid")]
    return []


def _problems_at(found: Iterable[tuple[str, str]]) -> list[ValidationError]:
    """One problem per element path, keyed by the kind of model error."""
    seen: set[str] = set()
    problems = []
    for path, kind in found:
        if path not in seen:
            seen.add(path)
            problems.append(ValidationError(_model_error_key(kind), field=path))
    return problems


def resource_problems(
    resource: Mapping[str, Any], where: str | None = None
) -> list[ValidationError]:
    """Problems the ``fhir.resources`` R4B model of the resource finds (empty if none).

    Each problem names the element path (``where``: prefix, default the resource type)
    with a catalog key, never the value: ``fhir.missing_element``,
    ``fhir.unknown_element`` (not defined for the type) or ``fhir.invalid_value`` (wrong
    JSON type or format). The model does not check code lists or that a response fits
    its questionnaire; :func:`rows_from_bundle` does that.
    """
    from fhir.resources.R4B import get_fhir_model_class

    kind = resource.get("resourceType") if isinstance(resource, Mapping) else None
    where = where or str(kind or "resource")
    if kind not in ("Bundle", "Questionnaire", "QuestionnaireResponse"):
        return [ValidationError("fhir.wrong_resource_type", field=f"{where}.resourceType")]
    errors = _model_errors(get_fhir_model_class(kind), resource)
    return _problems_at((_path(where, loc), kind) for loc, kind in errors)


class _ResponseValidator:
    """The R4B model check of many QuestionnaireResponse resources, each distinct
    element checked once.

    A model checks an element by its content alone (``fhir.resources`` evaluates no
    invariant across elements), and a Bundle repeats most of its elements: the same
    team, format, clinician and client reference, the same answer. So every extension,
    ``subject``, ``author`` and ``item`` is checked with its own model class
    (``Extension``, ``Reference``, ``QuestionnaireResponseItem``) once per distinct
    content, the rest of the resource with ``QuestionnaireResponse``, and the outcome is
    reported at every place the element occurs: the same problems as checking each
    resource whole (a test compares them), in a tenth of the time.
    """

    _LISTS = {"extension": "Extension", "item": "QuestionnaireResponseItem"}
    _SINGLE = {"subject": "Reference", "author": "Reference"}

    def __init__(self) -> None:
        from fhir.resources.R4B.extension import Extension
        from fhir.resources.R4B.questionnaireresponse import (
            QuestionnaireResponse,
            QuestionnaireResponseItem,
        )
        from fhir.resources.R4B.reference import Reference

        self.models = {
            "QuestionnaireResponse": QuestionnaireResponse,
            "QuestionnaireResponseItem": QuestionnaireResponseItem,
            "Extension": Extension,
            "Reference": Reference,
        }
        self.known: dict[tuple[str, str], list[tuple[tuple[object, ...], str]]] = {}
        self.token = uuid.uuid4().hex  # marks a Decimal in a cache key; no JSON can forge it

    def _key_default(self, value: object) -> object:
        if isinstance(value, Decimal):
            return {self.token: str(value)}
        raise TypeError(type(value).__name__)

    def _errors(self, name: str, value: Any) -> list[tuple[tuple[object, ...], str]]:
        try:
            key = (name, json.dumps(value, sort_keys=True, default=self._key_default))
        except (TypeError, ValueError):  # not plain JSON data: check it without the cache
            return _model_errors(self.models[name], value)
        if key not in self.known:
            self.known[key] = _model_errors(self.models[name], value)
        return self.known[key]

    def problems(self, resource: Mapping[str, Any], where: str) -> list[ValidationError]:
        rest = dict(resource)
        found: list[tuple[str, str]] = []
        for element, name in self._LISTS.items():
            values = resource.get(element)
            if isinstance(values, list) and values and all(isinstance(v, dict) for v in values):
                del rest[element]
                for k, value in enumerate(values):
                    prefix = f"{where}.{element}[{k}]"
                    found += [(_path(prefix, loc), kind) for loc, kind in self._errors(name, value)]
        for element, name in self._SINGLE.items():
            value = resource.get(element)
            if isinstance(value, dict):
                del rest[element]
                prefix = f"{where}.{element}"
                found += [(_path(prefix, loc), kind) for loc, kind in self._errors(name, value)]
        errors = _model_errors(self.models["QuestionnaireResponse"], rest)
        found = [(_path(where, loc), kind) for loc, kind in errors] + found
        return _problems_at(found)


# ---------------------------------------------------------------------------
# Bundle of QuestionnaireResponse resources
# ---------------------------------------------------------------------------


def _measurement_uuid(
    ns: Namespaces, client: str, start: str, number: int, code: str, rater: str = "client"
) -> str:
    """A stable identifier of one measurement (same row, same identifier, every export);
    a collateral rater's measurement has its own (the client's stays as it always was)."""
    name = f"{ns.client_system}|{client}|{start}|{number}|{code}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name if rater == "client" else f"{name}|{rater}"))


def _rater_elements(ns: Namespaces, client: str, rater: str) -> dict[str, Any]:
    """``contained`` RelatedPerson and ``source`` of a parent's, teacher's or other adult's
    rating (FHIR R4 QuestionnaireResponse.source: Reference(... | RelatedPerson)); the
    relationship is coded in our ``rater`` code system (:data:`kor.raters.RATERS`)."""
    person = {
        "resourceType": "RelatedPerson",
        "id": _RATER_ID,
        "patient": {"identifier": {"system": ns.client_system, "value": client}},
        "relationship": [
            {
                "coding": [
                    {
                        "system": ns.code_system_url("rater"),
                        "code": rater,
                        "display": t(f"rater.{rater}", language="nb"),
                    }
                ]
            }
        ],
    }
    return {
        "contained": [person],
        "source": {"reference": f"#{_RATER_ID}", "type": "RelatedPerson"},
    }


def _iso_dates(values: pd.Series) -> list[str]:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d").tolist()


def bundle_from_rows(
    rows: pd.DataFrame,
    *,
    bundle_type: str = "transaction",
    ns: Namespaces | None = None,
    timestamp: datetime | None = None,
) -> dict:
    """Measurements as a Bundle of QuestionnaireResponse resources (a JSON-ready dict).

    rows: one row per measurement in the import/export format (the frame of
    :meth:`kor.store.Store.export_rows` or :func:`kor.io.read_sessions`): client_code,
    team, clinician, episode_start, session_date, session_no, format, measure,
    item1-item4 (0.0-10.0), and age_group and/or birth_year; total if present.
    bundle_type: ``"transaction"`` (conditional creates; see the module docstring) or
    ``"collection"``. timestamp: ``Bundle.timestamp`` (omitted when None).

    Each row becomes one QuestionnaireResponse: ``questionnaire`` = the measure's
    canonical URL, ``status`` completed, ``subject.identifier`` = the client code in
    the client system, ``author.identifier`` = the clinician, ``authored`` = the session
    date, one item per measure item (``valueDecimal``) plus ``total``, and extensions
    for episode start, session number, format, team, age group and birth year.
    ``identifier`` (and the entry's ``urn:uuid:``) is a UUID derived from client,
    episode start, session number and measure, so every export names a measurement
    the same. Nothing else of the store is carried (no episode end, no who-entered).

    >>> rows = pd.DataFrame({"client_code": ["K0001"], "age_group": ["adult"],
    ...     "team": ["VOP"], "clinician": ["ingrid.berg"], "episode_start": ["2025-01-06"],
    ...     "session_date": ["2025-01-06"], "session_no": [1], "format": ["individual"],
    ...     "measure": ["ORS"], "item1": [4.0], "item2": [5.5], "item3": [6.0],
    ...     "item4": [4.5], "total": [20.0]})
    >>> bundle_from_rows(rows)["entry"][0]["resource"]["item"][1]
    {'linkId': 'interpersonally', 'answer': [{'valueDecimal': 5.5}]}
    """
    if bundle_type not in BUNDLE_TYPES:
        raise ValidationError("fhir.bundle_type", field="Bundle.type")
    ns = ns or namespaces()
    required = ["client_code", "team", "clinician", "episode_start", "session_date"]
    required += ["session_no", "format", "measure"]
    if "measure" in rows.columns:  # item1..item4, and more for a wider measure
        required += item_columns(rows["measure"].dropna().unique())
    missing = [c for c in required if c not in rows.columns]
    if "age_group" not in rows.columns and "birth_year" not in rows.columns:
        missing.append("age_group/birth_year")
    if missing:
        raise MissingColumnsError(missing, where="rows")
    n = len(rows)

    def column(name: str) -> list[Any]:
        if name not in rows.columns:
            return [None] * n
        values = rows[name].astype(object)
        return values.where(values.notna(), None).tolist()

    starts, dates = _iso_dates(rows["episode_start"]), _iso_dates(rows["session_date"])
    clients, teams, clinicians = column("client_code"), column("team"), column("clinician")
    numbers, formats, codes = column("session_no"), column("format"), column("measure")
    ages, births, totals = column("age_group"), column("birth_year"), column("total")
    rated_by = [r or "client" for r in column("rater")]  # kor.raters; blank = the client
    values = [column(c) for c in ITEM_COLUMNS]
    declared = {code: measures.get(code) for code in set(codes)}
    url = {name: ns.extension_url(name) for name in EXTENSIONS}
    measurement_system = f"{ns.base}/sid/measurement"
    entries = []
    for i in range(n):
        m = declared[codes[i]]
        number = int(numbers[i])
        extensions = [
            {"url": url["episode-start"], "valueDate": starts[i]},
            {"url": url["session-number"], "valuePositiveInt": number},
            {"url": url["session-format"], "valueCode": str(formats[i])},
            {"url": url["team"], "valueString": str(teams[i])},
        ]
        if ages[i] is not None:
            extensions.append({"url": url["age-group"], "valueCode": str(ages[i])})
        if births[i] is not None:
            extensions.append({"url": url["birth-year"], "valueInteger": int(births[i])})
        items = [
            {"linkId": item, "answer": [{"valueDecimal": _decimal(values[k][i], m.decimals)}]}
            for k, item in enumerate(m.items)
            if values[k][i] is not None
        ]
        if totals[i] is not None:
            total = _decimal(totals[i], m.decimals)
            items.append({"linkId": "total", "answer": [{"valueDecimal": total}]})
        ident = _measurement_uuid(ns, str(clients[i]), starts[i], number, m.code, rated_by[i])
        resource = {
            "resourceType": "QuestionnaireResponse",
            "extension": extensions,
            "identifier": {"system": measurement_system, "value": ident},
            "questionnaire": ns.questionnaire_url(m.code),
            "status": "completed",
            "subject": {"identifier": {"system": ns.client_system, "value": str(clients[i])}},
            "authored": dates[i],
            "author": {"identifier": {"system": ns.clinician_system, "value": str(clinicians[i])}},
            "item": items,
        }
        if rated_by[i] != "client":  # a parent's, teacher's or other adult's rating
            resource.update(_rater_elements(ns, str(clients[i]), str(rated_by[i])))
        entry: dict[str, Any] = {"fullUrl": f"urn:uuid:{ident}", "resource": resource}
        if bundle_type == "transaction":
            entry["request"] = {
                "method": "POST",
                "url": "QuestionnaireResponse",
                "ifNoneExist": f"identifier={measurement_system}|{ident}",
            }
        entries.append(entry)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": bundle_type}
    if timestamp is not None:
        bundle["timestamp"] = timestamp.astimezone().isoformat(timespec="seconds")
    bundle["entry"] = entries
    return bundle


class _Refused(Exception):
    """Problems that stop reading a Bundle."""

    def __init__(self, problems: list[ValidationError]) -> None:
        super().__init__(problems[0].key)
        self.problems = problems


def _parse_json(text: str | bytes) -> Any:
    """JSON with decimals kept exact (``Decimal``); NaN/Infinity refused as FHIR does."""

    def no_constant(name: str) -> Any:
        raise ValueError(name)

    try:
        if isinstance(text, bytes | bytearray):
            text = bytes(text).decode("utf-8-sig")
        return json.loads(text, parse_float=Decimal, parse_constant=no_constant)
    except json.JSONDecodeError as error:
        problem = ValidationError(
            "fhir.not_json", field="Bundle", line=error.lineno, char=error.colno
        )
        raise _Refused([problem]) from None
    except (ValueError, UnicodeDecodeError):
        raise _Refused(
            [ValidationError("fhir.not_json", field="Bundle", line="-", char="-")]
        ) from None


def read_bundle(path: str | Path, *, max_bytes: int | None = None) -> dict:
    """Read a Bundle file (JSON, UTF-8): a dict with decimals as ``Decimal``.

    Raises :class:`ImportFileError` for a file too large (:data:`MAX_BYTES`), unreadable,
    or not JSON (with line and character).
    """
    path = Path(path)
    limit = MAX_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            mb = 1024 * 1024
            problem = ValidationError(
                "io.too_large", size_mb=f"{size / mb:.1f}", limit_mb=f"{limit / mb:.1f}"
            )
            raise _Refused([problem])
        return _parse_json(path.read_bytes())
    except _Refused as refused:
        raise ImportFileError(str(path), refused.problems) from None
    except OSError:
        reason = t("io.reason.unreadable")
        raise ImportFileError(
            str(path), [ValidationError("error.bad_file", reason=reason)]
        ) from None


def is_bundle_file(path: str | Path) -> bool:
    """Whether a file holds JSON (its first character ``{``): what ``kor import`` asks."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{")


def _is_number(value: object) -> bool:
    """A JSON number (parsed as Decimal, int or float), finite; not a string or boolean."""
    if isinstance(value, bool):
        return False
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, float):
        return bool(np.isfinite(value))
    return isinstance(value, int)


def _number_text(value: object) -> str:
    """A JSON number as the text a file cell would hold, exactly (no exponent)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    return str(value)


def _measure_code(canonical: object, ns: Namespaces) -> str | None:
    """The measure a ``questionnaire`` canonical names (``|version`` ignored), or None."""
    if not isinstance(canonical, str):
        return None
    url = canonical.split("|", 1)[0]
    prefix = ns.questionnaire_url("")
    code = url[len(prefix) :] if url.startswith(prefix) else None
    return code if code in measures.MEASURES else None


class _Response:
    """One QuestionnaireResponse read into file cells, with the element path of each cell."""

    def __init__(self, resource: Mapping[str, Any], where: str, ns: Namespaces) -> None:
        self.resource = resource
        self.where = where
        self.ns = ns
        self.cells = dict.fromkeys(_CELL_COLUMNS, "")
        self.paths: dict[str, str] = {}
        self.problems: list[ValidationError] = []
        self.read()

    def fail(self, key: str, path: str, **params: object) -> None:
        self.problems.append(ValidationError(key, field=path, **params))

    def read(self) -> None:
        r, where = self.resource, self.where
        if r.get("modifierExtension"):
            self.fail("fhir.modifier_extension", f"{where}.modifierExtension")
        if r.get("status") not in _STATUSES:
            self.fail("fhir.status", f"{where}.status")
        code = _measure_code(r.get("questionnaire"), self.ns)
        self.paths["measure"] = f"{where}.questionnaire"
        if r.get("questionnaire") is None:
            self.fail("fhir.missing_element", f"{where}.questionnaire")
        elif code is None:
            prefix = self.ns.questionnaire_url("")
            self.fail(
                "fhir.unknown_questionnaire",
                f"{where}.questionnaire",
                prefix=prefix,
                codes=", ".join(measures.MEASURES),
            )
        else:
            self.cells["measure"] = code
        self.identifier("subject", "client_code", self.ns.client_system)
        self.identifier("author", "clinician", self.ns.clinician_system)
        self.rater()
        authored = r.get("authored")
        self.paths["session_date"] = f"{where}.authored"
        if authored is None:
            self.fail("fhir.missing_element", f"{where}.authored")
        elif isinstance(authored, str):
            self.cells["session_date"] = authored.split("T", 1)[0]  # the date as written
        self.extensions()
        if code is not None:
            self.items(measures.get(code))

    def identifier(self, element: str, column: str, system: str) -> None:
        path = f"{self.where}.{element}.identifier"
        reference = self.resource.get(element)
        ident = reference.get("identifier") if isinstance(reference, Mapping) else None
        if not isinstance(ident, Mapping):
            self.fail("fhir.missing_element", path)
            return
        if ident.get("system") != system:
            self.fail("fhir.wrong_system", f"{path}.system", expected=system)
            return
        value = ident.get("value")
        self.paths[column] = f"{path}.value"
        if value is None:
            self.fail("fhir.missing_element", f"{path}.value")
        else:
            self.cells[column] = str(value)

    def rater(self) -> None:
        """``source``: absent or the client = the client's own rating; a contained
        RelatedPerson = a collateral rater, its relationship coded in our system."""
        where, source = self.where, self.resource.get("source")
        self.paths["rater"] = f"{where}.source"
        if not isinstance(source, Mapping):
            return  # no source: the client rated (the file's blank rater cell)
        reference = source.get("reference")
        if source.get("type") == "Patient" or not isinstance(reference, str):
            self.cells["rater"] = "client" if source.get("type") in (None, "Patient") else ""
            if self.cells["rater"] == "":
                self.fail("fhir.missing_element", f"{where}.source.reference")
            return
        contained = self.resource.get("contained") or []
        found = [
            (k, c)
            for k, c in enumerate(contained)
            if isinstance(c, Mapping) and f"#{c.get('id')}" == reference
        ]
        if not found or found[0][1].get("resourceType") != "RelatedPerson":
            self.fail("fhir.missing_element", f"{where}.contained")
            return
        k, person = found[0]
        path = f"{where}.contained[{k}].relationship"
        system = self.ns.code_system_url("rater")
        codes = [
            coding
            for rel in person.get("relationship") or []
            for coding in (rel.get("coding") or [])
            if coding.get("system") == system
        ]
        if not codes:
            self.fail("fhir.wrong_system", f"{path}[0].coding[0].system", expected=system)
            return
        self.paths["rater"] = f"{path}[0].coding[0].code"
        self.cells["rater"] = str(codes[0].get("code") or "")

    def extensions(self) -> None:
        where = self.where
        by_url = {self.ns.extension_url(name): name for name in EXTENSIONS}
        seen: set[str] = set()
        for k, ext in enumerate(self.resource.get("extension") or []):
            name = by_url.get(ext.get("url"))
            if name is None:
                continue  # extensions we do not know may be ignored (not modifiers)
            column, value_key, _ = EXTENSIONS[name]
            path = f"{where}.extension[{k}]"
            if name in seen:
                self.fail("fhir.repeated_extension", path, url=ext.get("url"))
                continue
            seen.add(name)
            value = ext.get(value_key)
            if value is None:
                self.fail("fhir.extension_type", path, expected=value_key)
                continue
            self.paths[column] = f"{path}.{value_key}"
            whole = value_key in ("valueInteger", "valuePositiveInt")
            if whole and (isinstance(value, bool) or not isinstance(value, int)):
                self.fail("fhir.invalid_value", f"{path}.{value_key}")
            elif not whole and not isinstance(value, str):
                self.fail("fhir.invalid_value", f"{path}.{value_key}")
            else:
                self.cells[column] = str(value)
        for name, (column, _, required) in EXTENSIONS.items():
            self.paths.setdefault(column, f"{where}.extension")
            if required and name not in seen:
                url = self.ns.extension_url(name)
                self.fail("fhir.missing_extension", f"{where}.extension", url=url)

    def items(self, m: measures.Measure) -> None:
        where = self.where
        columns = dict(zip(m.items, ITEM_COLUMNS, strict=False)) | {"total": "total"}
        for column in columns.values():
            self.paths[column] = f"{where}.item"  # until the item is found
        seen: set[str] = set()
        for k, item in enumerate(self.resource.get("item") or []):
            path = f"{where}.item[{k}]"
            link = item.get("linkId")
            if link not in columns:
                self.fail(
                    "fhir.unknown_link_id",
                    f"{path}.linkId",
                    measure=m.code,
                    items=", ".join((*m.items, "total")),
                )
                continue
            if link in seen:
                self.fail("fhir.duplicate_link_id", f"{path}.linkId")
                continue
            seen.add(link)
            column = columns[link]
            if item.get("item"):
                self.fail("fhir.nested_item", f"{path}.item")
                continue
            answers = item.get("answer") or []
            self.paths[column] = f"{path}.answer"
            if len(answers) > 1:
                self.fail("fhir.answer_count", f"{path}.answer")
                continue
            if not answers:
                continue  # the import checks say which item is missing
            answer = answers[0]
            if answer.get("item"):
                self.fail("fhir.nested_item", f"{path}.answer[0].item")
                continue
            given = [key for key in answer if key.startswith("value")]
            if given != ["valueDecimal"]:
                wrong = f"{path}.answer[0]" + (f".{given[0]}" if given else "")
                self.fail("fhir.answer_type", wrong, expected="valueDecimal")
                continue
            value = answer["valueDecimal"]
            self.paths[column] = f"{path}.answer[0].valueDecimal"
            if not _is_number(value):
                self.fail("error.not_a_number", self.paths[column])
            else:
                self.cells[column] = _number_text(value)


def _entry_index(problem: ValidationError) -> int:
    match = re.match(r"Bundle\.entry\[(\d+)\]", problem.field or "")
    return int(match.group(1)) if match else -1


def _by_element(
    problem: ValidationError, paths: Mapping[int, Mapping[str, str]]
) -> ValidationError:
    """A problem of the file import or the store (row = entry index) named by element."""
    if problem.row is None:
        return problem
    entry = int(problem.row)
    where = f"Bundle.entry[{entry}]"
    columns = paths.get(entry, {})
    column = problem.column
    field = columns.get(column, f"{where}.resource") if column else where
    key, params = problem.key, dict(problem.params)
    if key == "error.conflicts_stored" and column == "measure":  # stored with other values
        field = f"{where}.resource.item"
    renamed = {
        "error.duplicate_row": "fhir.duplicate_entry",
        "io.session_mismatch": "fhir.session_mismatch",
    }
    if key in renamed:
        key = renamed[key]
        params["other"] = f"Bundle.entry[{params.get('other')}]"
    return ValidationError(key, field=field, **params)


def _read(
    data: Any, *, ns: Namespaces, source: str, today: date | None
) -> tuple[pd.DataFrame, dict[int, dict[str, str]]]:
    """Validated rows of a parsed Bundle and, per entry, the element path of each cell."""
    from kor.io import read_cells

    if not isinstance(data, Mapping) or data.get("resourceType") != "Bundle":
        raise _Refused([ValidationError("fhir.not_a_bundle", field="Bundle.resourceType")])
    entries = data.get("entry")
    shell = dict(data)
    if isinstance(entries, list):  # the resources are validated one by one below
        shell["entry"] = [
            {k: v for k, v in e.items() if k != "resource"} if isinstance(e, Mapping) else e
            for e in entries
        ]
    problems = resource_problems(shell, "Bundle")
    if not problems and data.get("type") not in BUNDLE_TYPES:
        problems.append(ValidationError("fhir.bundle_type", field="Bundle.type"))
    if not problems and not entries:
        problems.append(ValidationError("fhir.empty_bundle", field="Bundle.entry"))
    if problems:
        raise _Refused(problems)
    transaction = data.get("type") == "transaction"
    validator = _ResponseValidator()
    cells: list[dict[str, str]] = []
    indices: list[int] = []
    paths: dict[int, dict[str, str]] = {}
    for i, entry in enumerate(entries):
        where = f"Bundle.entry[{i}]"
        resource = entry.get("resource")
        if resource is None:
            problems.append(ValidationError("fhir.missing_element", field=f"{where}.resource"))
            continue
        if not isinstance(resource, Mapping) or resource.get("resourceType") != (
            "QuestionnaireResponse"
        ):
            problems.append(
                ValidationError("fhir.wrong_resource_type", field=f"{where}.resource.resourceType")
            )
            continue
        if transaction and (entry.get("request") or {}).get("method") not in ("POST", "PUT"):
            problems.append(ValidationError("fhir.request_method", field=f"{where}.request.method"))
            continue
        found = validator.problems(resource, f"{where}.resource")
        if found:
            problems += found
            continue
        response = _Response(resource, f"{where}.resource", ns)
        paths[i] = response.paths
        if response.problems:
            problems += response.problems
            continue
        cells.append(response.cells)
        indices.append(i)
    rows = None
    if cells:
        items = item_columns({c["measure"] for c in cells})  # those of the widest measure
        columns = [c for c in _CELL_COLUMNS if c not in ITEM_COLUMNS or c in items]
        if not any(c["rater"] for c in cells):  # nobody but the client rated: no column
            columns.remove("rater")
        frame = pd.DataFrame(cells, columns=columns)
        try:
            rows = read_cells(frame, source=source, rows=np.array(indices), today=today)
        except ImportFileError as error:
            problems += [_by_element(p, paths) for p in error.problems]
    if problems:
        raise _Refused(sorted(problems, key=_entry_index))
    return rows, paths


def rows_from_bundle(
    bundle: Mapping[str, Any] | str | bytes,
    *,
    ns: Namespaces | None = None,
    source: str = "Bundle",
    today: date | None = None,
) -> pd.DataFrame:
    """Validated measurement rows from a Bundle of QuestionnaireResponse resources.

    bundle: a parsed Bundle (dict) or its JSON text. Returns the frame
    :func:`kor.io.read_sessions` returns (:data:`kor.io.FRAME_COLUMNS`), ``source_row``
    = the entry's index in ``Bundle.entry``, ready for
    :meth:`kor.store.Store.import_sessions` (or use :func:`import_bundle`).
    today: dates after it count as in the future (default today).

    Raises :class:`ImportFileError` (``source`` as its path) listing every problem, each
    a :class:`ValidationError` whose ``field`` is the FHIR element path, e.g.
    ``Bundle.entry[3].resource.item[2].answer[0].valueDecimal`` for 10.55 (too many
    decimals) or 11 (out of range). Checked: the R4B model of the Bundle and of every
    resource (``fhir.resources``); resource type, status, questionnaire canonical,
    identifier systems, extensions, linkIds, one ``valueDecimal`` per item; then every
    value by the file import's rules (:func:`kor.io.read_cells`: a pseudonymous client
    code and never a national identity number, dates, choices, the measure fits the age
    group and format, items within range with the measure's decimals, all items present,
    the total, no measurement twice).
    """
    ns = ns or namespaces()
    try:
        data = bundle if isinstance(bundle, Mapping) else _parse_json(bundle)
        rows, _ = _read(data, ns=ns, source=source, today=today)
    except _Refused as refused:
        raise ImportFileError(source, refused.problems) from None
    return rows


def import_bundle(
    store: Any,
    actor: Any,
    bundle: Mapping[str, Any] | str | bytes,
    *,
    source: str = "Bundle",
    ns: Namespaces | None = None,
    today: date | None = None,
) -> Any:
    """Import a Bundle into the store, all or nothing; returns the store's ImportSummary.

    :func:`rows_from_bundle`, then :meth:`kor.store.Store.import_sessions` as ``actor``
    (team lead or admin); what the store refuses (unknown team or clinician, a client
    or session stored with other values) is reported by element path too. Importing
    the same Bundle twice adds nothing.
    """
    ns = ns or namespaces()
    try:
        data = bundle if isinstance(bundle, Mapping) else _parse_json(bundle)
        rows, paths = _read(data, ns=ns, source=source, today=today)
    except _Refused as refused:
        raise ImportFileError(source, refused.problems) from None
    try:
        return store.import_sessions(actor, rows, source=source)
    except ImportFileError as error:
        problems = sorted((_by_element(p, paths) for p in error.problems), key=_entry_index)
        raise ImportFileError(source, problems) from None


def _json_default(value: object) -> object:
    """Numbers JSON does not know: a parsed Bundle's decimals, NumPy scalars."""
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(type(value).__name__)


def write_resource(
    resource: Mapping[str, Any], path: str | Path, *, indent: int | None = None
) -> Path:
    """Write a resource as UTF-8 JSON, atomically (temporary file + rename), mode 0600."""
    path = Path(path)
    text = json.dumps(resource, ensure_ascii=False, indent=indent, default=_json_default)
    return write_atomically(path, lambda handle: handle.write((text + "\n").encode("utf-8")))


# ---------------------------------------------------------------------------
# command line: kor fhir questionnaires DIR
# ---------------------------------------------------------------------------


def _cmd_questionnaires(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    directory.mkdir(parents=True, exist_ok=True)
    resources = questionnaires()
    for name, resource in resources.items():
        problems = resource_problems(resource)
        if problems:
            raise problems[0]
        write_resource(resource, directory / name, indent=2)
    print(t("fhir.cli.written", count=len(resources), path=str(directory)))
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """``kor fhir questionnaires DIR``."""
    parser = subparsers.add_parser("fhir", help=t("fhir.cli.help"), description=t("fhir.cli.help"))
    sub = parser.add_subparsers(dest="fhir_command", required=True)
    out = sub.add_parser(
        "questionnaires",
        help=t("fhir.cli.questionnaires"),
        description=t("fhir.cli.questionnaires"),
    )
    out.add_argument("directory", type=Path, help=t("fhir.cli.directory"))
    out.set_defaults(func=_cmd_questionnaires)
