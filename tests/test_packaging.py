"""Packaging: pyproject and environment.yml list the same runtime packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names where they differ from PyPI's
CONDA_NAMES = {"psycopg[binary]": "psycopg"}


def _pyproject_runtime() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        name, bound = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", dep).groups()
        out[CONDA_NAMES.get(name, name).lower()] = bound.replace(" ", "")
    return out


def _environment_runtime() -> dict[str, str]:
    out = {}
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*(.*)$", line)
        if in_deps and m and m.group(1) not in ("python", "pip"):
            out[m.group(1).lower()] = m.group(2).replace(" ", "")
    return out


def test_environment_yml_lists_the_same_runtime_packages_and_bounds_as_pyproject():
    assert _environment_runtime() == _pyproject_runtime()


def test_every_runtime_dependency_has_a_lower_bound():
    assert all(bound.startswith(">=") for bound in _pyproject_runtime().values())


def test_environment_yml_installs_the_project_itself_with_pip():
    assert "- -e .[test]" in (ROOT / "environment.yml").read_text()


def test_readme_opens_with_the_two_commands_and_ci_calls_the_test_one():
    readme = (ROOT / "README.md").read_text().splitlines()
    block = readme[readme.index("```sh") + 1 : readme.index("```", readme.index("```sh") + 1)]
    commands = [line.split("#")[0].strip() for line in block]
    assert commands == ["python3 workbench.py app", "python3 workbench.py test"]
    assert "python3 workbench.py test" in (ROOT / ".ci" / "run").read_text()


def test_notebooks_are_committed_without_outputs():
    import json

    for path in (ROOT / "notebooks").rglob("*.ipynb"):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
