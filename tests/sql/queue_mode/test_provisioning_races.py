import psycopg
import pytest

from tests.sql.helpers import compile_flow, listed_queues, scalar


def test_a_listed_queue_the_flow_does_not_own_is_refused_and_nothing_is_created(conn):
    conn.execute("SELECT pgmq.create('f__b')")
    with pytest.raises(psycopg.Error, match='queue "f__b" is already listed in PGMQ and not owned by this flow'):
        with conn.transaction():  # a savepoint: the test goes on after the error
            compile_flow(conn, "f", [("a", []), ("b", [])], "step")
    assert listed_queues(conn) == ["f__b"]  # f__a was not created either
    assert scalar(conn, "SELECT count(*) FROM pgflow.flows") == 0


def test_a_queue_another_flow_routes_to_is_refused(conn):
    compile_flow(conn, "g", [("x", [])], "step")
    conn.execute("UPDATE pgflow.steps SET queue_name = 'f__a' WHERE flow_slug = 'g'")
    with pytest.raises(psycopg.Error, match=r'queue "f__a" is already used by another flow \("g"\)'):
        compile_flow(conn, "f", [("a", [])], "step")


def test_an_owned_queue_that_pgmq_no_longer_lists_is_reported(conn):
    compile_flow(conn, "f", [("a", [])], "step")
    conn.execute("SELECT pgmq.drop_queue('f__a')")
    with pytest.raises(psycopg.Error, match='queue "f__a" owned by flow "f" is not listed in PGMQ'):
        compile_flow(conn, "f", [("a", [])], "step")
