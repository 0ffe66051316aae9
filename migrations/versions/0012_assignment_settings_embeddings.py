"""assignment settings (course options) and embeddings cached in the database

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07 15:20:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import app.models.base


revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assignmentsettings',
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('one_reviewer_per_group', sa.Boolean(), nullable=False),
    sa.Column('no_reciprocal_groups', sa.Boolean(), nullable=False),
    sa.Column('every_student_reviews', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], ),
    sa.PrimaryKeyConstraint('venue_id')
    )
    op.create_table('embedding',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('embedding')
    op.drop_table('assignmentsettings')
