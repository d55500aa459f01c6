-- pgflow-py variant of prune_data_older_than: prune only the flows in `flow_slugs` (NULL = all
-- flows) and answer what was deleted:
-- {"runs", "step_states", "step_tasks", "messages", "archived_messages", "workers"}.
-- Deleted: runs that completed or failed before now() - retention_interval, with their step
-- states, tasks and any of their messages still in a queue; archived queue messages older than
-- the cutoff; workers (of those flows' queues) whose last heartbeat is older than the cutoff and
-- that stopped or have been silent for five minutes (a live worker is never pruned).
-- Started runs are never touched, however old. Keep the retention longer than any start_delay.
CREATE OR REPLACE FUNCTION pgflow.prune_data_older_than(retention_interval interval, flow_slugs text[])
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_cutoff timestamptz := now() - prune_data_older_than.retention_interval;
    v_runs uuid[];
    v_counts jsonb := '{}';
    v_n int;
BEGIN
    SELECT coalesce(array_agg(r.run_id), '{}') INTO v_runs
      FROM pgflow.runs AS r
     WHERE (prune_data_older_than.flow_slugs IS NULL OR r.flow_slug = ANY (prune_data_older_than.flow_slugs))
       AND pgflow._is_terminal(r.status)
       AND coalesce(r.completed_at, r.failed_at) < v_cutoff;

    -- every queue of the selected flows: the queues their steps route to now, their default queue
    -- (flow mode), and the queues their pruned tasks' messages went to (task snapshots)
    SELECT jsonb_build_object(
               'messages', coalesce(sum((q.pruned->>'messages')::int), 0),
               'archived_messages', coalesce(sum((q.pruned->>'archived_messages')::int), 0))
      INTO v_counts
      FROM (SELECT s.queue_name FROM pgflow.steps AS s
             WHERE prune_data_older_than.flow_slugs IS NULL OR s.flow_slug = ANY (prune_data_older_than.flow_slugs)
            UNION
            SELECT lower(f.flow_slug) FROM pgflow.flows AS f
             WHERE f.queue_mode = 'flow'
               AND (prune_data_older_than.flow_slugs IS NULL OR f.flow_slug = ANY (prune_data_older_than.flow_slugs))
            UNION
            SELECT t.queue_name FROM pgflow.step_tasks AS t WHERE t.run_id = ANY (v_runs)) AS route
     CROSS JOIN LATERAL pgflow._prune_queue(
            route.queue_name,
            ARRAY(SELECT t.message_id FROM pgflow.step_tasks AS t
                   WHERE t.run_id = ANY (v_runs) AND t.queue_name = route.queue_name AND t.message_id IS NOT NULL),
            v_cutoff) AS q(pruned);

    DELETE FROM pgflow.step_tasks AS t WHERE t.run_id = ANY (v_runs);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('step_tasks', v_n);
    DELETE FROM pgflow.step_states AS ss WHERE ss.run_id = ANY (v_runs);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('step_states', v_n);
    DELETE FROM pgflow.runs AS r WHERE r.run_id = ANY (v_runs);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('runs', v_n);

    -- never a live worker, whatever the cutoff: a worker is pruned once it stopped, or after five
    -- minutes without a heartbeat (health_check calls it dead after one)
    DELETE FROM pgflow.workers AS w
     WHERE w.last_heartbeat_at < v_cutoff
       AND (w.stopped_at IS NOT NULL OR w.last_heartbeat_at < clock_timestamp() - interval '5 minutes')
       AND (prune_data_older_than.flow_slugs IS NULL OR w.queue_name = ANY (prune_data_older_than.flow_slugs));
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_counts || jsonb_build_object('workers', v_n);
END;
$$;
