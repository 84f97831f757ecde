"""PostgreSQL: notify listeners when a group's event counter advances

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 17:40:00

A trigger on ``groups`` calls ``pg_notify`` in the transaction of every statement that
advances ``event_seq`` (a post, a deletion, a log entry), so every relay process LISTENing
on the database learns of it when it commits (vault/api/wakeup_pg.py), and never of a write
that rolled back. The payload is ``<group id hex>:<event number>``, nothing else; the channel
is ``vault_events_`` + 16 hex digits of md5(schema name), so relays on different schemas of
one database do not hear each other. SQLite has no such thing: its processes signal each
other directly (vault/api/wakeup_sqlite.py), so this revision changes nothing there.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION vault_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vault_events_' || substr(md5(TG_TABLE_SCHEMA), 1, 16),
                      encode(NEW.group_id, 'hex') || ':' || CAST(NEW.event_seq AS text));
    RETURN NULL;
END
$$
"""
TRIGGER = """
CREATE TRIGGER groups_events_notify
AFTER UPDATE OF event_seq ON groups
FOR EACH ROW WHEN (NEW.event_seq > OLD.event_seq)
EXECUTE FUNCTION vault_events_notify()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS groups_events_notify ON groups")
    op.execute("DROP FUNCTION IF EXISTS vault_events_notify()")
