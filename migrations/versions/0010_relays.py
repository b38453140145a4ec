"""relays: HQ's enrolled bases, a base's link to HQ, and what it has forwarded

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'relays',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('created_on', sa.Date(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=True),
        sa.Column('code_expires_at', sa.DateTime(), nullable=True),
        sa.Column('enrollment_digest', sa.String(length=64), nullable=True),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('last_contact_on', sa.Date(), nullable=True),
        sa.Column('revoked_on', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_hash'),
        sa.UniqueConstraint('name'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_table(
        'relay_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hq_url', sa.String(length=300), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('token', sa.String(length=100), nullable=False),
        sa.Column('ca_pem', sa.Text(), nullable=True),
        sa.Column('joined_on', sa.Date(), nullable=False),
        sa.Column('last_contact_at', sa.DateTime(), nullable=True),
        sa.Column('last_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('forwarded_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('forward_refusal', sa.String(length=500), nullable=True))
        batch_op.create_index(batch_op.f('ix_reports_forwarded_on'), ['forwarded_on'], unique=False)
    with op.batch_alter_table('attachment_chunks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('forwarded', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('attachment_chunks', schema=None) as batch_op:
        batch_op.drop_column('forwarded')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_forwarded_on'))
        batch_op.drop_column('forward_refusal')
        batch_op.drop_column('forwarded_on')
    op.drop_table('relay_link')
    op.drop_table('relays')
