"""Measures as plug-ins: an installed package's entry point ``kor.measures`` adds a measure.

The demo plug-in (``tests/plugins/kor_phq_demo``: DEMO10, ten items 0-3, lower is
better, cut-off 10, reliable change 6) is installed into a temporary directory (the
venv untouched); each check runs in a fresh interpreter with that directory on
``PYTHONPATH``, so discovery really happens at import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "plugins" / "kor_phq_demo"

# Runs in the fresh interpreter; argv[1] = SQLite URL, argv[2] = a scratch directory.
END_TO_END = r"""
import json, sys, time
from datetime import date, timedelta
from pathlib import Path

t0 = time.perf_counter()
from kor import measures
import_seconds = time.perf_counter() - t0

import pandas as pd
from kor import fhir, io
from kor.access import SYSTEM
from kor.change import classify_change, episode_change
from kor.frames import ITEM_COLUMNS, session_table
from kor.i18n import t
from kor.store import Store
from widgets.clinician import ClinicianApp

m = measures.get("DEMO10")
assert len(m.items) == 10 and not m.higher_is_better
assert m.label("en") == "Demo symptom scale (10)"
assert t("measure.DEMO10.item.symptom_3", language="nb") == "Symptom 3"

# the service gives DEMO10 to adults instead of ORS (ORS stays for adolescents)
measures.configure({"ORS": {"age_groups": ["age_13_17"]}})  # as a KOR_CONFIG [measures.ORS]
assert measures.measure_for("outcome", "adult").code == "DEMO10"

store = Store.open(sys.argv[1])
store.add_team(SYSTEM, "VOP", "Voksne psykisk helse")
store.add_user(SYSTEM, "ingrid.berg", "clinician", team="VOP")
ingrid = store.actor_for("ingrid.berg")
store.add_client(ingrid, "K00042", team="VOP", age_group="adult")
start = date.today() - timedelta(days=14)
ep = store.open_episode(ingrid, "K00042", start=start)
first = [3, 2, 2, 1, 2, 1, 1, 1, 1, 1]  # 15: above the cut-off of 10
last = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]  # 8: down 7 >= RCI 6, and below the cut-off
for day, values in ((start, first), (start + timedelta(days=7), last)):
    store.record_session(
        ingrid, ep, session_date=day, measurements={"DEMO10": dict(zip(m.items, values))}
    )
stored = store.dataset(ingrid).measurements.sort_values("session_id")
assert stored[list(ITEM_COLUMNS)].to_numpy().tolist() == [first, last]
assert stored["total"].tolist() == [15.0, 8.0]

# the analytics take RCI, cut-off and direction from the declaration
row = episode_change(session_table(store.dataset(ingrid))).iloc[0]
assert (row.intake, row.latest, row.change) == (15.0, 8.0, -7.0)
assert (row.rci, row.cutoff, row.category) == (6.0, 10.0, "recovered")
by_hand = classify_change(
    pd.DataFrame({"first": [15.0, 15.0, 8.0, 12.0], "last": [8.0, 10.0, 14.0, 5.0]}),
    rci=m.reliable_change, cutoff=m.cutoff("adult"), higher_is_better=m.higher_is_better,
)
# down 7 across the cut-off; down 5 is less than RCI 6 (ORS's 5 would count it); up 6
# (worse: lower is better); down 7 from 12 to 5, across the cut-off again
assert by_hand.category.tolist() == ["recovered", "unchanged", "deteriorated", "recovered"]

# the entry form: ten whole-number sliders 0-3, saved as DEMO10
app = ClinicianApp(store, ingrid)
app.client_list.value = next(e for e, r in app.rows.items() if r["client"] == "K00042")
form = app.forms["outcome"]
assert form.measure.code == "DEMO10" and len(form.sliders) == 10
assert {(s.min, s.max, s.step) for s in form.sliders} == {(0.0, 3.0, 1.0)}
shown = [row.layout.display != "none" for row in form.rows]
assert shown == [True] * 10
for slider in form.sliders:
    slider.value = 2.0
app.save_button.click()
saved = store.dataset(ingrid).measurements
assert saved["measure"].tolist() == ["DEMO10"] * 3 and saved["total"].max() == 20.0, app.status

# the file format: item1..item10 written and read back
path = io.write_sessions(store.export_rows(ingrid), Path(sys.argv[2]) / "demo.csv")
header = path.read_text(encoding="utf-8-sig").splitlines()[0].split(";")
assert [c for c in header if c.startswith("item")] == list(ITEM_COLUMNS)
back = io.read_sessions(path)
assert back["item10"].tolist() == [1.0, 0.0, 2.0] and back["total"].tolist() == [15.0, 8.0, 20.0]

# the FHIR export: its Questionnaire has the ten items and the total; a Bundle round trip
q = fhir.questionnaire("DEMO10")
assert [i["linkId"] for i in q["item"]] == [*m.items, "total"]
bundle = fhir.bundle_from_rows(store.export_rows(ingrid))
again = fhir.rows_from_bundle(bundle)
assert again["item10"].tolist() == [1.0, 0.0, 2.0] and again["total"].tolist() == [15.0, 8.0, 20.0]

print(json.dumps({"import_seconds": import_seconds, "measures": list(measures.MEASURES)}))
"""


def _run(code: str, *args: str, path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(p) for p in (path, ROOT) if p] + [env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _install(project: Path, target: Path) -> Path:
    """Install a plug-in project into ``target`` as pip would: its package + a dist-info.

    pip itself would need a wheel-building backend offline (setuptools < 70 lacks
    ``bdist_wheel`` without the ``wheel`` package), so the test writes what pip leaves
    behind: the package directory and ``<name>-<version>.dist-info`` with ``METADATA``
    and ``entry_points.txt`` taken from the project's ``pyproject.toml``.
    """
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    name, version = meta["project"]["name"], meta["project"]["version"]
    for package in meta["tool"]["setuptools"]["packages"]:
        shutil.copytree(project / package, target / package)
    info = target / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = [
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
        for group, points in meta["project"]["entry-points"].items()
    ]
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The demo plug-in installed into a temporary directory (the venv stays untouched)."""
    return _install(PLUGIN, tmp_path_factory.mktemp("site"))


def _fake_plugin(tmp_path: Path, value: str, module: str = "") -> Path:
    """A directory holding a distribution whose only entry point is ``broken = <value>``."""
    info = tmp_path / "kor_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kor-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[kor.measures]\nbroken = {value}\n")
    if module:
        (tmp_path / "kor_broken.py").write_text(textwrap.dedent(module))
    return tmp_path


def test_a_plugin_measure_is_stored_analysed_entered_and_exported(installed, tmp_path):
    done = _run(END_TO_END, f"sqlite:///{tmp_path / 'kor.sqlite'}", str(tmp_path), path=installed)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["measures"][-1] == "DEMO10"


def test_without_the_plugin_the_shipped_measures_are_unchanged():
    done = _run("from kor import measures; print(','.join(measures.MEASURES))")
    assert done.stdout.strip() == "ORS,CORS,YCORS,SRS,CSRS,YCSRS,GSRS"


@pytest.mark.parametrize(
    ("value", "module", "says"),
    [
        ("kor_broken:MEASURE", "raise RuntimeError('typo in the plug-in')", "failed to load"),
        ("kor_broken:MEASURE", "MEASURE = 'not a measure'", "must give a kor.measures.Measure"),
        (
            "kor_broken:MEASURE",
            """
            from kor.measures import Measure
            MEASURE = Measure(code="X11", items=tuple("abcdefghijk"), kind="outcome",
                              given="start", age_groups=("adult",))
            """,
            "1 to 10 items",
        ),
        ("kor.measures:ORS", "", "'ORS', already registered"),
    ],
    ids=["raises", "not_a_measure", "eleven_items", "clashes_with_ors"],
)
def test_a_broken_plugin_stops_the_import_with_a_config_error_naming_it(
    tmp_path, value, module, says
):
    done = _run("import kor.measures", path=_fake_plugin(tmp_path, value, module))
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("kor.errors.ConfigError: measure plug-in 'broken = ")
    assert says in last
