"""holder keys and pending grants

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('holder_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=65), nullable=False),
    sa.Column('wrapped_private_key', sa.Text(), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_holder_keys_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holder_keys')),
    sa.UniqueConstraint('user_id', name=op.f('uq_holder_keys_user_id'))
    )
    op.create_table('pending_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sealed_private_key', sa.Text(), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['key_id'], ['org_keys.id'], name=op.f('fk_pending_grants_key_id_org_keys')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pending_grants_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_grants')),
    sa.UniqueConstraint('key_id', 'user_id', name=op.f('uq_pending_grants_key_id'))
    )
    with op.batch_alter_table('pending_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_grants_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('pending_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_grants_user_id'))
    op.drop_table('pending_grants')
    op.drop_table('holder_keys')
