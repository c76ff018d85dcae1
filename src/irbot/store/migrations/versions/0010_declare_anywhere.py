"""incident.origin_permalink / origin_ts / origin_thread_ts / converted; home_tab

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel



revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin_permalink', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('origin_ts', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('origin_thread_ts', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('converted', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('home_tab',
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('user_id')
    )


def downgrade() -> None:
    op.drop_table('home_tab')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_column('converted')
        batch_op.drop_column('origin_thread_ts')
        batch_op.drop_column('origin_ts')
        batch_op.drop_column('origin_permalink')
