-- Delete finished runs (with their step states, tasks and messages), archived queue messages and
-- silent workers older than `retention_interval`, for every flow. pgflow's maintenance function;
-- the two-argument variant limits it to some flows and reports counts.
CREATE OR REPLACE FUNCTION pgflow.prune_data_older_than(retention_interval interval)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    SELECT pgflow.prune_data_older_than(prune_data_older_than.retention_interval, NULL::text[]);
$$;
