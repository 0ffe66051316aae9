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
    pass


def downgrade() -> None:
    pass
