from datetime import timedelta

import psycopg
import pytest

from tests.sql.helpers import define_flow
from tests.sql.start_flow_idempotent.helpers import start_keyed


@pytest.mark.parametrize("key", [None, "", "k" * 201])
def test_a_key_that_is_null_empty_or_too_long_is_refused(conn, key):
    define_flow(conn, "f", [("a", [])])

    with pytest.raises(psycopg.Error) as raised:
        start_keyed(conn, "f", key)

    assert raised.value.sqlstate == "PF003"
    assert "idempotency key" in str(raised.value)


def test_a_key_of_200_characters_is_taken(conn):
    define_flow(conn, "f", [("a", [])])

    assert start_keyed(conn, "f", "k" * 200) == start_keyed(conn, "f", "k" * 200)


def test_a_negative_ttl_is_refused(conn):
    define_flow(conn, "f", [("a", [])])

    with pytest.raises(psycopg.Error) as raised:
        start_keyed(conn, "f", "k", ttl=timedelta(seconds=-1))

    assert raised.value.sqlstate == "PF003"
