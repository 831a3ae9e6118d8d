"""What only the PostgreSQL backend has to promise: opening a connection once the schema
is made runs no DDL (even a no-op DDL would lock a table against the workers' writes),
and the placeholders of the store's portable SQL become psycopg's."""

from __future__ import annotations

import threading

from smartcity_iot.store import postgres
from smartcity_iot.store.database import connect, transaction


def test_a_new_connection_does_not_wait_for_a_writers_transaction(postgres_url: str) -> None:
    writer = connect(postgres_url)
    opened = threading.Event()
    with transaction(writer):
        # the workers' writes hold the tables the schema's statements touch
        writer.execute("UPDATE tags SET status = status")
        writer.execute("UPDATE alerts SET revision = revision")
        threading.Thread(target=lambda: (connect(postgres_url), opened.set()), daemon=True).start()
        assert opened.wait(10), "connect() waited for a writer: it ran DDL on a made schema"
    writer.close()


def test_a_changed_schema_is_completed_on_connect(postgres_url: str) -> None:
    conn = connect(postgres_url)
    conn.execute("ALTER TABLE tags DROP COLUMN replaced_by")
    conn.execute("UPDATE store_schema SET digest = 'older'")
    connect(postgres_url).close()
    assert conn.execute("SELECT replaced_by FROM tags").fetchall() == []
    assert conn.execute("SELECT digest FROM store_schema").fetchone()[0] == postgres.SCHEMA_DIGEST


def test_question_marks_in_quotes_and_percent_signs_stay_literal() -> None:
    assert postgres.placeholders("SELECT '?', \"a?\", ? WHERE x LIKE '5%'") == (
        "SELECT '?', \"a?\", %s WHERE x LIKE '5%%'"
    )
