"""the declare's set-up is owed work: its progress leaves the incident row

Revision ID: 0003
Revises: 0002

An incident left "opening" by an older irbot is owed its set-up anew at start-up
(services.declare.resume_unfinished); its steps check the facts the row keeps (channel, card,
announcement, checklist), so nothing already done in Slack is done twice.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_column('card_pinned')
        batch_op.drop_column('declarer_invited')
        batch_op.drop_column('setup_error')
        batch_op.drop_column('setup_lease_until')


def downgrade() -> None:
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('setup_lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('setup_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('declarer_invited', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('card_pinned', sa.Boolean(), nullable=False, server_default=sa.false()))
