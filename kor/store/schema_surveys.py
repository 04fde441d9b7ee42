"""Tables of «Bruker spør bruker» (migration ``0002``), on the shared :data:`schema.metadata`.

Interviews are anonymous: a response records the respondent *group* (user or staff) and
who interviewed, never who answered. Free text lives only in ``bsb_comment`` with an
``approved`` flag, so every export can leave out unapproved text by one condition.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from kor.store.schema import metadata

__all__ = [
    "bsb_questionnaire",
    "bsb_survey",
    "bsb_response",
    "bsb_answer",
    "bsb_comment",
    "bsb_theme",
]

bsb_questionnaire = Table(
    "bsb_questionnaire",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("version", String(40), nullable=False),
    Column("definition", Text, nullable=False),  # Questionnaire.to_json()
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("name", "version", name="uq_bsb_questionnaire_name_version"),
)

bsb_survey = Table(
    "bsb_survey",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("service", String(100), nullable=False, index=True),
    Column("round", String(20), nullable=False),  # baseline | follow_up
    Column("title", String(200), nullable=False),
    Column("questionnaire_id", ForeignKey("bsb_questionnaire.id"), nullable=False),
    Column("start_date", Date, nullable=True),
    Column("end_date", Date, nullable=True),
    Column("created_by", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

bsb_response = Table(
    "bsb_response",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("survey_id", ForeignKey("bsb_survey.id"), nullable=False, index=True),
    Column("respondent", String(10), nullable=False),  # user | staff
    Column("interviewer", String(64), nullable=True),
    Column("status", String(10), nullable=False),  # draft | complete
    Column("source", String(10), nullable=False),  # entry | import
    Column("external_id", String(80), nullable=True),
    Column("started_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("survey_id", "external_id", name="uq_bsb_response_survey_external"),
)

bsb_answer = Table(
    "bsb_answer",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("response_id", ForeignKey("bsb_response.id"), nullable=False, index=True),
    Column("question", String(100), nullable=False),
    Column("value_text", String(400), nullable=True),  # choice name(s) or number as text
    Column("value_number", Float, nullable=True),  # score of an ordinal/numeric answer
    UniqueConstraint("response_id", "question", name="uq_bsb_answer_response_question"),
)

bsb_comment = Table(
    "bsb_comment",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("answer_id", ForeignKey("bsb_answer.id"), nullable=False, unique=True),
    Column("text", Text, nullable=False),
    Column("approved", Boolean, nullable=False),
    Column("quote", Boolean, nullable=False),  # chosen for the dialogue-conference report
    Column("themes", Text, nullable=False),  # JSON list of theme codes
    Column("coded_by", String(64), nullable=True),
    Column("version", Integer, nullable=False),
)

bsb_theme = Table(
    "bsb_theme",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(60), nullable=False, unique=True),
    Column("label_nb", String(200), nullable=False),
    Column("label_en", String(200), nullable=False),
)
