"""attachments: the recordings and photos reports declare, and their sealed chunks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:00:00

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    attachments = op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aid', sa.String(length=36), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('chunks', sa.Integer(), nullable=False),
    sa.Column('received', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('aid')
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_report_id'), ['report_id'], unique=False)

    op.create_table('attachment_chunks',
    sa.Column('attachment_id', sa.Integer(), nullable=False),
    sa.Column('index', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachments.id'], ),
    sa.PrimaryKeyConstraint('attachment_id', 'index')
    )

    # Reports stored before this version that declared attachments: their chunks can arrive now.
    connection = op.get_bind()
    reports = connection.execute(sa.text("SELECT id, envelope FROM reports WHERE envelope LIKE '%\"att\"%'"))
    rows, seen = [], set()
    for report_id, envelope in reports:
        for item in json.loads(envelope).get('att') or []:
            if item['aid'] not in seen:
                seen.add(item['aid'])
                rows.append({'aid': item['aid'], 'report_id': report_id, 'chunks': item['chunks'], 'received': 0})
    if rows:
        op.bulk_insert(attachments, rows)


def downgrade():
    op.drop_table('attachment_chunks')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_report_id'))

    op.drop_table('attachments')
