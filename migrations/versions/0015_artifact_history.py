"""artifact history and identity claims: the git history of an artifact version, summarised at snapshot time,
and which git identities count as which group member's

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-07 15:55:00
"""

from alembic import op
import sqlalchemy as sa
import app.models.base


revision = '0015'
down_revision = '0013'
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
    op.create_table('identityclaim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('origin', sa.String(length=10), nullable=False),
    sa.Column('disputed_by', sa.Integer(), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['group.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], ),
    sa.ForeignKeyConstraint(['disputed_by'], ['member.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'email')
    )
    op.create_index('ix_identityclaim_group_id', 'identityclaim', ['group_id'], unique=False)
    op.create_index('ix_identityclaim_member_id', 'identityclaim', ['member_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_identityclaim_member_id', table_name='identityclaim')
    op.drop_index('ix_identityclaim_group_id', table_name='identityclaim')
    op.drop_table('identityclaim')
    op.drop_table('artifacthistory')
