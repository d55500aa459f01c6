-- pgflow-py variant of prune_data_older_than: prune only the flows in `flow_slugs` (NULL = all
-- flows) and answer what was deleted:
-- {"runs", "step_states", "step_tasks", "messages", "archived_messages", "workers"}.
-- Deleted: runs that completed or failed before now() - retention_interval, with their step
-- states, tasks and any of their messages still in a queue; archived queue messages older than
-- the cutoff; workers (of those flows' queues) whose last heartbeat is older than the cutoff and
-- that stopped or have been silent for five minutes (a live worker is never pruned).
-- Started runs are never touched, however old. Keep the retention longer than any start_delay.
-- One transaction for everything: the three-argument form (0263, which does the work) bounds a
-- call to some runs, for large histories.
CREATE OR REPLACE FUNCTION pgflow.prune_data_older_than(retention_interval interval, flow_slugs text[])
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    RETURN pgflow.prune_data_older_than(prune_data_older_than.retention_interval,
                                        prune_data_older_than.flow_slugs, NULL::int);
END;
$$;
