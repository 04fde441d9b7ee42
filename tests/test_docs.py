"""The guide in docs/: the site builds without a warning and the quick start runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kor
import surveys
from kor import i18n

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
STEPS = (  # the quick start's steps, each must appear in its code
    "generate(",
    "session_table(",
    "episode_change(",
    "classify_change(",
    "ExpectedResponse(",
    "service_indicators(",
    'chart="run"',
    "gaps(",
)


def _python_blocks(path: Path) -> list[str]:
    return FENCE.findall(path.read_text(encoding="utf-8"))


def test_site_builds_in_strict_mode_with_every_page_and_public_name(tmp_path):
    site = tmp_path / "site"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert "WARNING" not in log, log
    print(f"mkdocs build --strict: {time.perf_counter() - started:.1f} s")
    for page in ("guide", "guide/quickstart", "guide/api", "import-format", "bsb"):
        assert (site / page / "index.html").is_file(), page
    api = (site / "guide" / "api" / "index.html").read_text(encoding="utf-8")
    for pkg in (kor, surveys):
        for name in pkg.__all__:
            assert f'id="{pkg.__name__}.{name}"' in api, f"{pkg.__name__}.{name} not rendered"
    assert ":func:`" not in api and ":class:`" not in api  # roles rewritten for Markdown


def test_api_page_documents_exactly_the_public_names_in_order():
    documented = re.findall(r"^::: (\w+)\.(\w+)\s*$", (GUIDE / "api.md").read_text(), re.M)
    expected = [(p.__name__, n) for p in (kor, surveys) for n in p.__all__]
    assert documented == expected


def test_quick_start_has_a_python_block_for_every_step():
    blocks = _python_blocks(GUIDE / "quickstart.md")
    assert len(blocks) >= 8  # an extraction that finds nothing must not pass vacuously
    text = "\n".join(blocks)
    assert [step for step in STEPS if step not in text] == []


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::kor.errors.KorStatisticalWarning")  # the prose says so
def test_quick_start_runs_as_written_in_one_session():
    """Every ```python block of quickstart.md, in order, in one namespace."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    language = i18n.get_language()
    namespace: dict[str, object] = {"__name__": "__quickstart__"}
    started = time.process_time()  # CPU time: a loaded machine must not fail the test
    try:
        for number, block in enumerate(_python_blocks(GUIDE / "quickstart.md"), start=1):
            code = compile(block, f"docs/guide/quickstart.md, python block {number}", "exec")
            exec(code, namespace)  # noqa: S102 - running the documentation is the point
    finally:
        i18n.set_language(language)
        plt.close("all")
    elapsed = time.process_time() - started
    assert elapsed < 30, f"the quick start took {elapsed:.1f} s of CPU; keep it quick"
    # what the prose promises
    assert len(namespace["sessions"]) > 1000
    assert set(namespace["episodes"]["category"].dropna()) <= set(kor.change.CATEGORIES)
    assert namespace["model"].method_ == "quantreg"
    assert namespace["chart"].kind == "run"
    gap_table = namespace["gap_table"]
    assert gap_table.loc[gap_table["significant"], "question"].tolist() == ["u_info_service"]
