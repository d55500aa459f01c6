import psycopg
import pytest


@pytest.mark.parametrize("slug", ["", "1abc", "with-dash", "run", "x" * 129])
def test_invalid_slug_raises_pf004_with_hint(conn, slug):
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT pgflow.create_flow(%s)", (slug,))
    assert caught.value.sqlstate == "PF004"
    assert "invalid flow slug" in caught.value.diag.message_primary
    assert "letter" in caught.value.diag.message_hint


def test_slug_too_long_for_a_pgmq_queue_raises_pf004(conn):
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT pgflow.create_flow(%s)", ("f" * 48,))
    assert caught.value.sqlstate == "PF004"
    assert "47" in caught.value.diag.message_primary
