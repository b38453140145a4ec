"""enrollment retry and unlock limits

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enrollment_digest', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_devices_enrollment_digest'), ['enrollment_digest'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_unlocks', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('unlock_locked_until', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('unlock_locked_until')
        batch_op.drop_column('failed_unlocks')

    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_enrollment_digest'))
        batch_op.drop_column('enrollment_digest')
