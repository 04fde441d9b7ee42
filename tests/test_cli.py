"""The ``kor`` command on a real SQLite file."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from kor.access import SYSTEM
from kor.cli import build_parser, main
from kor.store import Store


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("KOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KOR_DATABASE_URL", raising=False)
    monkeypatch.setenv("KOR_USER", "admin")
    monkeypatch.setenv("KOR_ROLE", "admin")
    return tmp_path


@pytest.mark.parametrize(
    "argv", [[], ["app"], ["sample"], ["import"], ["export"], ["db"], ["db", "upgrade"]]
)
def test_every_subcommand_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*argv, "--help"])
    assert exit_.value.code == 0
    assert "usage: kor" in capsys.readouterr().out


def test_db_upgrade_creates_the_embedded_database(env, capsys):
    assert main(["db", "upgrade"]) == 0
    assert (env / "var" / "kor.sqlite").exists()
    from kor.store import _head_revision

    assert _head_revision() in capsys.readouterr().out


def test_sample_writes_csvs_and_loads_them(env, tmp_path):
    out = tmp_path / "sample"
    assert main(["sample", "--clients", "60", "--out", str(out)]) == 0
    assert {p.name for p in out.glob("*.csv")} >= {"clients.csv", "measurements.csv"}
    store = Store.open()
    assert store.counts(SYSTEM)["client"] == 60
    store.close()
    # a second load into the now full database is refused with a message, exit 2
    assert main(["sample", "--clients", "60", "--out", str(out)]) == 2


def test_export_then_import_into_an_empty_database_round_trips(env, tmp_path):
    assert main(["sample", "--clients", "40", "--out", str(tmp_path / "s")]) == 0
    exported = tmp_path / "okter.csv"
    assert main(["export", str(exported)]) == 0
    source = Store.open()
    rows_before = source.export_rows(SYSTEM)
    source.close()

    other = tmp_path / "other.sqlite"
    url = f"sqlite:///{other}"
    fresh = Store.open(url)
    data = __import__("kor.frames", fromlist=["Dataset"]).Dataset.read_csv(tmp_path / "s")
    fresh.load_dataset(
        SYSTEM,
        data.__class__(
            teams=data.teams,
            users=data.users,
            clients=data.clients.iloc[0:0],
            episodes=data.episodes.iloc[0:0],
            sessions=data.sessions.iloc[0:0],
            measurements=data.measurements.iloc[0:0],
        ),
    )
    fresh.close()
    assert main(["import", str(exported), "--database", url]) == 0
    again = Store.open(url)
    rows_after = again.export_rows(SYSTEM)
    again.close()
    pd.testing.assert_frame_equal(
        rows_after.reset_index(drop=True), rows_before.reset_index(drop=True), check_dtype=False
    )
    # importing the same file twice adds nothing
    assert main(["import", str(exported), "--database", url]) == 0
    again = Store.open(url)
    assert len(again.export_rows(SYSTEM)) == len(rows_before)
    again.close()


def test_a_bad_file_lists_problems_with_row_and_column_and_writes_nothing(env, tmp_path, capsys):
    assert main(["sample", "--clients", "20", "--out", str(tmp_path / "s")]) == 0
    before = Store.open().counts(SYSTEM)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "client_code;age_group;team;clinician;episode_start;session_date;session_no;format;"
        "measure;item1;item2;item3;item4\n"
        "K90001;adult;VOP;ingrid.berg;01.02.2026;01.02.2026;1;individual;ORS;5;5;5;5\n"
        "K90001;adult;VOP;ingrid.berg;01.02.2026;31.02.2026;2;individual;ORS;5;5;75;5\n",
        encoding="utf-8",
    )
    assert main(["import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "rad 3" in err
    assert Store.open().counts(SYSTEM) == before


def test_unexpected_failure_prints_no_traceback(env, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "kor.cli", "import", str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
        env={**__import__("os").environ},
    )
    assert result.returncode in (1, 2)
    assert "Traceback" not in result.stderr


def test_kor_app_says_who_the_apps_act_as_and_warns_of_an_unstored_user(env, monkeypatch):
    from kor.cli import _local_user
    from kor.i18n import t

    assert _local_user() == t("cli.app.user", user="admin", role=t("role.admin"))
    monkeypatch.delenv("KOR_USER")
    monkeypatch.delenv("KOR_ROLE")  # the default, the sample's team lead: not in this database
    assert _local_user() == t("cli.app.user_unknown", user="guro.nesheim")
