"""DEMO10: a made-up 10-item symptom scale, to show and test a measure plug-in.

Not a real instrument: ten items scored 0-3 (whole numbers), total 0-30, lower is
better; reliable change 6 points, clinical cut-off 10 (adults). Declared once, it is
scored, stored, analysed, entered and exported by the workbench like ORS.
"""

from kor.measures import Measure

ITEMS = tuple(f"symptom_{k}" for k in range(1, 11))

MEASURE = Measure(
    code="DEMO10",
    items=ITEMS,
    kind="outcome",
    given="start",
    age_groups=("adult",),
    item_range=(0.0, 3.0),
    decimals=0,
    higher_is_better=False,
    reliable_change=6.0,
    cutoffs={"adult": 10.0},
    reference="Made up for the KOR workbench tests; no validation study",
    labels={
        "name": {"nb": "Demo-symptomskala (10)", "en": "Demo symptom scale (10)"},
        **{
            f"item.{item}": {"nb": f"Symptom {k}", "en": f"Symptom {k}"}
            for k, item in enumerate(ITEMS, start=1)
        },
    },
)
