from tests.sql.helpers import scalar
from tests.sql.prune_data_older_than.old_data import age, finished_runs


def test_flow_filter_prunes_only_the_given_flows(conn):
    finished_runs(conn, "jobs")
    finished_runs(conn, "other")
    age(conn, 10)
    counts = scalar(conn, "SELECT pgflow.prune_data_older_than(interval '7 days', ARRAY['jobs'])")
    assert (counts["runs"], counts["workers"]) == (2, 1)
    assert scalar(conn, "SELECT count(*) FROM pgflow.runs WHERE flow_slug = 'other'") == 3
