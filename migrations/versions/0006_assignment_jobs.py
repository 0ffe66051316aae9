"""assignment jobs (progress of long assignment runs)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 11:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import app.models.base


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assignmentjob',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('phase', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('applied_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['requested_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('assignmentjob', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignmentjob_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignmentjob_venue_id'), ['venue_id'], unique=False)
    op.create_index('uq_assignmentjob_active_venue', 'assignmentjob', ['venue_id'], unique=True,
                    sqlite_where=sa.text("status IN ('queued', 'running')"),
                    postgresql_where=sa.text("status IN ('queued', 'running')"))


def downgrade() -> None:
    op.drop_index('uq_assignmentjob_active_venue', table_name='assignmentjob')
    with op.batch_alter_table('assignmentjob', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignmentjob_venue_id'))
        batch_op.drop_index(batch_op.f('ix_assignmentjob_status'))

    op.drop_table('assignmentjob')
