-- Claim the tasks behind messages a worker has just read from the flow's queue, in one
-- statement. A task is claimed when it is queued and both its run and its step are started;
-- messages without such a task give no row (the worker must accept fewer tasks than messages).
-- A claimed task becomes 'started' (attempts_count + 1, started_at, last_worker_id; the worker
-- must be registered in pgflow.workers) with task:started, and its message is hidden for the
-- step's timeout (step, else flow) + 2 seconds.
-- The handler input of each task:
--   root map step      -> the element task_index of the run input
--   dependent map step -> the element task_index of its dependency's output
--   other steps        -> {dep_slug: output} over the completed dependencies ({} for root steps)
-- flow_input is the run input for root single steps, NULL otherwise (read pgflow.runs.input).
CREATE OR REPLACE FUNCTION pgflow.start_tasks(flow_slug text, msg_ids bigint[], worker_id uuid)
RETURNS SETOF pgflow.step_task_record
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH claimed AS (
        -- Each message id is looked up on its own (LATERAL ... OFFSET 0) and the eligible task
        -- locked, then updated by ctid: index probes and a TID scan whatever the planner's
        -- statistics say (on a young, never analysed table they would make it scan every queued
        -- task). The lock re-checks the task status, so a task claimed concurrently is skipped.
        UPDATE pgflow.step_tasks AS t
           SET status = 'started',
               attempts_count = t.attempts_count + 1,
               started_at = now(),
               last_worker_id = start_tasks.worker_id
         WHERE t.ctid = ANY (ARRAY(
                   SELECT task.ctid
                     FROM unnest(start_tasks.msg_ids) AS m (msg_id)
                    CROSS JOIN LATERAL (
                           SELECT probe.ctid
                             FROM pgflow.step_tasks AS probe
                            WHERE probe.message_id = m.msg_id
                              AND probe.flow_slug = start_tasks.flow_slug
                              AND probe.status = 'queued'
                              AND EXISTS (SELECT 1 FROM pgflow.runs AS r
                                           WHERE r.run_id = probe.run_id AND NOT pgflow._is_terminal(r.status))
                              AND EXISTS (SELECT 1 FROM pgflow.step_states AS ss
                                           WHERE ss.run_id = probe.run_id AND ss.step_slug = probe.step_slug
                                             AND ss.status = 'started')
                           OFFSET 0
                              FOR UPDATE) AS task))
        RETURNING t.flow_slug, t.run_id, t.step_slug, t.task_index, t.message_id,
            pgflow._emit(pgflow._task_event('task:started', t)) AS emitted
    ),
    visibility AS (
        -- hide the claimed messages for the step's timeout + 2 s; read by the final SELECT, so
        -- it always runs (an unread SELECT in WITH would be skipped)
        SELECT count(*) AS extended
          FROM (SELECT array_agg(c.message_id ORDER BY c.message_id) AS ids,
                       array_agg(coalesce(s.opt_timeout, f.opt_timeout) + 2 ORDER BY c.message_id) AS offsets
                  FROM claimed AS c
                  JOIN pgflow.steps AS s ON s.flow_slug = c.flow_slug AND s.step_slug = c.step_slug
                  JOIN pgflow.flows AS f ON f.flow_slug = c.flow_slug) AS batch
         CROSS JOIN LATERAL pgflow.set_vt_batch(start_tasks.flow_slug, batch.ids, batch.offsets)
    )
    SELECT c.flow_slug,
           c.run_id,
           c.step_slug,
           CASE
             WHEN s.step_type = 'map' AND s.deps_count = 0 THEN r.input -> c.task_index
             WHEN s.step_type = 'map' THEN (
                 SELECT parent.output -> c.task_index
                   FROM pgflow.deps AS d
                   JOIN pgflow.step_states AS parent
                     ON parent.run_id = c.run_id AND parent.step_slug = d.dep_slug
                  WHERE d.flow_slug = c.flow_slug AND d.step_slug = c.step_slug)
             ELSE coalesce(
                 (SELECT jsonb_object_agg(d.dep_slug, parent.output)
                    FROM pgflow.deps AS d
                    JOIN pgflow.step_states AS parent
                      ON parent.run_id = c.run_id AND parent.step_slug = d.dep_slug
                   WHERE d.flow_slug = c.flow_slug AND d.step_slug = c.step_slug
                     AND parent.status = 'completed'),
                 '{}'::jsonb)
           END AS input,
           c.message_id AS msg_id,
           c.task_index,
           CASE WHEN s.step_type = 'single' AND s.deps_count = 0 THEN r.input END AS flow_input
      FROM claimed AS c
      JOIN pgflow.steps AS s ON s.flow_slug = c.flow_slug AND s.step_slug = c.step_slug
      JOIN pgflow.runs AS r ON r.run_id = c.run_id
     CROSS JOIN visibility
     ORDER BY c.message_id;
$$;
