"""Arrays of different lengths are refused with a message saying what to pass."""

import psycopg
import pytest


def test_arrays_of_different_lengths_are_refused(conn):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="different lengths"):
        conn.execute("SELECT * FROM pgflow.complete_tasks(ARRAY[gen_random_uuid()], ARRAY['a', 'b'], ARRAY[0], "
                     "ARRAY['1'::jsonb])")
