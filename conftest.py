"""Root pytest configuration: the notebooks run against their own sample database.

Every notebook in ``notebooks/`` is executed top to bottom by nbmake as part of the
suite. Their kernels inherit this process's environment, so before collection we
point ``KOR_DATA_DIR`` at a fresh directory holding the migrated sample database.
"""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:  # noqa: ANN001
    if os.environ.get("KOR_DATA_DIR_FOR_TESTS"):
        return
    directory = tempfile.mkdtemp(prefix="kor-test-data-")
    os.environ["KOR_DATA_DIR_FOR_TESTS"] = directory
    os.environ["KOR_DATA_DIR"] = directory
    os.environ.pop("KOR_DATABASE_URL", None)
    os.environ.setdefault("KOR_LANGUAGE", "nb")
    os.environ.setdefault("MPLBACKEND", "Agg")
    from kor.cli import ensure_database

    ensure_database(load_sample=True)
