"""conflict.other_member_id: the person a declared conflict names, so it holds in both directions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 14:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conflict', schema=None) as batch_op:
        batch_op.add_column(sa.Column('other_member_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_conflict_other_member_id_member', 'member', ['other_member_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('conflict', schema=None) as batch_op:
        batch_op.drop_constraint('fk_conflict_other_member_id_member', type_='foreignkey')
        batch_op.drop_column('other_member_id')
