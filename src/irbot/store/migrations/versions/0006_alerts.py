"""alert_seen: a group's seen alerts as indexed rows instead of a JSON list; alert_group.full

Revision ID: 0006
Revises: 0005
"""
import json

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# What a group keeps (irbot.services.alerts.MAX_SEEN_PER_GROUP when this was written).
KEEP = 1000


def upgrade() -> None:
    op.create_table('alert_seen',
    sa.Column('group_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['group_key'], ['alert_group.group_key'], ),
    sa.PrimaryKeyConstraint('group_key', 'fingerprint')
    )
    seen = sa.table('alert_seen', sa.column('group_key', sa.String()), sa.column('fingerprint', sa.String()))
    connection = op.get_bind()
    for group_key, listed in connection.execute(sa.text('SELECT group_key, seen FROM alert_group')).all():
        fingerprints = json.loads(listed) if isinstance(listed, str) else (listed or [])
        rows = [{'group_key': group_key, 'fingerprint': str(f)} for f in dict.fromkeys(fingerprints)][:KEEP]
        if rows:
            op.bulk_insert(seen, rows)
    with op.batch_alter_table('alert_group', schema=None) as batch_op:
        batch_op.add_column(sa.Column('full', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.drop_column('seen')


def downgrade() -> None:
    with op.batch_alter_table('alert_group', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seen', sa.JSON(), server_default='[]', nullable=False))
        batch_op.drop_column('full')
    op.drop_table('alert_seen')
