"""looks and remote wipe: the look an enrolment code gives its phones, and a revoked phone told to wipe

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('look', sa.String(length=16), nullable=True))

    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('look', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('wipe_requested_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('wiped_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('wiped_on')
        batch_op.drop_column('wipe_requested_on')
        batch_op.drop_column('look')

    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.drop_column('look')
