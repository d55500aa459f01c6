from tests.sql.helpers import define_flow, scalar
from tests.sql.prune_data_older_than.old_data import age, finished_runs


def test_the_pgflow_signature_returns_nothing_and_prunes_every_flow(conn):
    finished_runs(conn, "jobs")
    define_flow(conn, "idle", [("only", [])])
    age(conn, 10)
    assert scalar(conn, "SELECT pgflow.prune_data_older_than(interval '1 day') IS NULL")
    assert scalar(conn, "SELECT count(*) FROM pgflow.runs") == 1
