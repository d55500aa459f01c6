-- pgflow-py variant of prune_data_older_than for large histories: the same as the two-argument
-- form (which calls this one with max_runs NULL: no bound), except that one call deletes at most
-- `max_runs` runs (those that started first) and at most `max_runs` archived messages per queue.
-- Why: deleting a whole backlog in one transaction takes about 75 µs per run (the foreign-key
-- checks of each deleted row dominate: ~12 minutes for 10 million runs), and for all that time it
-- holds back every VACUUM of the database, so the busy queue tables bloat while it runs. Called
-- repeatedly, each call in a transaction of its own, until every count in its answer is below
-- `max_runs`, it prunes the same rows in short transactions that VACUUM can follow.
-- The cutoff is computed per call from now(): later calls may prune runs that finished meanwhile.
CREATE OR REPLACE FUNCTION pgflow.prune_data_older_than(retention_interval interval, flow_slugs text[],
                                                        max_runs int)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_cutoff timestamptz := now() - prune_data_older_than.retention_interval;
    v_limit int := prune_data_older_than.max_runs;
    v_runs uuid[];
    v_routes text[];
    v_counts jsonb := '{}';
    v_archived int := 0;
    v_queue text;
    v_n int;
BEGIN
    IF v_limit IS NOT NULL AND v_limit < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('max_runs must be at least 1, got %s', v_limit),
            HINT = 'Pass the largest number of runs one call may delete (e.g. 10000), or NULL for no bound.';
    END IF;

    IF v_limit IS NULL THEN
        SELECT coalesce(array_agg(r.run_id), '{}') INTO v_runs
          FROM pgflow.runs AS r
         WHERE (prune_data_older_than.flow_slugs IS NULL OR r.flow_slug = ANY (prune_data_older_than.flow_slugs))
           AND pgflow._is_terminal(r.status)
           AND coalesce(r.completed_at, r.failed_at) < v_cutoff;
    ELSE
        -- the earliest started first, through idx_runs_started_at (a run that finished before the
        -- cutoff also started before it: a constraint of runs)
        SELECT coalesce(array_agg(b.run_id), '{}') INTO v_runs
          FROM (SELECT r.run_id
                  FROM pgflow.runs AS r
                 WHERE r.started_at < v_cutoff
                   AND (prune_data_older_than.flow_slugs IS NULL OR r.flow_slug = ANY (prune_data_older_than.flow_slugs))
                   AND pgflow._is_terminal(r.status)
                   AND coalesce(r.completed_at, r.failed_at) < v_cutoff
                 ORDER BY r.started_at
                 LIMIT v_limit) AS b;
    END IF;

    -- every queue of the selected flows: the queues their steps route to now, their default queue
    -- (flow mode), and the queues their pruned tasks' messages went to (task snapshots). Their
    -- pruned runs' messages still in a queue go, and archived messages older than the cutoff:
    -- here when unbounded, below when bounded (no cutoff given to _prune_queue deletes none).
    v_routes := ARRAY(
        SELECT s.queue_name FROM pgflow.steps AS s
         WHERE prune_data_older_than.flow_slugs IS NULL OR s.flow_slug = ANY (prune_data_older_than.flow_slugs)
        UNION
        SELECT lower(f.flow_slug) FROM pgflow.flows AS f
         WHERE f.queue_mode = 'flow'
           AND (prune_data_older_than.flow_slugs IS NULL OR f.flow_slug = ANY (prune_data_older_than.flow_slugs))
        UNION
        SELECT t.queue_name FROM pgflow.step_tasks AS t WHERE t.run_id = ANY (v_runs));

    SELECT jsonb_build_object(
               'messages', coalesce(sum((q.pruned->>'messages')::int), 0),
               'archived_messages', coalesce(sum((q.pruned->>'archived_messages')::int), 0))
      INTO v_counts
      FROM unnest(v_routes) AS route(queue_name)
     CROSS JOIN LATERAL pgflow._prune_queue(
            route.queue_name,
            ARRAY(SELECT t.message_id FROM pgflow.step_tasks AS t
                   WHERE t.run_id = ANY (v_runs) AND t.queue_name = route.queue_name AND t.message_id IS NOT NULL),
            CASE WHEN v_limit IS NULL THEN v_cutoff END) AS q(pruned);

    IF v_limit IS NOT NULL THEN
        FOR v_queue IN
            SELECT q.queue_name FROM pgmq.list_queues() AS q
             WHERE lower(q.queue_name) IN (SELECT lower(r) FROM unnest(v_routes) AS r)
        LOOP
            EXECUTE format('DELETE FROM pgmq.%1$I WHERE msg_id = ANY (ARRAY(SELECT a.msg_id FROM pgmq.%1$I AS a '
                           'WHERE a.archived_at < $1 ORDER BY a.archived_at LIMIT $2))',
                           pgmq.format_table_name(v_queue, 'a'))
              USING v_cutoff, v_limit;
            GET DIAGNOSTICS v_n = ROW_COUNT;
            v_archived := v_archived + v_n;
        END LOOP;
        v_counts := v_counts || jsonb_build_object('archived_messages', v_archived);
    END IF;

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
