"""status_publication and status_entry: the public status page

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel



revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('status_publication',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('impact', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('unpublished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('incident_id')
    )
    with op.batch_alter_table('status_publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_publication_unpublished_at'), ['unpublished_at'], unique=False)
    op.create_table('status_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('impact', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('incident_id', 'dedupe_key', name='uq_status_entry_dedupe')
    )
    with op.batch_alter_table('status_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_entry_incident_id'), ['incident_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('status_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_entry_incident_id'))
    op.drop_table('status_entry')
    with op.batch_alter_table('status_publication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_publication_unpublished_at'))
    op.drop_table('status_publication')
