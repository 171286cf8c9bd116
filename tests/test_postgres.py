"""CI really has PostgreSQL (.ci/setup starts Debian's), and `postgres_url` hands each test session
a fresh database of its own: what the agent host's LangGraph checkpointer is tested on."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg

from tests.conftest import DEFAULT_TEST_POSTGRES_URL


def test_postgres_url_is_a_fresh_working_database(postgres_url: str) -> None:
    name = urlsplit(postgres_url).path.lstrip("/")
    assert name.startswith("ig_test_") and name != urlsplit(DEFAULT_TEST_POSTGRES_URL).path.lstrip("/")
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE checkpoints_probe (id serial PRIMARY KEY, body jsonb NOT NULL)")
        conn.execute("INSERT INTO checkpoints_probe (body) VALUES (%s::jsonb)", ('{"step": "diagnose"}',))
    # a second connection sees the committed row: the data is really in the server
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT id, body->>'step' FROM checkpoints_probe").fetchall()
    assert rows == [(1, "diagnose")]
