-- Claim the tasks behind messages a worker has just read from queue `queue_name` (core 0.17's
-- claim): pgflow._start_tasks' claim (shared with claim_tasks: a task is claimed when its
-- message went to that queue, it is queued and both its run and its step are started, and it
-- becomes 'started' with task:started; messages without such a task give no row, so the worker
-- must accept fewer tasks than messages), then each claimed message is hidden for the step's
-- timeout (step, else flow) + 2 seconds.
-- Queue rules first (pgflow._check_claim_route): an unknown flow claims nothing; a flow with
-- private step queues needs `step_slug`, routed to exactly that queue; a flow with one queue
-- refuses a step selector. When fewer messages could be hidden than tasks were claimed (a
-- message deleted behind the engine's back), the whole call fails and nothing is claimed.
-- The handler input of each task:
--   root map step      -> the element task_index of the run input
--   dependent map step -> the element task_index of its dependency's output
--   other steps        -> {dep_slug: output} over the completed dependencies ({} for root steps)
-- flow_input is the run input for root single steps, NULL otherwise (read pgflow.runs.input).
CREATE OR REPLACE FUNCTION pgflow.start_tasks(
    flow_slug text, msg_ids bigint[], worker_id uuid, queue_name text, step_slug text DEFAULT NULL)
RETURNS SETOF pgflow.step_task_record
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF NOT pgflow._check_claim_route(start_tasks.flow_slug, start_tasks.queue_name, start_tasks.step_slug) THEN
        RETURN;
    END IF;
    RETURN QUERY
        WITH claimed AS MATERIALIZED (
            SELECT c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index, c.flow_input
              FROM pgflow._start_tasks(start_tasks.flow_slug, start_tasks.msg_ids, start_tasks.worker_id,
                                       start_tasks.queue_name, start_tasks.step_slug) AS c
        ),
        visibility AS (
            -- hide the claimed messages for the step's timeout + 2 s
            SELECT v.msg_id
              FROM (SELECT array_agg(c.msg_id ORDER BY c.msg_id) AS ids,
                           array_agg(coalesce(s.opt_timeout, f.opt_timeout) + 2 ORDER BY c.msg_id) AS offsets
                      FROM claimed AS c
                      JOIN pgflow.steps AS s ON s.flow_slug = c.flow_slug AND s.step_slug = c.step_slug
                      JOIN pgflow.flows AS f ON f.flow_slug = c.flow_slug) AS batch
             CROSS JOIN LATERAL pgflow.set_vt_batch(start_tasks.queue_name, batch.ids, batch.offsets) AS v
        ),
        checked AS (
            -- read by the final SELECT, so it always runs; a shortfall fails the statement (the
            -- text is upstream's), rolling back the claim
            SELECT CASE WHEN hidden.n = (SELECT count(*) FROM claimed) THEN hidden.n
                        ELSE format('start_tasks(): visibility updated %s of %s claimed messages',
                                    hidden.n, (SELECT count(*) FROM claimed))::int END AS n
              FROM (SELECT count(*)::int AS n FROM visibility) AS hidden
        )
        SELECT c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index, c.flow_input
          FROM claimed AS c
         CROSS JOIN checked
         WHERE checked.n >= 0
         ORDER BY c.msg_id;
END;
$$;
