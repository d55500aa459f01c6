import psycopg
import pytest

from tests.sql.helpers import listed_queues, scalar


def test_a_new_flow_whose_queue_someone_else_owns_is_refused(conn):
    conn.execute("SELECT pgmq.create('taken')")
    with pytest.raises(psycopg.errors.UniqueViolation,
                       match='cannot create flow "Taken": queue "taken" is already in use by another owner'):
        conn.execute("SELECT pgflow.create_flow('Taken')")


def test_an_existing_flow_keeps_its_queue_when_defined_again(conn):
    conn.execute("SELECT pgflow.create_flow('again')")
    conn.execute("SELECT pgflow.create_flow('again')")
    assert listed_queues(conn) == ["again"]
    assert scalar(conn, "SELECT count(*) FROM pgflow.flows") == 1
