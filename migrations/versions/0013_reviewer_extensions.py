"""extension.member_id: a reviewer's own extension of the review deadline (group_id optional then)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('extension', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_extension_member_id_member', 'member', ['member_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_extension_member_id'), ['member_id'], unique=False)
        batch_op.alter_column('group_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM extension WHERE group_id IS NULL")
    with op.batch_alter_table('extension', schema=None) as batch_op:
        batch_op.alter_column('group_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index(batch_op.f('ix_extension_member_id'))
        batch_op.drop_constraint('fk_extension_member_id_member', type_='foreignkey')
        batch_op.drop_column('member_id')
