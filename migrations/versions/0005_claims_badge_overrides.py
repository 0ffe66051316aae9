"""claims and badge overrides (artifact reproduction)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 11:00:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import app.models.base


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('submissionclaim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('page', sa.Integer(), nullable=True),
    sa.Column('experiment', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('metric', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('tolerance', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submission_id', 'key')
    )
    with op.batch_alter_table('submissionclaim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submissionclaim_submission_id'), ['submission_id'], unique=False)

    op.create_table('badgeoverride',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('badge', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submission_id', 'badge')
    )
    with op.batch_alter_table('badgeoverride', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_badgeoverride_submission_id'), ['submission_id'], unique=False)

    # GPUs a run needs (from the manifest's experiments), so a gpu rig with fewer leaves it queued.
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gpus', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_column('gpus')
    with op.batch_alter_table('badgeoverride', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_badgeoverride_submission_id'))
    op.drop_table('badgeoverride')
    with op.batch_alter_table('submissionclaim', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submissionclaim_submission_id'))
    op.drop_table('submissionclaim')
