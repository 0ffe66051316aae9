"""server-side sessions (usersession), loginattempt.kind, rig.site_wide

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 15:10:00
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import app.models.base


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usersession',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('usersession', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usersession_key_hash'), ['key_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_usersession_last_seen_at'), ['last_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_usersession_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('loginattempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False,
                                      server_default='password'))

    with op.batch_alter_table('rig', schema=None) as batch_op:
        batch_op.add_column(sa.Column('site_wide', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Rigs from before scoping: the embedded ones (no creator) and admins' stay site-wide; chairs' are scoped.
    op.execute("UPDATE rig SET site_wide = (created_by IS NULL OR created_by IN "
               "(SELECT id FROM \"user\" WHERE is_admin))")


def downgrade() -> None:
    with op.batch_alter_table('rig', schema=None) as batch_op:
        batch_op.drop_column('site_wide')
    with op.batch_alter_table('loginattempt', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('usersession', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usersession_user_id'))
        batch_op.drop_index(batch_op.f('ix_usersession_last_seen_at'))
        batch_op.drop_index(batch_op.f('ix_usersession_key_hash'))
    op.drop_table('usersession')
