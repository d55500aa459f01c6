-- The claim behind start_tasks and claim_tasks (one implementation for both): claim the tasks
-- behind messages already read from queue p_queue_name, and give each claimed task its handler
-- input. Only tasks whose message went to that queue (step_tasks.queue_name) are considered, of
-- flow p_flow_slug unless it is NULL (claim_tasks knows the queue only) and of step p_step_slug
-- unless it is NULL (the callers check the queue mode's rules before calling). A task is
-- claimed when it is queued and both its run and its step are started, and - for a flow under
-- flow control (paused or limited) - admitted by pgflow._admit_claims (a refused task's message
-- is made visible again shortly); messages without such a task give no row. A claimed task becomes 'started' (attempts_count
-- + 1, started_at, last_worker_id; the worker must be registered in pgflow.workers) with
-- task:started. Leaves the messages' visibility to the caller.
-- The handler input of each task:
--   root map step      -> the element task_index of the run input
--   dependent map step -> the element task_index of its dependency's output
--   other steps        -> {dep_slug: output} over the completed dependencies ({} for root steps)
-- flow_input is the run input for root single steps, NULL otherwise; attempt is the attempt now
-- starting. Rows come in message order.
-- Its statements run with generic plans (claim_tasks calls it on every poll; custom plans were
-- re-planned on every call).
CREATE OR REPLACE FUNCTION pgflow._start_tasks(
    p_flow_slug text, p_msg_ids bigint[], p_worker_id uuid, p_queue_name text, p_step_slug text)
RETURNS TABLE (flow_slug text, run_id uuid, step_slug text, input jsonb, msg_id bigint, task_index int,
               flow_input jsonb, attempt int)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_events boolean := pgflow._events_wanted();
    v_msg_ids bigint[] := p_msg_ids;
    v_controlled text;
BEGIN
    -- flow control: only a flow with a pgflow.flow_controls row (paused or limited) has its
    -- tasks admitted by pgflow._admit_claims; any other flow pays this one index probe
    SELECT fc.flow_slug INTO v_controlled
      FROM pgflow.flow_controls AS fc
     WHERE fc.flow_slug = coalesce(p_flow_slug, (SELECT s.flow_slug FROM pgflow.steps AS s
                                                  WHERE s.queue_name = p_queue_name LIMIT 1));
    IF v_controlled IS NOT NULL THEN
        v_msg_ids := pgflow._admit_claims(v_controlled, p_msg_ids, p_queue_name);
    END IF;
    RETURN QUERY
        WITH claimed AS (
            -- Each message id is looked up on its own (LATERAL ... OFFSET 0) by the unique
            -- index on (queue_name, message_id) and the eligible task locked, then updated by
            -- ctid, whatever the planner's statistics say (on a young, never analysed table
            -- they would make it scan every queued task). The lock re-checks the task status,
            -- so a task claimed concurrently is skipped. Statistics taken while nothing was
            -- queued are the trap the rest of this statement is written against:
            --  - the status is compared as `status || ''`, which the partial index of queued
            --    tasks does not match; else the generic plan looked each message up by scanning
            --    that whole index, believed empty (a 10,000-task map claimed 3-4 times slower);
            --  - the run and step checks end in OFFSET 0, so they stay filters on the probed
            --    task; pulled up into joins, the plan started from the run and read all of its
            --    tasks by the primary key for each message (150,000 buffers for a claim of 10
            --    beside a 10,000-task map, against about 1,000).
            -- A generic plan made while step_tasks was tiny updates by a sequential scan
            -- rather than by ctid, until the table's next analyse replaces the plan.
            UPDATE pgflow.step_tasks AS t
               SET status = 'started',
                   attempts_count = t.attempts_count + 1,
                   started_at = now(),
                   last_worker_id = p_worker_id
             WHERE t.ctid = ANY (ARRAY(
                       SELECT task.ctid
                         FROM unnest(v_msg_ids) AS m (msg_id)
                        CROSS JOIN LATERAL (
                               SELECT probe.ctid
                                 FROM pgflow.step_tasks AS probe
                                WHERE probe.queue_name = p_queue_name
                                  AND probe.message_id = m.msg_id
                                  AND (p_flow_slug IS NULL OR probe.flow_slug = p_flow_slug)
                                  AND (p_step_slug IS NULL OR probe.step_slug = p_step_slug)
                                  AND probe.status || '' = 'queued'
                                  AND EXISTS (SELECT 1 FROM pgflow.runs AS r
                                               WHERE r.run_id = probe.run_id AND NOT pgflow._is_terminal(r.status)
                                               OFFSET 0)
                                  AND EXISTS (SELECT 1 FROM pgflow.step_states AS ss
                                               WHERE ss.run_id = probe.run_id AND ss.step_slug = probe.step_slug
                                                 AND ss.status = 'started'
                                               OFFSET 0)
                               OFFSET 0
                                  FOR UPDATE) AS task))
            RETURNING t.flow_slug, t.run_id, t.step_slug, t.task_index, t.message_id, t.attempts_count,
                CASE WHEN v_events THEN pgflow._emit(pgflow._task_event('task:started', t)) END AS emitted
        ),
        items AS MATERIALIZED (
            -- the array a map step's tasks take their elements from (the run input of a root map,
            -- else the output of the step it maps), read and decompressed once per call, not once
            -- per task: a 10,000-element array is large
            SELECT m.run_id, m.step_slug,
                   (CASE WHEN s.deps_count = 0
                         THEN (SELECT r.input FROM pgflow.runs AS r WHERE r.run_id = m.run_id)
                         ELSE (SELECT parent.output
                                 FROM pgflow.deps AS d
                                 JOIN pgflow.step_states AS parent
                                   ON parent.run_id = m.run_id AND parent.step_slug = d.dep_slug
                                WHERE d.flow_slug = m.flow_slug AND d.step_slug = m.step_slug)
                    END) || '[]'::jsonb AS elements
              FROM (SELECT DISTINCT c.flow_slug, c.run_id, c.step_slug FROM claimed AS c) AS m
              JOIN pgflow.steps AS s ON s.flow_slug = m.flow_slug AND s.step_slug = m.step_slug
             WHERE s.step_type = 'map'
        )
        SELECT c.flow_slug, c.run_id, c.step_slug,
               CASE WHEN s.step_type = 'map' THEN i.elements -> c.task_index
                    WHEN s.deps_count = 0 THEN '{}'::jsonb  -- a root single step (every job): no call
                    ELSE pgflow._task_input(c.flow_slug, c.run_id, c.step_slug, s.deps_count) END,
               c.message_id, c.task_index,
               CASE WHEN s.step_type = 'single' AND s.deps_count = 0
                    THEN (SELECT r.input FROM pgflow.runs AS r WHERE r.run_id = c.run_id) END,
               c.attempts_count
          FROM claimed AS c
          JOIN pgflow.steps AS s ON s.flow_slug = c.flow_slug AND s.step_slug = c.step_slug
          LEFT JOIN items AS i ON i.run_id = c.run_id AND i.step_slug = c.step_slug
         ORDER BY c.message_id;
END;
$$;
