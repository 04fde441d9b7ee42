"""The client's own path («Slik har du hatt det»): plain words, reliable change as the bar."""

from __future__ import annotations

import pandas as pd
import pytest

from kor.i18n import set_language
from kor.own_path import own_path


def _rows(totals: list[float | None], measure: str = "ORS") -> pd.DataFrame:
    n = len(totals)
    return pd.DataFrame(
        {
            "session_no": list(range(1, n + 1)),
            "session_date": pd.date_range("2026-01-05", periods=n, freq="7D"),
            "outcome_measure": [measure if x is not None else None for x in totals],
            "outcome": [float("nan") if x is None else x for x in totals],
        }
    )


@pytest.mark.parametrize(
    ("totals", "direction", "words"),
    [
        ([], "none", "Ingen svar ennå"),
        ([18.0], "first", "første gang. Summen din er 18,0"),
        ([18.0, None, 23.0], "better", "5,0 poeng bedre"),  # exactly the RCI of 5 points
        ([18.0, 22.9], "same", "omtrent som da du begynte"),  # 4.9: not reliable
        ([24.0, 17.5], "worse", "6,5 poeng lavere"),
    ],
)
def test_direction_needs_a_reliable_change_and_reads_in_plain_bokmal(totals, direction, words):
    set_language("nb")
    path = own_path(_rows(totals))
    assert path.direction == direction
    assert words in path.sentence()
    assert "persentil" not in path.sentence()


def test_only_the_named_measure_and_recorded_totals_count():
    rows = pd.concat([_rows([10.0, None, 30.0]), _rows([5.0], measure="CORS")])
    path = own_path(rows, "ORS")
    assert path.points["total"].tolist() == [10.0, 30.0] and path.change == 20.0


def test_the_chart_labels_each_point_and_is_in_the_users_language():
    set_language("en")
    try:
        ax = own_path(_rows([18.0, 24.5])).plot()
        assert ax.get_title() == "How you have been"
        assert [a.get_text() for a in ax.texts] == ["18.0", "24.5"]
    finally:
        set_language("nb")
