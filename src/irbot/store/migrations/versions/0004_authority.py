"""channel members of private incidents, as Slack last said, with when they were read

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_member',
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('channel_id', 'user_id')
    )
    with op.batch_alter_table('channel_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_member_user_id'), ['user_id'], unique=False)
    op.create_table('channel_roster',
    sa.Column('channel_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel_id')
    )


def downgrade() -> None:
    op.drop_table('channel_roster')
    with op.batch_alter_table('channel_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_member_user_id'))
    op.drop_table('channel_member')
