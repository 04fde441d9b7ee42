"""A service's configuration file changes thresholds, rules and wording without code."""

from __future__ import annotations

import pytest

from kor import config, flags, i18n, measures
from kor.access import Actor
from kor.errors import ConfigError, ValidationError

SERVICE_TOML = """
[measures.ORS]
reliable_change = 6.0

[wording."measure.SRS.item.relationship"]
nb = "Lisensiert tekst om relasjon"

[flags.alliance_item]
enabled = true

[flags.alliance_low]
threshold = 35.0
"""


@pytest.fixture
def restore():
    saved = dict(measures.MEASURES)
    yield
    measures.MEASURES.clear()
    measures.MEASURES.update(saved)
    flags.configure({})
    i18n._overrides.clear()


def test_service_file_sets_measures_rules_and_wording(tmp_path, restore):
    path = tmp_path / "tjeneste.toml"
    path.write_text(SERVICE_TOML, encoding="utf-8")
    config.apply_service_config(config.load_service_config(path))
    assert measures.get("ORS").reliable_change == 6.0
    rules = {r.id: r for r in flags.service_rules()}
    assert rules["alliance_item"].enabled is True
    assert rules["alliance_low"].threshold == 35.0
    assert i18n.t("measure.SRS.item.relationship", language="nb") == "Lisensiert tekst om relasjon"


def test_configured_rules_are_the_default_of_evaluate_flags(restore):
    import pandas as pd

    sessions = pd.DataFrame(
        {
            "client": ["K1"] * 2,
            "episode": [1, 1],
            "team": ["VOP"] * 2,
            "clinician": ["a"] * 2,
            "age_group": ["adult"] * 2,
            "episode_start": pd.to_datetime(["2026-01-05"] * 2),
            "episode_end": pd.to_datetime([None, None]),
            "end_reason": [None, None],
            "session_date": pd.to_datetime(["2026-01-05", "2026-01-12"]),
            "session_no": [1, 2],
            "format": ["individual"] * 2,
            "outcome_measure": ["ORS"] * 2,
            "outcome": [20.0, 21.0],
            "alliance_measure": ["SRS"] * 2,
            "alliance": [35.5, 37.0],
            "alliance_min_item": [8.5, 9.0],
        }
    )
    default = set(flags.evaluate_flags(sessions).rule)
    assert {"alliance_low"} <= default and "alliance_item" not in default
    flags.configure({"alliance_item": {"enabled": True}, "alliance_low": {"threshold": 35.0}})
    configured = set(flags.evaluate_flags(sessions).rule)
    assert "alliance_item" in configured and "alliance_low" not in configured


def test_unknown_sections_and_bad_files_are_refused_clearly(tmp_path, restore):
    with pytest.raises(ConfigError, match="unknown configuration sections"):
        config.apply_service_config({"measurez": {}})
    bad = tmp_path / "bad.toml"
    bad.write_text("[measures.ORS\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read configuration"):
        config.load_service_config(bad)
    with pytest.raises(ConfigError):
        config.apply_service_config({"flags": {"no_such_rule": {"enabled": True}}})


def test_the_default_local_user_is_the_samples_team_lead_not_an_admin(monkeypatch):
    from kor.sample import STAFF

    for name in ("KOR_USER", "KOR_ROLE", "KOR_TEAM"):
        monkeypatch.delenv(name, raising=False)
    actor = config.local_actor()
    assert actor.role != "admin"
    assert (actor.username, actor.role, actor.team) in {(s[0], s[2], s[3]) for s in STAFF}
    assert actor.role == "team_lead"  # the clinician, dashboard, BSB, cycle and overview apps


def test_an_admin_is_only_asked_for_and_a_named_user_defaults_to_clinician(monkeypatch):
    for name in ("KOR_USER", "KOR_ROLE", "KOR_TEAM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KOR_ROLE", "admin")
    assert config.local_actor() == Actor("admin", "admin")
    monkeypatch.setenv("KOR_USER", "terje.moen")
    assert config.local_actor() == Actor("terje.moen", "admin")
    monkeypatch.delenv("KOR_ROLE")
    monkeypatch.setenv("KOR_USER", "ingrid.berg")
    assert config.local_actor().role == "clinician"  # the stored role wins in the store


def test_a_service_narrows_where_a_shipped_measure_is_given(tmp_path, restore):
    path = tmp_path / "tjeneste.toml"
    path.write_text('[measures.ORS]\nage_groups = ["age_13_17"]\n', encoding="utf-8")
    config.apply_service_config(config.load_service_config(path))
    assert measures.get("ORS").age_groups == ("age_13_17",)
    with pytest.raises(ValidationError):  # adults: no outcome measure left
        measures.measure_for("outcome", "adult")
    path.write_text('[measures.ORS]\nage_groups = ["grownups"]\n', encoding="utf-8")
    with pytest.raises(ConfigError):
        config.apply_service_config(config.load_service_config(path))
