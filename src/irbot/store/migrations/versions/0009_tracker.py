"""tracker_issue: the GitHub or Jira issue of each action item; followup_digest: overdue DMs sent

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tracker_issue',
    sa.Column('action_item_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('remote_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['action_item_id'], ['action_item.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('action_item_id')
    )
    with op.batch_alter_table('tracker_issue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tracker_issue_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tracker_issue_key'), ['key'], unique=False)
    op.create_table('followup_digest',
    sa.Column('owner_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('day', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('owner_id', 'day')
    )


def downgrade() -> None:
    op.drop_table('followup_digest')
    with op.batch_alter_table('tracker_issue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tracker_issue_key'))
        batch_op.drop_index(batch_op.f('ix_tracker_issue_incident_id'))
    op.drop_table('tracker_issue')
