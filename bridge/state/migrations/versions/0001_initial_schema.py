"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('conflicts',
    sa.Column('conflict_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('field_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('source_value', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('target_value', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('policy', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('winner', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('detected_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('conflict_id')
    )
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conflicts_item_key'), ['item_key'], unique=False)

    op.create_table('cursors',
    sa.Column('stream', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('position', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('signpost', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('stream')
    )
    op.create_table('intents',
    sa.Column('intent_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('source_internal_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('intent_id')
    )
    with op.batch_alter_table('intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intents_item_key'), ['item_key'], unique=True)

    op.create_table('links',
    sa.Column('link_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('source_internal_id', sa.Integer(), nullable=True),
    sa.Column('target_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('target_display_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('source_hashes', sa.JSON(), nullable=False),
    sa.Column('target_hashes', sa.JSON(), nullable=False),
    sa.Column('source_version', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('target_version', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('orphaned_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('orphan_side', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('link_id'),
    sa.UniqueConstraint('kind', 'source_key', name='uq_links_kind_source'),
    sa.UniqueConstraint('kind', 'target_id', name='uq_links_kind_target')
    )
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_links_item_key'), ['item_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_links_kind'), ['kind'], unique=False)

    op.create_table('quarantine',
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('error_class', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_failed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_failed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('next_retry_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('item_version', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('item_key')
    )
    op.create_table('runs',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('run_id')
    )



def downgrade() -> None:

    op.drop_table('runs')
    op.drop_table('quarantine')
    with op.batch_alter_table('links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_links_kind'))
        batch_op.drop_index(batch_op.f('ix_links_item_key'))

    op.drop_table('links')
    with op.batch_alter_table('intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intents_item_key'))

    op.drop_table('intents')
    op.drop_table('cursors')
    with op.batch_alter_table('conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conflicts_item_key'))

    op.drop_table('conflicts')

