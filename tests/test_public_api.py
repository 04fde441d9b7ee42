"""The public surface of `kor` and `surveys`: short, documented, cheap to import."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import kor
import surveys

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"kor": kor, "surveys": surveys}
PUBLIC = [(pkg, name) for pkg, mod in PACKAGES.items() for name in mod.__all__]

# Names that compute a number from the literature: their docstrings cite it and give units.
ANALYTIC = {
    "kor": (
        "Measure",
        "jacobson_truax",
        "classify_change",
        "episode_change",
        "evaluate_flags",
        "ExpectedResponse",
        "service_indicators",
        "control_chart",
    ),
    "surveys": ("gaps", "changes"),
}
UNIT_WORDS = ("points", "%", "0-1", "0.0-40.0", "0-40", "probabilit")


def _attribute_docstring(module_name: str, name: str) -> str | None:
    """The string literal right after ``name = ...`` at module level (PEP 257 attribute
    docstring, what mkdocstrings shows), or None."""
    source = inspect.getsource(importlib.import_module(module_name))
    body = ast.parse(source).body
    for node, after in zip(body, body[1:], strict=False):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                return after.value.value if isinstance(after.value.value, str) else None
    return None


def _doc(pkg: str, name: str) -> str:
    obj = getattr(PACKAGES[pkg], name)
    if inspect.isclass(obj):
        return obj.__dict__.get("__doc__") or ""  # its own, not one inherited from a base
    if inspect.isroutine(obj):
        return inspect.getdoc(obj) or ""
    return _attribute_docstring(PACKAGES[pkg]._EXPORTS[name], name) or ""


@pytest.mark.parametrize("pkg", PACKAGES)
def test_all_is_short_unique_and_the_lazy_table_lists_the_same_names(pkg):
    mod = PACKAGES[pkg]
    assert list(mod.__all__) == list(mod._EXPORTS)
    assert len(set(mod.__all__)) == len(mod.__all__)
    assert len(mod.__all__) <= {"kor": 25, "surveys": 12}[pkg]
    assert set(mod.__all__) <= set(dir(mod))


@pytest.mark.parametrize(("pkg", "name"), PUBLIC)
def test_every_public_name_resolves_to_the_object_of_its_module(pkg, name):
    mod = PACKAGES[pkg]
    value = getattr(mod, name)
    assert value is getattr(importlib.import_module(mod._EXPORTS[name]), name)


@pytest.mark.parametrize(("pkg", "name"), PUBLIC)
def test_every_public_name_has_a_docstring(pkg, name):
    assert len(_doc(pkg, name).strip()) >= 40, f"{pkg}.{name} has no useful docstring"


@pytest.mark.parametrize(("pkg", "name"), [(p, n) for p, names in ANALYTIC.items() for n in names])
def test_analytic_docstrings_cite_a_reference_and_state_units(pkg, name):
    doc = _doc(pkg, name)
    assert "References" in doc or "doi:" in doc.lower(), f"{pkg}.{name}: no reference"
    assert any(word in doc for word in UNIT_WORDS), f"{pkg}.{name}: no unit or range"


@pytest.mark.parametrize("name", ["ORS", "SRS", "MEASURES"])
def test_shipped_measure_declarations_have_their_own_docstring(name):
    doc = _doc("kor", name)
    assert "0.0-40.0" in doc or "register" in doc


def test_unknown_names_raise_attribute_error_so_submodule_imports_still_work():
    with pytest.raises(AttributeError, match="no_such_name"):
        kor.no_such_name  # noqa: B018
    from kor import measures  # a submodule, not a re-export

    assert measures.ORS is kor.ORS


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {m.split(".")[0] for m in json.loads(out.splitlines()[-1])}


@pytest.mark.parametrize("pkg", PACKAGES)
def test_importing_the_package_loads_no_analytics_stack(pkg):
    loaded = _modules_after(f"import {pkg}")
    assert not loaded & {"statsmodels", "scipy", "pandas", "numpy", "matplotlib", "sqlalchemy"}


def test_the_whole_public_surface_resolves_without_importing_statsmodels():
    # statsmodels costs about 2 s: only fitting a model (ExpectedResponse.fit,
    # clinician_effect, the survey tests) may import it, never a name look-up.
    code = (
        "import kor, surveys\n"
        "[getattr(kor, n) for n in kor.__all__]\n"
        "[getattr(surveys, n) for n in surveys.__all__]"
    )
    assert "statsmodels" not in _modules_after(code)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_no_public_name_is_also_a_submodule_name(pkg):
    # importing kor.x sets the package attribute x to the module, so a public name x
    # would be the function before and the module after (order-dependent, seen in CI)
    package = importlib.import_module(pkg)
    submodules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    assert set(package.__all__) & submodules == set()
