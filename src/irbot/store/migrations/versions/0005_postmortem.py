"""incident: the post-mortem's compile lease and bookmark; how far backfill has reached

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('postmortem_bookmark_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('postmortem_lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('backfilled_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_column('backfilled_until')
        batch_op.drop_column('postmortem_lease_until')
        batch_op.drop_column('postmortem_bookmark_id')
