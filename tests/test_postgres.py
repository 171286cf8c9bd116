"""CI really has PostgreSQL (.ci/setup starts Debian's), and `postgres_url` hands each test session
a fresh database of its own (shared by that session's tests): what the agent host's LangGraph
checkpointer and incident store are tested on."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg

from tests.conftest import DEFAULT_TEST_POSTGRES_URL


def test_postgres_url_is_a_fresh_working_database(postgres_url: str) -> None:
    name = urlsplit(postgres_url).path.lstrip("/")
    assert name.startswith("ig_test_") and name != urlsplit(DEFAULT_TEST_POSTGRES_URL).path.lstrip("/")
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
        # the database is this session's own (other tests of the session may have made tables in it,
        # e.g. the agent's checkpoints); this test's table did not exist before it
        assert conn.execute("SELECT to_regclass('public.checkpoints_probe')").fetchone() == (None,)
        conn.execute("CREATE TABLE checkpoints_probe (id serial PRIMARY KEY, body jsonb NOT NULL)")
        conn.execute("INSERT INTO checkpoints_probe (body) VALUES (%s::jsonb)", ('{"step": "diagnose"}',))
    # a second connection sees the committed row: the data is really in the server
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT id, body->>'step' FROM checkpoints_probe").fetchall()
    assert rows == [(1, "diagnose")]
