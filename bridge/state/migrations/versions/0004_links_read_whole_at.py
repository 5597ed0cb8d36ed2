"""links.read_whole_at: when each ticket was last read whole, so the sweep reads only those due

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows get NULL: never read whole as far as the ledger knows, so due for the next sweep.
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_whole_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index('ix_links_kind_read_whole_at', ['kind', 'read_whole_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index('ix_links_kind_read_whole_at')
        batch_op.drop_column('read_whole_at')
