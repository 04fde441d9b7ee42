"""«Bruker spør bruker» surveys, questionnaires and responses.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bsb_questionnaire",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bsb_questionnaire"),
        sa.UniqueConstraint("name", "version", name="uq_bsb_questionnaire_name_version"),
    )
    op.create_table(
        "bsb_survey",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("round", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("questionnaire_id", sa.Integer, nullable=False),
        sa.Column("start_date", sa.Date, nullable=True),
        sa.Column("end_date", sa.Date, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bsb_survey"),
        sa.ForeignKeyConstraint(
            ["questionnaire_id"],
            ["bsb_questionnaire.id"],
            name="fk_bsb_survey_questionnaire_id_bsb_questionnaire",
        ),
    )
    op.create_index("ix_bsb_survey_service", "bsb_survey", ["service"])
    op.create_table(
        "bsb_response",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("survey_id", sa.Integer, nullable=False),
        sa.Column("respondent", sa.String(10), nullable=False),
        sa.Column("interviewer", sa.String(64), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("external_id", sa.String(80), nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bsb_response"),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["bsb_survey.id"], name="fk_bsb_response_survey_id_bsb_survey"
        ),
        sa.UniqueConstraint("survey_id", "external_id", name="uq_bsb_response_survey_external"),
    )
    op.create_index("ix_bsb_response_survey_id", "bsb_response", ["survey_id"])
    op.create_table(
        "bsb_answer",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("response_id", sa.Integer, nullable=False),
        sa.Column("question", sa.String(100), nullable=False),
        sa.Column("value_text", sa.String(400), nullable=True),
        sa.Column("value_number", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_bsb_answer"),
        sa.ForeignKeyConstraint(
            ["response_id"], ["bsb_response.id"], name="fk_bsb_answer_response_id_bsb_response"
        ),
        sa.UniqueConstraint("response_id", "question", name="uq_bsb_answer_response_question"),
    )
    op.create_index("ix_bsb_answer_response_id", "bsb_answer", ["response_id"])
    op.create_table(
        "bsb_comment",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("answer_id", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("approved", sa.Boolean, nullable=False),
        sa.Column("quote", sa.Boolean, nullable=False),
        sa.Column("themes", sa.Text, nullable=False),
        sa.Column("coded_by", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bsb_comment"),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["bsb_answer.id"], name="fk_bsb_comment_answer_id_bsb_answer"
        ),
        sa.UniqueConstraint("answer_id", name="uq_bsb_comment_answer_id"),
    )
    op.create_table(
        "bsb_theme",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("code", sa.String(60), nullable=False),
        sa.Column("label_nb", sa.String(200), nullable=False),
        sa.Column("label_en", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bsb_theme"),
        sa.UniqueConstraint("code", name="uq_bsb_theme_code"),
    )


def downgrade() -> None:
    for table in (
        "bsb_theme",
        "bsb_comment",
        "bsb_answer",
        "bsb_response",
        "bsb_survey",
        "bsb_questionnaire",
    ):
        op.drop_table(table)
