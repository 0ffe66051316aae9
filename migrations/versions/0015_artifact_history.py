"""artifact history: the git history of an artifact version, summarised at snapshot time

Revision ID: 0015
Revises: 0009
Create Date: 2026-12-07 15:55:00
"""

from alembic import op
import sqlalchemy as sa
import app.models.base


revision = '0015'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('artifacthistory',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('artifact_id', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['artifact.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('artifact_id')
    )


def downgrade() -> None:
    op.drop_table('artifacthistory')
