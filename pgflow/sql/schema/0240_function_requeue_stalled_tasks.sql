-- Give tasks of crashed workers another chance. A task is stalled when it has been 'started'
-- for longer than its step's effective timeout (step option, else flow option) + 30 seconds
-- while its run and its step are still started. A stalled task is requeued at most 3 times:
-- back to 'queued' (started_at and last_worker_id cleared, requeued_count + 1,
-- last_requeued_at) with its message (in the task's queue) visible at once. After that it is given up: it stays
-- 'started', gets permanently_stalled_at and its message is archived.
-- Rows locked by someone else are skipped (SKIP LOCKED), so concurrent sweepers do not wait.
-- Returns how many tasks were requeued. Run it periodically (pg_cron or the Python worker).
CREATE OR REPLACE FUNCTION pgflow.requeue_stalled_tasks()
RETURNS int
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $$
    WITH stalled AS (
        SELECT t.run_id, t.step_slug, t.task_index, t.flow_slug, t.message_id, t.requeued_count
          FROM pgflow.step_tasks AS t
          JOIN pgflow.runs AS r ON r.run_id = t.run_id
          JOIN pgflow.step_states AS ss ON ss.run_id = t.run_id AND ss.step_slug = t.step_slug
          JOIN pgflow.steps AS s ON s.flow_slug = t.flow_slug AND s.step_slug = t.step_slug
          JOIN pgflow.flows AS f ON f.flow_slug = t.flow_slug
         WHERE t.status = 'started'
           AND t.permanently_stalled_at IS NULL
           AND NOT pgflow._is_terminal(r.status)
           AND ss.status = 'started'
           AND t.started_at < now() - make_interval(secs => coalesce(s.opt_timeout, f.opt_timeout) + 30)
           FOR UPDATE OF t SKIP LOCKED
    ),
    requeued AS (
        UPDATE pgflow.step_tasks AS t
           SET status = 'queued', started_at = NULL, last_worker_id = NULL,
               requeued_count = t.requeued_count + 1, last_requeued_at = now()
          FROM stalled
         WHERE stalled.requeued_count < 3
           AND t.run_id = stalled.run_id AND t.step_slug = stalled.step_slug
           AND t.task_index = stalled.task_index
        RETURNING t.queue_name, t.message_id
    ),
    given_up AS (
        UPDATE pgflow.step_tasks AS t
           SET permanently_stalled_at = now()
          FROM stalled
         WHERE stalled.requeued_count >= 3
           AND t.run_id = stalled.run_id AND t.step_slug = stalled.step_slug
           AND t.task_index = stalled.task_index
        RETURNING t.queue_name, t.message_id
    ),
    -- the two message statements below are read by the final SELECT, so they always run
    made_visible AS (
        SELECT count(*) AS n
          FROM (SELECT q.queue_name, array_agg(q.message_id) AS ids
                  FROM requeued AS q WHERE q.message_id IS NOT NULL
                 GROUP BY q.queue_name) AS batch
         CROSS JOIN LATERAL pgflow.set_vt_batch(batch.queue_name, batch.ids,
                                                array_fill(0, ARRAY[cardinality(batch.ids)])) AS m
    ),
    archived AS (
        SELECT count(*) AS n
          FROM (SELECT g.queue_name, array_agg(g.message_id) AS ids
                  FROM given_up AS g WHERE g.message_id IS NOT NULL
                 GROUP BY g.queue_name) AS batch
         CROSS JOIN LATERAL pgmq.archive(batch.queue_name, batch.ids) AS a
    )
    SELECT (SELECT count(*)::int FROM requeued)
      FROM made_visible, archived
$$;
