"""A service's configuration file changes thresholds, rules and wording without code."""

from __future__ import annotations

import pytest

from kor import config, flags, i18n, measures
from kor.errors import ConfigError

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
