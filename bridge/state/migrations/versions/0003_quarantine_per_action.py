"""quarantine per action: each write of an item fails, waits and gives up on its own

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


_COLUMNS = "item_key, error_class, error, attempts, first_failed_at, last_failed_at, next_retry_at, item_version"


def _quarantine_table(name: str, *, per_action: bool) -> None:
    extra = [sa.Column('action_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
             sa.Column('action', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
             sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
             sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(), nullable=True)] if per_action else []
    op.create_table(name,
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    *extra,
    sa.Column('error_class', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_failed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_failed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('next_retry_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('item_version', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('item_key', 'action_key') if per_action else sa.PrimaryKeyConstraint('item_key')
    )


def upgrade() -> None:
    # The primary key grows by a column: a new table, the old entries copied as whole-item
    # entries (action_key ''), the old table dropped (portable to every database).
    _quarantine_table('quarantine_new', per_action=True)
    op.execute(f"INSERT INTO quarantine_new ({_COLUMNS}, action_key, action, kind) SELECT {_COLUMNS}, '', '', 'failed' FROM quarantine")
    op.drop_table('quarantine')
    op.rename_table('quarantine_new', 'quarantine')


def downgrade() -> None:
    _quarantine_table('quarantine_old', per_action=False)
    op.execute(f"INSERT INTO quarantine_old ({_COLUMNS}) SELECT {_COLUMNS} FROM quarantine WHERE action_key = ''")
    op.drop_table('quarantine')
    op.rename_table('quarantine_old', 'quarantine')
