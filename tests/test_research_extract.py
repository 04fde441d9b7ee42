"""The pseudonymised research extract: keyed hashes, months, no free text, key outside the DB."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from datetime import date

import openpyxl
import pandas as pd
import pytest

from kor import research
from kor.access import SYSTEM
from kor.cli import main
from kor.errors import ValidationError
from kor.sample import generate
from kor.store import Store

KEY = bytes(range(32))


@pytest.fixture
def loaded(store: Store) -> Store:
    store.load_dataset(SYSTEM, generate(25, seed=11))
    # the quality lead who runs extracts holds client-level access
    store.grant_access(
        SYSTEM, "randi.saether", "client_level", until=date.today(), reason="research extract"
    )
    return store


def test_a_quality_lead_without_client_level_access_cannot_extract(store):
    from kor.errors import AccessDenied

    store.load_dataset(SYSTEM, generate(25, seed=11))
    with pytest.raises(AccessDenied) as err:
        research.research_extract(store, store.actor_for("randi.saether"), KEY)
    assert err.value.key == "research.needs_client_level_grant"


@pytest.fixture
def extract(loaded: Store) -> pd.DataFrame:
    return research.research_extract(loaded, loaded.actor_for("randi.saether"), KEY)


def test_extract_has_exactly_the_documented_columns(extract):
    assert tuple(extract.columns) == research.RESEARCH_COLUMNS
    assert not {"client_code", "session_date", "birth_year", "display_name"} & set(extract)


def test_no_client_code_username_or_episode_id_survives(loaded, extract):
    admin = loaded.actor_for("terje.moen")
    table = loaded.session_table(admin)
    text = extract.to_csv(index=False)
    assert not [c for c in set(table.client) if c in text]
    assert not [u for u in set(table.clinician) if u in text]
    assert set(extract.episode).isdisjoint({str(e) for e in table.episode})
    assert extract.client.str.fullmatch(r"[0-9a-f]{20}").all()


def test_pseudonyms_are_keyed_hmac_sha256_and_stable_per_client(loaded, extract):
    table = loaded.session_table(loaded.actor_for("terje.moen"))
    code = table.client.iloc[0]
    expected = hmac.new(KEY, f"client\x1f{code}".encode(), hashlib.sha256).hexdigest()[:20]
    assert expected in set(extract.client)
    sessions = extract.groupby("client").size().sort_values().to_numpy()
    assert (sessions == table.groupby("client").size().sort_values().to_numpy()).all()
    other = research.research_extract(loaded, loaded.actor_for("terje.moen"), b"z" * 32)
    assert set(other.client).isdisjoint(set(extract.client))
    assert other.client.nunique() == extract.client.nunique()


def test_dates_are_coarsened_to_months(extract):
    for column in ("episode_start", "episode_end", "session_month"):
        values = extract[column].dropna()
        assert values.str.fullmatch(r"\d{4}-\d{2}").all(), column
    text = extract.to_csv(index=False)
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{2}\.\d{2}\.\d{4}", text)


def test_scores_and_session_numbers_are_kept_exactly(loaded, extract):
    table = loaded.session_table(loaded.actor_for("terje.moen"))
    assert len(extract) == len(table)
    for column in ("outcome", "alliance", "alliance_min_item"):
        assert sorted(extract[column].dropna()) == sorted(table[column].dropna())
    assert sorted(extract.session_no) == sorted(table.session_no)


def test_team_filter_narrows_the_extract(loaded):
    actor = loaded.actor_for("randi.saether")
    vop = research.research_extract(loaded, actor, KEY, team="VOP")
    assert set(vop.team) == {"VOP"} and len(vop) > 0


def test_a_short_key_is_refused(loaded):
    with pytest.raises(ValidationError) as err:
        research.research_extract(loaded, loaded.actor_for("terje.moen"), b"short")
    assert err.value.key == "research.key_short"


def test_a_missing_key_is_created_private_and_random(tmp_path, monkeypatch):
    path = tmp_path / "keys" / "research.key"
    monkeypatch.setenv("KOR_RESEARCH_KEY_FILE", str(path))
    key = research.load_key()
    assert len(key) == research.KEY_BYTES
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert research.load_key() == key  # stable once made
    other = tmp_path / "other.key"
    assert research.load_key(other) != key


def test_a_key_others_can_read_or_a_missing_key_without_create_is_refused(tmp_path):
    path = tmp_path / "research.key"
    path.write_bytes(b"q" * 32)
    os.chmod(path, 0o644)
    with pytest.raises(ValidationError) as err:
        research.load_key(path)
    assert err.value.key == "research.key_permissions"
    with pytest.raises(ValidationError) as err:
        research.load_key(tmp_path / "none.key", create=False)
    assert err.value.key == "research.key_missing"


def test_written_files_are_private_and_neutralise_formulas(tmp_path, extract):
    hostile = extract.head(3).copy()
    hostile["team"] = ['=HYPERLINK("http://x")', "+1", "@SUM(A1)"]
    csv = research.write_extract(hostile, tmp_path / "x.csv")
    xlsx = research.write_extract(hostile, tmp_path / "x.xlsx")
    for path in (csv, xlsx):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = csv.read_text(encoding="utf-8-sig")
    assert "\"'=HYPERLINK" in text and ";'+1;" in text and ";'@SUM" in text
    sheet = openpyxl.load_workbook(xlsx).active
    teams = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert teams == ['\'=HYPERLINK("http://x")', "'+1", "'@SUM(A1)"]
    with pytest.raises(ValidationError):
        research.write_extract(extract, tmp_path / "x.json")


@pytest.mark.parametrize("argv", [["export-research"], ["export", "--research"]])
def test_command_line_writes_the_extract_with_a_key_file(tmp_path, monkeypatch, argv, capsys):
    monkeypatch.setenv("KOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("KOR_USER", "admin")
    monkeypatch.setenv("KOR_ROLE", "admin")
    st = Store.open(f"sqlite:///{tmp_path / 'var' / 'kor.sqlite'}")
    st.load_dataset(SYSTEM, generate(8, seed=4))
    st.close()
    key_file = tmp_path / "secrets" / "research.key"
    out = tmp_path / "extract.csv"
    assert main([*argv[:1], str(out), *argv[1:], "--key-file", str(key_file)]) == 0
    assert key_file.exists() and "var" not in str(key_file)
    frame = pd.read_csv(out, sep=";", decimal=",", encoding="utf-8-sig")
    assert tuple(frame.columns) == research.RESEARCH_COLUMNS and len(frame) > 0
    assert "økter" in capsys.readouterr().out


def test_command_line_refuses_a_researcher(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KOR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("KOR_DATABASE_URL", raising=False)
    st = Store.open(f"sqlite:///{tmp_path / 'var' / 'kor.sqlite'}")
    st.load_dataset(SYSTEM, generate(8, seed=4))
    st.close()
    monkeypatch.setenv("JUPYTERHUB_USER", "hakon.vik")
    out = tmp_path / "extract.csv"
    assert main(["export-research", str(out), "--key-file", str(tmp_path / "k.key")]) == 2
    assert not out.exists()
    assert "tilgang" in capsys.readouterr().err
